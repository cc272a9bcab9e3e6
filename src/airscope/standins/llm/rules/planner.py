"""Deciding the next step toward the goal: one tool call, or the answer, by the question's shape
(bases, tables, count, search, get, aggregate, create, update, delete)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from airscope.standins.llm.rules.answers import (
    answer_aggregate,
    answer_bases,
    answer_count,
    answer_record,
    answer_search,
    answer_tables,
)
from airscope.standins.llm.rules.conversation import (
    Conversation,
    Reply,
    Result,
    TableInfo,
    ToolCall,
    known_bases,
    listed_tables,
    missed_table,
    read,
    tables_partial,
    too_large,
    tool_failure,
)
from airscope.standins.llm.rules.goal import (
    BASE_ID,
    COUNT_WORD,
    NUMBER_TYPES,
    QUOTED,
    RECORD_ID,
    TABLES_WORD,
    aggregate_op,
    as_written,
    field_values,
    intent,
    mentioned_table,
    record_limit,
    record_name,
    search_field,
    search_query,
    table_phrases,
)

# "in Airscope Load", "of Sales" (a capitalised name), not "in my base".
_NAMES_A_PLACE = re.compile(r"\b(?:in|of|from)\s+(?!my\b|the\b|this\b|our\b)[A-Z]")
HELP = (
    "I can answer questions about your Airtable data: ask me to list your bases or the tables of a base; "
    "to count, search or show the records of a table; to show, create, update or delete a record; or "
    "for the total, average, minimum or maximum of a number field."
)
MAX_TABLE_LISTS = 3  # list_tables calls per goal: the first page, then lookups by name or page


# Deciding ----------------------------------------------------------------------------------------


# The questions that may name their table straight away (the tool they call): they need nothing of
# the table's schema. A create needs the primary field; a quoted value may be a field's.
_GUESSING = {"count": "count_records", "search": "search_records"}


class _Planner:
    """The next step toward the goal, for one conversation."""

    def __init__(self, conversation: Conversation, tools: Sequence[str]) -> None:
        self.conversation = conversation
        self.tools = tools
        self.goal = conversation.goal or ""
        self.base_id = conversation.base_id

    def call(self, name: str, **arguments: Any) -> Reply:
        c = self.conversation
        if ToolCall(name, arguments) in c.calls_for_goal or (
            name != "list_tables" and c.called(name) and not c.only_guessed(name)
        ):
            # It gave nothing usable already; asking again would loop.
            return Reply(text=f"I could not find what I needed with {name}.")
        if name == "list_tables" and c.called(name) >= MAX_TABLE_LISTS:
            return Reply(text=f"I could not find what I needed with {name}.")
        if name not in self.tools:
            return Reply(text=f"I would need the {name} tool to answer that, and it is not available.")
        return Reply(tool_call=ToolCall(name, arguments))

    def base_name(self) -> str:
        # list_tables names its base too, so a chat that starts from the base id needs no list_bases.
        tables = self.conversation.latest("list_tables") or {}
        named = [tables["base"]] if isinstance(tables.get("base"), dict) else []
        for base in [*known_bases(self.conversation), *named]:
            if base.get("id") == self.base_id:
                return str(base.get("name", self.base_id))
        return self.base_id or "?"

    def reply(self, kind: str) -> Reply:
        c = self.conversation
        if kind == "bases":
            bases = c.latest("list_bases", for_goal=True)
            return self.call("list_bases") if bases is None else Reply(text=answer_bases(bases))
        if kind in ("update", "delete") and not RECORD_ID.search(self.goal):
            return Reply(
                text=f"I {kind} one record at a time: name its id (recXXXXXXXXXXXXXX) and its table."
            )
        if self.base_id is None:
            return self.call("list_bases")
        if kind == "tables":
            return self.tables()
        table = self.table(kind)
        if isinstance(table, Reply):
            return table
        return getattr(self, kind)(table)

    # Each question, once its base and table are known.

    def tables(self) -> Reply:
        query = search_query(self.goal)
        arguments: dict[str, Any] = {"base_id": self.base_id}
        if query and not TABLES_WORD.search(query.lower()):
            arguments["name_contains"] = query
        else:
            query = ""
        result = self.conversation.latest_result("list_tables", for_goal=True, **arguments)
        if result is None:
            # "the tables in Airscope Load" may name another base than the user's: list_bases tells.
            named = any(b.get("id") == self.base_id for b in known_bases(self.conversation))
            if (
                not named
                and _NAMES_A_PLACE.search(self.goal)
                and not BASE_ID.search(self.goal)
                and "list_bases" in self.tools
                and not self.conversation.called("list_bases")
            ):
                return self.call("list_bases")
            return self.call("list_tables", **arguments)
        # The answer names the base: mcp-server's list_tables does; from a server whose list lacks
        # it, the name is learnt from list_bases, once.
        if (
            self.base_name() == self.base_id
            and "list_bases" in self.tools
            and not self.conversation.called("list_bases")
        ):
            return self.call("list_bases")
        return Reply(text=answer_tables(result.value, self.base_name(), matching=query))

    def count(self, table: TableInfo) -> Reply:
        where = None
        if pairs := field_values(self.goal, table.fields):
            where = next(iter(pairs.items()))
            where = (where[0], str(where[1]))
        counted = self.conversation.latest("count_records", for_goal=True)
        if counted is not None:
            return Reply(text=answer_count(counted, str(counted.get("table") or table.name), where))
        extra = {"field": where[0], "value": where[1]} if where else {}
        return self.call("count_records", base_id=self.base_id, table=table.name, **extra)

    def search(self, table: TableInfo) -> Reply:
        limit = record_limit(self.goal)
        by_field = search_field(self.goal, table.fields)
        query = by_field[1] if by_field else search_query(self.goal)
        found = self.conversation.latest("search_records", for_goal=True)
        if found is not None:
            name = str(found.get("table") or table.name)
            return Reply(text=answer_search(found, name, query, primary=table.primary, limit=limit))
        arguments: dict[str, Any] = {"base_id": self.base_id, "table": table.name}
        if query:
            arguments["query"] = query
        if by_field:
            arguments["field"] = by_field[0]
        if limit is not None:
            arguments["max_records"] = limit
        return self.call("search_records", **arguments)

    def get(self, table: TableInfo) -> Reply:
        record_id = RECORD_ID.search(self.goal)
        assert record_id is not None
        got = self.conversation.latest("get_record", for_goal=True)
        if got is not None:
            return Reply(text=answer_record(got, table))
        return self.call("get_record", base_id=self.base_id, table=table.name, record_id=record_id.group(0))

    def aggregate(self, table: TableInfo) -> Reply:
        numeric = [name for name, kind in table.fields.items() if kind in NUMBER_TYPES]
        named = mentioned_table(self.goal, numeric)
        if named is None and len(numeric) == 1:
            named = numeric[0]
        if named is None:
            if not numeric:
                return Reply(text=f"{table.name} has no number field to add up.")
            return Reply(text=f"Which field of {table.name}? Its number fields: {', '.join(numeric)}.")
        result = self.conversation.latest("aggregate_field", for_goal=True)
        if result is not None:
            return Reply(text=answer_aggregate(result, table.name))
        op = aggregate_op(self.goal) or "sum"
        return self.call("aggregate_field", base_id=self.base_id, table=table.name, field=named, op=op)

    def create(self, table: TableInfo) -> Reply:
        created = self.conversation.latest("create_record", for_goal=True)
        if created is not None:
            return Reply(text=answer_record(created, table, "Created record"))
        fields = field_values(self.goal, table.fields)
        name = record_name(self.goal)
        if name and table.primary and table.primary not in fields:
            fields = {table.primary: name, **fields}
        if not fields:
            return Reply(
                text=f"What should the new record in {table.name} hold? Give its {table.primary or 'name'} "
                f'("named ...") or field values like {next(iter(table.fields), "Name")} "value".'
            )
        return self.call("create_record", base_id=self.base_id, table=table.name, fields=fields)

    def update(self, table: TableInfo) -> Reply:
        record_id = RECORD_ID.search(self.goal)
        assert record_id is not None
        updated = self.conversation.latest("update_record", for_goal=True)
        fields = field_values(self.goal, table.fields)
        if updated is not None:  # the fields it changed, as the record now has them
            now = updated.get("fields") if isinstance(updated.get("fields"), dict) else {}
            changed = {name: now[name] for name in fields if name in now}
            return Reply(text=answer_record({**updated, "fields": changed or now}, table, "Updated record"))
        if not fields:
            return Reply(
                text=f'Which fields of {record_id.group(0)} should change? Say them like City "Paris".'
            )
        return self.call(
            "update_record",
            base_id=self.base_id,
            table=table.name,
            record_id=record_id.group(0),
            fields=fields,
        )

    def delete(self, table: TableInfo) -> Reply:
        record_id = RECORD_ID.search(self.goal)
        assert record_id is not None
        deleted = self.conversation.latest("delete_record", for_goal=True)
        if deleted is not None:
            return Reply(text=f"Deleted record {deleted.get('id', record_id.group(0))} from {table.name}.")
        return self.call(
            "delete_record", base_id=self.base_id, table=table.name, record_id=record_id.group(0)
        )

    # The table the goal names.

    def table(self, kind: str) -> TableInfo | Reply:
        c = self.conversation
        lists = [
            r
            for r in c.results
            if r.tool == "list_tables" and r.ok and r.arguments.get("base_id", self.base_id) == self.base_id
        ]
        if not lists:
            # As a model would: try the table the question names (mcp-server finds "orders" as
            # Orders) before paying for the table list; a miss falls back to the list.
            tool = _GUESSING.get(kind)
            if tool and (hit := c.latest(tool, for_goal=True)) is not None:
                return TableInfo(str(hit.get("table", "")), None, {})
            phrases = [COUNT_WORD.sub("", p).strip() for p in table_phrases(self.goal)]
            if tool and phrases and phrases[0] and not c.called(tool) and not QUOTED.search(self.goal):
                return TableInfo(as_written(phrases[0], self.goal), None, {})
            return self.call("list_tables", base_id=self.base_id)
        known: dict[str, TableInfo] = {}
        for result in lists:
            for info in listed_tables(result.value):
                known.setdefault(info.name, info)
        if name := mentioned_table(self.goal, list(known)):
            return known[name]
        for result in reversed(lists):  # a lookup by name that found one table has found it
            phrase = str(result.arguments.get("name_contains") or "").lower()
            found = listed_tables(result.value)
            if result.for_goal and phrase and len(found) == 1 and phrase in found[0].name.lower():
                return found[0]
        pages = [r for r in lists if not r.arguments.get("name_contains")]
        first_page = next(
            (r for r in reversed(pages) if not r.arguments.get("offset")), pages[-1] if pages else lists[-1]
        )
        if not self._partial(pages):
            return Reply(text=answer_tables(first_page.value, self.base_name()) + " Which table do you mean?")
        if c.called("list_tables") < MAX_TABLE_LISTS:
            tried = {
                call.arguments.get("name_contains") for call in c.calls_for_goal if call.name == "list_tables"
            }
            for phrase in table_phrases(self.goal):
                if phrase not in tried:
                    return self.call("list_tables", base_id=self.base_id, name_contains=phrase)
            newest = pages[-1].value if pages else {}
            next_offset = newest.get("next_offset")
            if next_offset is not None:
                return self.call("list_tables", base_id=self.base_id, offset=next_offset)
        return Reply(
            text=answer_tables(first_page.value, self.base_name())
            + " I found no table named in your question among them; which table do you mean?"
        )

    @staticmethod
    def _partial(pages: list[Result]) -> bool:
        """Whether the base may have tables the unfiltered pages did not show."""
        if not pages:
            return True
        if any(not r.arguments.get("offset") and not tables_partial(r.value) for r in pages):
            return False
        names = {t.name for r in pages for t in listed_tables(r.value)}
        totals = [r.value.get("total") for r in pages if isinstance(r.value.get("total"), int)]
        return not totals or len(names) < totals[-1]


def decide(messages: Sequence[Mapping[str, Any]], tools: Sequence[str]) -> Reply:
    """The stand-in's next reply to the conversation, calling only tools named in ``tools``."""
    conversation = read(messages)
    if messages and messages[-1].get("role") == "tool" and conversation.results:
        newest = conversation.results[-1]
        guessed = missed_table(newest) and not conversation.called("list_tables")
        if not guessed and (failure := tool_failure(newest.tool, newest.value)):
            return Reply(text=failure)
        if too_large(newest.value):
            return Reply(text=f"The result of {newest.tool} was too large to show; ask a narrower question.")
    goal = conversation.goal
    kind = intent(goal) if goal else None
    if goal is None or kind is None:
        return Reply(text=HELP)
    return _Planner(conversation, tools).reply(kind)
