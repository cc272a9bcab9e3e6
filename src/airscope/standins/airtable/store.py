"""The stand-in's data in SQLite: bases, tables and fields (seeded, then grown and renamed through the
meta API; Airtable has no API that deletes a table, so neither has the stand-in) and records.

One connection shared by every request, guarded by a lock: the app's route handlers run in
threads, and SQLite serialises writers anyway. Record fields are kept as JSON keyed by field name,
in the table's field order, with blank values left out (as Airtable answers them).

Field options are answered as Airtable answers them, whatever a table was created with
(``field_options``): single-select choices with an ``id`` (``sel...``) and a ``color``, numbers and
percents with a ``precision``, currencies with a ``precision`` and a ``symbol``, dates with a
``dateFormat`` of both ``name`` and ``format``, checkboxes with a ``color`` and an ``icon``. Every
table has one view, "Grid view" (``viw...``, type ``grid``), showing every field and every record.

The data model (IDs, field options, views) is in ``model``. ``grow`` adds many tables of generated
records in one transaction (the admin endpoint behind drills and load tests); ``add_choices`` is what ``typecast`` does with a single-select value it does not know.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airscope.standins.airtable import seed
from airscope.standins.airtable.model import (
    Base,
    Field,
    FieldNameTaken,
    NewField,
    Record,
    Table,
    TableNameTaken,
    new_id,
    stable_id,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bases (id TEXT PRIMARY KEY, name TEXT NOT NULL, permission_level TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tables (
    id TEXT PRIMARY KEY, base_id TEXT NOT NULL REFERENCES bases(id), name TEXT NOT NULL, position INTEGER NOT NULL,
    description TEXT
);
CREATE TABLE IF NOT EXISTS fields (
    id TEXT PRIMARY KEY, table_id TEXT NOT NULL REFERENCES tables(id), name TEXT NOT NULL, type TEXT NOT NULL,
    options TEXT, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, table_id TEXT NOT NULL REFERENCES tables(id),
    created_time TEXT NOT NULL, fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_table ON records (table_id, seq);
"""


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _options_json(field: Field) -> str | None:
    return None if field.options is None else json.dumps(field.options)


def _new_table(base_id: str, name: str, description: str | None, fields: Iterable[NewField]) -> Table:
    """A table with new IDs; the first field is its primary field."""
    made = tuple(Field.made(new_id("fld"), f.name, f.type, f.options) for f in fields)
    return Table(new_id("tbl"), base_id, name, made, description)


def _ordered(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: values[f.name] for f in table.fields if values.get(f.name) not in (None, "", [])}


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
            self._add_description_column()
            self._seed_missing()
        self._bases, self._tables = self._load_schema()

    def close(self) -> None:
        self._db.close()

    def _add_description_column(self) -> None:
        # Files made before tables could be created lack the column; CREATE TABLE IF NOT EXISTS keeps them.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(tables)")}
        if "description" not in columns:
            self._db.execute("ALTER TABLE tables ADD COLUMN description TEXT")

    def _seed_missing(self) -> None:
        # Every seed base this file lacks: all of them when it is new, the newer ones in an older file.
        present = {row[0] for row in self._db.execute("SELECT id FROM bases")}
        for spec in seed.BASES:
            if spec.id not in present:
                self._seed(spec)

    def _seed(self, base: seed.SeedBase) -> None:
        base_id = base.id
        self._db.execute("INSERT INTO bases VALUES (?, ?, 'create')", (base_id, base.name))
        created = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        for t_pos, spec in enumerate(base.tables):
            table_id = stable_id("tbl", f"{base_id}/{spec.name}")
            self._db.execute(
                "INSERT INTO tables (id, base_id, name, position) VALUES (?, ?, ?, ?)",
                (table_id, base_id, spec.name, t_pos),
            )
            fields = []
            for f_pos, field in enumerate(spec.fields):
                made = Field.made(
                    stable_id("fld", f"{table_id}/{field.name}"), field.name, field.type, field.options
                )
                self._db.execute(
                    "INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)",
                    (made.id, table_id, made.name, made.type, _options_json(made), f_pos),
                )
                fields.append(made)
            table = Table(table_id, base_id, spec.name, tuple(fields))
            for r_pos, row in enumerate(spec.rows):
                self._db.execute(
                    "INSERT INTO records (id, table_id, created_time, fields) VALUES (?, ?, ?, ?)",
                    (
                        stable_id("rec", f"{table_id}/{r_pos}"),
                        table_id,
                        _timestamp(created + timedelta(hours=r_pos, minutes=t_pos)),
                        json.dumps(_ordered(table, row)),
                    ),
                )

    def _load_schema(self) -> tuple[list[Base], dict[str, list[Table]]]:
        with self._lock:
            bases = [
                Base(*row)
                for row in self._db.execute("SELECT id, name, permission_level FROM bases ORDER BY rowid")
            ]
            field_rows = self._db.execute(
                "SELECT table_id, id, name, type, options FROM fields ORDER BY position"
            ).fetchall()
            table_rows = self._db.execute(
                "SELECT id, base_id, name, description FROM tables ORDER BY position"
            ).fetchall()
        fields_by_table: dict[str, list[Field]] = {}
        for tid, fid, fname, ftype, options in field_rows:
            made = Field.made(fid, fname, ftype, None if options is None else json.loads(options))
            fields_by_table.setdefault(tid, []).append(made)
        tables: dict[str, list[Table]] = {base.id: [] for base in bases}
        for table_id, base_id, name, description in table_rows:
            fields = tuple(fields_by_table.get(table_id, []))
            tables[base_id].append(Table(table_id, base_id, name, fields, description))
        return bases, tables

    # Schema: read from memory, changed only through create_table and update_table (under the lock).

    def bases(self) -> list[Base]:
        return list(self._bases)

    def has_base(self, base_id: str) -> bool:
        return base_id in self._tables

    def tables(self, base_id: str) -> list[Table]:
        return list(self._tables.get(base_id, []))

    def table(self, base_id: str, id_or_name: str) -> Table | None:
        tables = self._tables.get(base_id, [])
        return next((t for t in tables if t.id == id_or_name), None) or next(
            (t for t in tables if t.name == id_or_name), None
        )

    def _check_name_free(self, base_id: str, name: str, table_id: str | None = None) -> None:
        # Airtable's table names are unique within a base, ignoring case. Checked under the lock, so
        # two requests racing for one name cannot both win.
        for table in self._tables.get(base_id, []):
            if table.name.lower() == name.lower() and table.id != table_id:
                raise TableNameTaken(name)

    def create_table(self, base_id: str, name: str, description: str | None, fields: list[NewField]) -> Table:
        """A new table at the end of the base; the first field is its primary field."""
        table = _new_table(base_id, name, description, fields)
        with self._lock, self._db:
            self._check_name_free(base_id, name)
            self._insert_table(table)
            self._tables[base_id] = [*self._tables[base_id], table]
        return table

    def _insert_table(self, table: Table) -> None:
        """Under the lock, in a transaction: the table at the end of its base, and its fields."""
        self._db.execute(
            "INSERT INTO tables (id, base_id, name, position, description) VALUES (?, ?, ?, ?, ?)",
            (table.id, table.base_id, table.name, len(self._tables[table.base_id]), table.description),
        )
        self._db.executemany(
            "INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)",
            [(f.id, table.id, f.name, f.type, _options_json(f), i) for i, f in enumerate(table.fields)],
        )

    def add_field(self, table: Table, field: NewField) -> Field:
        """A new field at the end of the table (names unique within a table, ignoring case)."""
        made = Field.made(new_id("fld"), field.name, field.type, field.options)
        with self._lock, self._db:
            current = next(t for t in self._tables[table.base_id] if t.id == table.id)
            if any(f.name.lower() == made.name.lower() for f in current.fields):
                raise FieldNameTaken(made.name)
            self._db.execute(
                "INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)",
                (made.id, table.id, made.name, made.type, _options_json(made), len(current.fields)),
            )
            changed = replace(current, fields=(*current.fields, made))
            self._tables[table.base_id] = [
                changed if t.id == table.id else t for t in self._tables[table.base_id]
            ]
        return made

    def add_choices(self, table: Table, field_name: str, names: Iterable[str]) -> Table:
        """Adds single-select choices the field lacks (what Airtable's ``typecast`` does); the table
        as it is now."""
        with self._lock, self._db:
            current = next(t for t in self._tables[table.base_id] if t.id == table.id)
            field = current.field(field_name)
            if field is None or field.type != "singleSelect":
                return current
            known = field.choice_names()
            new = [name for name in dict.fromkeys(names) if name not in known]
            if not new:
                return current
            choices = [*(field.options or {}).get("choices", []), *({"name": name} for name in new)]
            changed_field = Field.made(
                field.id, field.name, field.type, {**(field.options or {}), "choices": choices}
            )
            self._db.execute(
                "UPDATE fields SET options = ? WHERE id = ?", (_options_json(changed_field), field.id)
            )
            changed = replace(
                current, fields=tuple(changed_field if f.id == field.id else f for f in current.fields)
            )
            self._tables[table.base_id] = [
                changed if t.id == table.id else t for t in self._tables[table.base_id]
            ]
        return changed

    def grow(self, base_id: str, tables: int, records_per_table: int) -> tuple[int, int, int]:
        """Adds the tables "Grown 001" to "Grown <tables>" that the base lacks (a taken name is skipped),
        each with ``records_per_table`` generated records, in one transaction.

        Answers (tables created, records created, tables in the base now).
        """
        now = _timestamp(datetime.now(UTC))
        with self._lock, self._db:
            taken = {t.name.lower() for t in self._tables[base_id]}
            made: list[Table] = []
            rows: list[tuple[str, str, str, str]] = []
            for number in range(1, tables + 1):
                name = seed.grown_table_name(number)
                if name.lower() in taken:
                    continue
                table = _new_table(base_id, name, None, seed.GROWN_FIELDS)
                self._insert_table(table)
                self._tables[base_id] = [*self._tables[base_id], table]
                made.append(table)
                rows += [
                    (new_id("rec"), table.id, now, json.dumps(_ordered(table, seed.grown_row(number, row))))
                    for row in range(1, records_per_table + 1)
                ]
            self._db.executemany(
                "INSERT INTO records (id, table_id, created_time, fields) VALUES (?, ?, ?, ?)", rows
            )
            return len(made), len(rows), len(self._tables[base_id])

    def update_table(self, table: Table, name: str | None, description: str | None) -> Table:
        """Renames and/or re-describes the table; None leaves that property as it is. Renaming a table
        to its own name is no change, not a conflict."""
        with self._lock, self._db:
            current = next(t for t in self._tables[table.base_id] if t.id == table.id)
            changed = replace(
                current,
                name=current.name if name is None else name,
                description=current.description if description is None else description,
            )
            self._check_name_free(table.base_id, changed.name, table.id)
            self._db.execute(
                "UPDATE tables SET name = ?, description = ? WHERE id = ?",
                (changed.name, changed.description, table.id),
            )
            self._tables[table.base_id] = [
                changed if t.id == table.id else t for t in self._tables[table.base_id]
            ]
        return changed

    # Records.

    def records(self, table: Table) -> list[Record]:
        """Every record of the table, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created_time, fields FROM records WHERE table_id = ? ORDER BY seq", (table.id,)
            ).fetchall()
        return [Record(rid, created, json.loads(fields)) for rid, created, fields in rows]

    def record(self, table: Table, record_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, created_time, fields FROM records WHERE table_id = ? AND id = ?",
                (table.id, record_id),
            ).fetchone()
        return None if row is None else Record(row[0], row[1], json.loads(row[2]))

    def missing(self, table: Table, record_ids: Iterable[str]) -> list[str]:
        """The IDs among ``record_ids`` that are not records of the table."""
        ids = list(record_ids)
        with self._lock:
            found = {
                row[0]
                for row in self._db.execute(
                    f"SELECT id FROM records WHERE table_id = ? AND id IN ({','.join('?' * len(ids))})",
                    (table.id, *ids),
                )
            }
        return [rid for rid in ids if rid not in found]

    def create(self, table: Table, field_sets: list[dict[str, Any]]) -> list[Record]:
        now = _timestamp(datetime.now(UTC))
        records = [Record(new_id("rec"), now, _ordered(table, fields)) for fields in field_sets]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO records (id, table_id, created_time, fields) VALUES (?, ?, ?, ?)",
                [(r.id, table.id, r.created_time, json.dumps(r.fields)) for r in records],
            )
        return records

    def update(
        self, table: Table, changes: list[tuple[str, dict[str, Any]]], *, replace: bool
    ) -> list[Record]:
        """Merges (or, with ``replace``, sets) each record's fields, all in one transaction.

        The caller has checked that every ID exists (``missing``); a record deleted in between is skipped.
        """
        updated = []
        with self._lock, self._db:
            for record_id, fields in changes:
                row = self._db.execute(
                    "SELECT created_time, fields FROM records WHERE table_id = ? AND id = ?",
                    (table.id, record_id),
                ).fetchone()
                if row is None:
                    continue
                merged = fields if replace else {**json.loads(row[1]), **fields}
                record = Record(record_id, row[0], _ordered(table, merged))
                self._db.execute(
                    "UPDATE records SET fields = ? WHERE id = ?", (json.dumps(record.fields), record_id)
                )
                updated.append(record)
        return updated

    def delete(self, table: Table, record_ids: list[str]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM records WHERE table_id = ? AND id = ?", [(table.id, rid) for rid in record_ids]
            )
