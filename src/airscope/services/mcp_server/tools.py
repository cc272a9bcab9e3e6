"""The MCP tools: Airtable through airtable-gateway's REST API.

Each tool answers a JSON object (sent as text content and as structured content). A failure the
caller can act on (unknown table, bad field name, airtable-gateway down) raises ``ToolError``,
which the SDK turns into an ``isError`` result carrying the message; the session goes on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
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

BaseId = Annotated[str, Field(description="Airtable base id, like appXXXXXXXXXXXXXX (see list_bases).")]
Table = Annotated[str, Field(description="Table name or table id (see list_tables).")]
RecordId = Annotated[str, Field(description="Record id, like recXXXXXXXXXXXXXX.")]
FieldName = Annotated[str, Field(description="Field (column) name, as list_tables shows it.")]
FieldValues = Annotated[dict[str, Any], Field(description="Field values by field name.")]

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

    async def list_bases(self) -> dict[str, Any]:
        """List the Airtable bases this platform can reach: id, name, permission level."""
        return await self.gateway.request("GET", "/bases")

    async def list_tables(self, base_id: BaseId) -> dict[str, Any]:
        """List the tables of a base with their fields (names and types)."""
        return await self.gateway.request("GET", f"/bases/{_segment(base_id, 'base_id')}/tables")

    async def search_records(
        self,
        base_id: BaseId,
        table: Table,
        query: Annotated[
            str, Field(description="Text to look for, case-insensitive; empty lists records.")
        ] = "",
        field: Annotated[
            str, Field(description="Only search this field; empty searches every text field.")
        ] = "",
        max_records: Annotated[int, Field(ge=1, le=100, description="At most this many records.")] = 20,
    ) -> dict[str, Any]:
        """Find records of a table whose field (or any text field) contains the query text."""
        params: dict[str, Any] = {"maxRecords": max_records}
        if query:
            fields = [field] if field else await self._text_fields(base_id, table)
            params["filterByFormula"] = _formula(search_formula, query, fields)
        return await self.gateway.request("GET", self.gateway.records_path(base_id, table), params=params)

    async def get_record(self, base_id: BaseId, table: Table, record_id: RecordId) -> dict[str, Any]:
        """Get one record by id."""
        return await self.gateway.request("GET", self.gateway.records_path(base_id, table, record_id))

    async def create_record(self, base_id: BaseId, table: Table, fields: FieldValues) -> dict[str, Any]:
        """Create a record with the given field values; answers the new record with its id."""
        created = await self.gateway.request(
            "POST", self.gateway.records_path(base_id, table), json={"records": [{"fields": fields}]}
        )
        return created["records"][0]

    async def update_record(
        self, base_id: BaseId, table: Table, record_id: RecordId, fields: FieldValues
    ) -> dict[str, Any]:
        """Change the given fields of a record (others stay as they are); answers the record."""
        return await self.gateway.request(
            "PATCH", self.gateway.records_path(base_id, table, record_id), json={"fields": fields}
        )

    async def delete_record(self, base_id: BaseId, table: Table, record_id: RecordId) -> dict[str, Any]:
        """Delete a record by id."""
        return await self.gateway.request("DELETE", self.gateway.records_path(base_id, table, record_id))

    async def count_records(
        self,
        base_id: BaseId,
        table: Table,
        field: Annotated[str, Field(description="Only count records where this field equals value.")] = "",
        value: Annotated[str, Field(description="The value the field must equal.")] = "",
    ) -> dict[str, Any]:
        """Count the records of a table, or those whose field equals a value."""
        params: dict[str, Any] = {"maxRecords": MAX_SCANNED_RECORDS}
        if field:
            params["filterByFormula"] = _formula(equals_formula, field, value)
            params["fields"] = [field]
        elif value:
            raise ToolError("value needs a field to compare it with")
        records = await self._records(base_id, table, params)
        return {"count": len(records), "capped": len(records) >= MAX_SCANNED_RECORDS}

    async def aggregate_field(
        self,
        base_id: BaseId,
        table: Table,
        field: FieldName,
        op: Annotated[Literal["sum", "avg", "min", "max"], Field(description="The aggregate to compute.")],
    ) -> dict[str, Any]:
        """Sum, average, minimum or maximum of a numeric field over a table's records."""
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
        aggregates = {
            "sum": sum,
            "avg": lambda values: sum(values) / len(values),
            "min": min,
            "max": max,
        }
        return {
            "field": field,
            "op": op,
            "value": aggregates[op](numbers),
            "values": len(numbers),
            "capped": len(records) >= MAX_SCANNED_RECORDS,
        }

    async def _records(self, base_id: str, table: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        page = await self.gateway.request("GET", self.gateway.records_path(base_id, table), params=params)
        return page["records"]

    async def _text_fields(self, base_id: str, table: str) -> list[str]:
        tables = (await self.list_tables(base_id))["tables"]
        found = next((t for t in tables if table in (t.get("id"), t.get("name"))), None)
        if found is None:
            names = ", ".join(t.get("name", "?") for t in tables)
            raise ToolError(f"table {table!r} not found in base {base_id}; its tables: {names}")
        fields = [f["name"] for f in found.get("fields", []) if f.get("type") in TEXT_FIELD_TYPES]
        if not fields:
            raise ToolError(f"table {table!r} has no text field to search; name a field")
        return fields
