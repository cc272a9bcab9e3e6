"""The MCP tools: Airtable through airtable-gateway's REST API.

Each tool answers a JSON object, as structured content and as its compact JSON in a text block (the
SDK's default text is indented JSON, mostly whitespace that a model pays for in tokens). Answers hold
what a model needs to answer, not all Airtable says: a table is its id, name, primary field and field
names and types (no field options); a record its id and fields. Lists that grow with the base are
paged (``list_tables``: ``total`` and ``next_offset``) or bounded (``search_records``: ``more``).

A failure the caller can act on (unknown table, bad field name, airtable-gateway down) raises
``ToolError``, which the SDK turns into an ``isError`` result carrying the message; the session goes on.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from airscope.services.mcp_server.formula import FormulaError, equals_formula, search_formula
from airscope.telemetry import get_logger

log = get_logger(__name__)

TOOL_NAMES = (
    "list_bases",
    "list_tables",
    "search_records",
    "get_record",
    "create_record",
    "update_record",
    "delete_record",
    "count_records",
    "aggregate_field",
)

# Field types whose values are text that SEARCH can look into, when no field is named.
TEXT_FIELD_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber", "singleSelect"}
)
# airtable-gateway's ceiling for maxRecords: as many records as count and aggregate look at.
MAX_SCANNED_RECORDS = 1000
# Tables per list_tables page: about 1,000 tokens of a model's context for tables of a few fields.
TABLES_PER_PAGE = 20

# Descriptions are short: every tool's schema goes into every completion of a chat, in tokens.
BaseId = Annotated[str, Field(description="Base id (app...).")]
Table = Annotated[str, Field(description="Table name (any case) or id.")]
RecordId = Annotated[str, Field(description="Record id (rec...).")]
FieldName = Annotated[str, Field(description="Field name.")]
FieldValues = Annotated[dict[str, Any], Field(description="Values by field name.")]
# Declared as the tools' result type: the SDK advertises it as the output schema and checks the
# structured content against it, while the tool writes the text block itself (compact JSON).
Answer = Annotated[CallToolResult, dict[str, Any]]

# Hints for clients that confirm before a change; every tool not listed only reads.
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
ANNOTATIONS = {
    "create_record": ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    "update_record": ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    "delete_record": ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False),
}


def _segment(value: str, what: str) -> str:
    """``value`` as one URL path segment; "." and ".." would be folded into the path, so refused."""
    if value.strip() in ("", ".", ".."):
        raise ToolError(f"{what} must not be empty or a dot path")
    return quote(value, safe="")


class AirtableGateway:
    """airtable-gateway's REST API over one shared HTTP client; its errors become ``ToolError``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self, method: str, path: str, *, params: Any = None, json: Any = None
    ) -> dict[str, Any]:
        try:
            response = await self.client.request(method, path, params=params, json=json)
        except httpx.TimeoutException:
            log.warning("airtable-gateway timed out", method=method)
            raise ToolError("airtable-gateway did not answer in time; try again later") from None
        except httpx.TransportError as exc:
            log.warning("airtable-gateway unreachable", method=method, reason=repr(exc))
            raise ToolError("airtable-gateway is unreachable; try again later") from None
        if response.is_success:
            return response.json()
        raise ToolError(_error_message(response))

    @staticmethod
    def records_path(base_id: str, table: str, record_id: str | None = None) -> str:
        path = f"/bases/{_segment(base_id, 'base_id')}/tables/{_segment(table, 'table')}/records"
        return path if record_id is None else f"{path}/{_segment(record_id, 'record_id')}"


def _error_message(response: httpx.Response) -> str:
    """The gateway's ``{"error", "message"}`` as one sentence for a model or a person to act on."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"{body['message']} (airtable-gateway: {response.status_code} {body.get('error', 'error')})"
    return f"airtable-gateway answered {response.status_code}"


def answer(data: dict[str, Any]) -> CallToolResult:
    """``data`` as structured content and as compact JSON text, what a model reads."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def table_summary(table: dict[str, Any]) -> dict[str, Any]:
    """What a model needs of a table's schema: no field ids, options or descriptions."""
    fields = table.get("fields", [])
    primary = next((f for f in fields if f.get("id") == table.get("primaryFieldId")), None)
    primary = primary or (fields[0] if fields else {})
    return {
        "id": table.get("id"),
        "name": table.get("name"),
        "primary_field": primary.get("name"),
        "fields": {f.get("name"): f.get("type") for f in fields},
    }


def record_summary(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its createdTime."""
    return {"id": record.get("id"), "fields": record.get("fields", {})}


def _formula(build, *args: Any) -> str:
    try:
        return build(*args)
    except FormulaError as exc:
        raise ToolError(str(exc)) from None


class AirtableTools:
    """The tools of the contract; ``register`` adds them to an MCP server."""

    def __init__(self, gateway: AirtableGateway) -> None:
        self.gateway = gateway

    def register(self, server: MCPServer) -> None:
        for name in TOOL_NAMES:
            server.add_tool(getattr(self, name), annotations=ANNOTATIONS.get(name, READ_ONLY))

    async def list_bases(self) -> Answer:
        """The Airtable bases this platform can reach: id and name."""
        return answer({"bases": [{"id": b.get("id"), "name": b.get("name")} for b in await self._bases()]})

    async def list_tables(
        self,
        base_id: BaseId,
        name_contains: Annotated[str, Field(description="Only names containing this.")] = "",
        offset: Annotated[int, Field(ge=0, description="A next_offset.")] = 0,
    ) -> Answer:
        """A base (id, name) and its tables (id, name, primary field, fields), 20 a page; next_offset if more."""
        tables = await self._tables(base_id)
        base = next((b for b in await self._bases() if b.get("id") == base_id), {"id": base_id})
        if name_contains:
            tables = [t for t in tables if name_contains.lower() in str(t.get("name", "")).lower()]
        page = tables[offset : offset + TABLES_PER_PAGE]
        data: dict[str, Any] = {
            "base": {"id": base_id, "name": base.get("name", base_id)},
            "tables": [table_summary(t) for t in page],
            "total": len(tables),
        }
        if offset + TABLES_PER_PAGE < len(tables):
            data["next_offset"] = offset + TABLES_PER_PAGE
        return answer(data)

    async def search_records(
        self,
        base_id: BaseId,
        table: Table,
        query: Annotated[str, Field(description="Text to find; empty lists records.")] = "",
        field: Annotated[str, Field(description="Only search this field.")] = "",
        fields: Annotated[list[str], Field(description="Only return these fields.")] = [],  # noqa: B006 - the SDK validates a fresh copy per call; it is never mutated
        max_records: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> Answer:
        """Records whose field (or any text field) contains the query; more: more matched."""
        # One record more than asked tells whether more matched, without counting them all.
        found = await self._table(base_id, table)
        params: dict[str, Any] = {"maxRecords": max_records + 1}
        if query:
            searched = [field] if field else self._text_fields(found)
            params["filterByFormula"] = _formula(search_formula, query, searched)
        if fields:
            params["fields"] = fields
        records = await self._records(base_id, found["name"], params)
        return answer(
            {
                "table": found["name"],
                "records": [record_summary(r) for r in records[:max_records]],
                "more": len(records) > max_records,
            }
        )

    async def get_record(self, base_id: BaseId, table: Table, record_id: RecordId) -> Answer:
        """Get one record by id."""
        table = (await self._table(base_id, table))["name"]
        record = await self.gateway.request("GET", self.gateway.records_path(base_id, table, record_id))
        return answer(record_summary(record))

    async def create_record(self, base_id: BaseId, table: Table, fields: FieldValues) -> Answer:
        """Create a record; answers it with its id."""
        table = (await self._table(base_id, table))["name"]
        created = await self.gateway.request(
            "POST", self.gateway.records_path(base_id, table), json={"records": [{"fields": fields}]}
        )
        return answer(record_summary(created["records"][0]))

    async def update_record(
        self, base_id: BaseId, table: Table, record_id: RecordId, fields: FieldValues
    ) -> Answer:
        """Change the given fields of a record; answers the record."""
        table = (await self._table(base_id, table))["name"]
        updated = await self.gateway.request(
            "PATCH", self.gateway.records_path(base_id, table, record_id), json={"fields": fields}
        )
        return answer(record_summary(updated))

    async def delete_record(self, base_id: BaseId, table: Table, record_id: RecordId) -> Answer:
        """Delete a record by id."""
        table = (await self._table(base_id, table))["name"]
        deleted = await self.gateway.request("DELETE", self.gateway.records_path(base_id, table, record_id))
        return answer({"id": deleted.get("id", record_id), "deleted": bool(deleted.get("deleted", True))})

    async def count_records(
        self,
        base_id: BaseId,
        table: Table,
        field: Annotated[str, Field(description="Only count where this field equals value.")] = "",
        value: str = "",
    ) -> Answer:
        """Count a table's records (where field equals value); capped: at least count."""
        table = (await self._table(base_id, table))["name"]
        params: dict[str, Any] = {"maxRecords": MAX_SCANNED_RECORDS}
        if field:
            params["filterByFormula"] = _formula(equals_formula, field, value)
            params["fields"] = [field]
        elif value:
            raise ToolError("value needs a field to compare it with")
        records = await self._records(base_id, table, params)
        return answer({"table": table, "count": len(records), "capped": len(records) >= MAX_SCANNED_RECORDS})

    async def aggregate_field(
        self,
        base_id: BaseId,
        table: Table,
        field: FieldName,
        op: Literal["sum", "avg", "min", "max"],
    ) -> Answer:
        """Sum, average, minimum or maximum of a numeric field."""
        table = (await self._table(base_id, table))["name"]
        params = {"maxRecords": MAX_SCANNED_RECORDS, "fields": [field]}
        records = await self._records(base_id, table, params)
        numbers = [
            value
            for record in records
            if isinstance(value := record.get("fields", {}).get(field), int | float)
            and not isinstance(value, bool)
        ]
        if not numbers:
            raise ToolError(f"field {field!r} has no numeric values in table {table!r}")
        # fsum: a float sum that does not depend on the records' order, so one question gets one answer.
        aggregates = {
            "sum": math.fsum,
            "avg": lambda values: math.fsum(values) / len(values),
            "min": min,
            "max": max,
        }
        return answer(
            {
                "table": table,
                "field": field,
                "op": op,
                "value": aggregates[op](numbers),
                "values": len(numbers),
                "capped": len(records) >= MAX_SCANNED_RECORDS,
            }
        )

    async def _records(self, base_id: str, table: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        page = await self.gateway.request("GET", self.gateway.records_path(base_id, table), params=params)
        return page["records"]

    async def _bases(self) -> list[dict[str, Any]]:
        return (await self.gateway.request("GET", "/bases"))["bases"]

    async def _tables(self, base_id: str) -> list[dict[str, Any]]:
        return (await self.gateway.request("GET", f"/bases/{_segment(base_id, 'base_id')}/tables"))["tables"]

    async def _table(self, base_id: str, table: str) -> dict[str, Any]:
        """The table ``table`` names: its id or name, else its name in another case or number
        ("customers", "Customer"), as a person or a model writes it; else an error naming the likeliest."""
        tables = await self._tables(base_id)
        wanted = table.strip().lower()
        forms = {wanted, wanted.removesuffix("s"), wanted + "s"}
        found = (
            next((t for t in tables if table in (t.get("id"), t.get("name"))), None)
            or next((t for t in tables if str(t.get("name", "")).lower() == wanted), None)
            or next((t for t in tables if str(t.get("name", "")).lower() in forms), None)
        )
        if found is None:
            # A base may have hundreds of tables: name the likeliest, not all of them.
            names = [str(t.get("name", "?")) for t in tables]
            likely = difflib.get_close_matches(table, names, n=5, cutoff=0.4) or names[:5]
            raise ToolError(
                f"table {table!r} not found in base {base_id} ({len(names)} tables; "
                f"closest: {', '.join(likely)}); list_tables with name_contains finds one"
            )
        return found

    @staticmethod
    def _text_fields(table: dict[str, Any]) -> list[str]:
        fields = [f["name"] for f in table.get("fields", []) if f.get("type") in TEXT_FIELD_TYPES]
        if not fields:
            raise ToolError(f"table {table.get('name')!r} has no text field to search; name a field")
        return fields
