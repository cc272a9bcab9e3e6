"""Spans to one OTLP/JSON ExportTraceServiceRequest line, straight from the SDK's ReadableSpans.

The same document as the SDK's OTLP/JSON encoder (opentelemetry-exporter-otlp-json-common; a test
compares the two span by span), built as plain dicts and lists and written by orjson: about a tenth
of the SDK's cost, which goes through a generated message object per field and ``to_dict()``. The
file exporter runs in the batch processor's thread, on the same core as the event loop and under
the same GIL: each microsecond spent there is one taken from the requests.

The proto3 JSON mapping: ids as lowercase hex, 64-bit integers as strings, enums as numbers, fields
at their default value left out (but a set member of a oneof, such as ``stringValue: ""``, kept).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

# SpanFlags: the parent's is_remote is known (bit 8), and it was remote (bit 9).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def encode_line(spans: Sequence[ReadableSpan]) -> bytes:
    """One ExportTraceServiceRequest with ``spans`` grouped by resource and scope, and a newline."""
    # Grouped by identity: a Resource hashes by dumping its attributes to JSON, at every lookup.
    grouped: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[dict]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        scopes = grouped.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(_span(span))
    request = {
        "resourceSpans": [
            _with_schema(
                {
                    "resource": _resource(resource),
                    "scopeSpans": [
                        _with_schema({"scope": _scope(scope), "spans": encoded}, scope and scope.schema_url)
                        for scope, encoded in scopes.values()
                    ],
                },
                resource.schema_url,
            )
            for resource, scopes in grouped.values()
        ]
    }
    return orjson.dumps(request, option=orjson.OPT_APPEND_NEWLINE)


def _with_schema(message: dict, schema_url: str | None) -> dict:
    if schema_url:
        message["schemaUrl"] = schema_url
    return message


# A process has one resource: its attributes are encoded once, not once per batch.
_resource_cache: tuple[Resource | None, dict] = (None, {})


def _resource(resource: Resource) -> dict:
    global _resource_cache
    cached, encoded = _resource_cache
    if cached is not resource:
        encoded = _omit_empty({"attributes": _attributes(resource.attributes)})
        _resource_cache = (resource, encoded)
    return encoded


def _scope(scope: InstrumentationScope | None) -> dict:
    if scope is None:
        return {}
    return _omit_empty(
        {"name": scope.name, "version": scope.version, "attributes": _attributes(scope.attributes)}
    )


def _omit_empty(message: dict) -> dict:
    return {key: value for key, value in message.items() if value}


def _span(span: ReadableSpan) -> dict:
    context: SpanContext = span.context
    encoded: dict = {"traceId": format(context.trace_id, "032x"), "spanId": format(context.span_id, "016x")}
    if context.trace_state:
        encoded["traceState"] = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
    parent = span.parent
    flags = _HAS_IS_REMOTE
    if parent is not None:
        encoded["parentSpanId"] = format(parent.span_id, "016x")
        if parent.is_remote:
            flags |= _IS_REMOTE
    if span.name:
        encoded["name"] = span.name
    # The API's SpanKind counts from INTERNAL = 0, OTLP's from SPAN_KIND_INTERNAL = 1.
    encoded["kind"] = span.kind.value + 1
    if span.start_time:
        encoded["startTimeUnixNano"] = str(span.start_time)
    if span.end_time:
        encoded["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        encoded["attributes"] = _attributes(span.attributes)
    if span.dropped_attributes:
        encoded["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        encoded["events"] = [_event(event) for event in span.events]
    if span.dropped_events:
        encoded["droppedEventsCount"] = span.dropped_events
    if span.links:
        encoded["links"] = [_link(link) for link in span.links]
    if span.dropped_links:
        encoded["droppedLinksCount"] = span.dropped_links
    status = span.status
    if status is not None:
        encoded["status"] = _omit_empty({"code": status.status_code.value, "message": status.description})
    encoded["flags"] = flags
    return encoded


def _event(event) -> dict:
    encoded = _omit_empty({"name": event.name, "attributes": _attributes(event.attributes)})
    if event.timestamp:
        encoded["timeUnixNano"] = str(event.timestamp)
    if event.dropped_attributes:
        encoded["droppedAttributesCount"] = event.dropped_attributes
    return encoded


def _link(link) -> dict:
    context = link.context
    encoded = {"traceId": format(context.trace_id, "032x"), "spanId": format(context.span_id, "016x")}
    if link.attributes:
        encoded["attributes"] = _attributes(link.attributes)
    if link.dropped_attributes:
        encoded["droppedAttributesCount"] = link.dropped_attributes
    encoded["flags"] = _HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0)
    return encoded


def _attributes(attributes: Mapping | None) -> list[dict]:
    if not attributes:
        return []
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


def _value(value: object) -> dict:
    # Ordered as the SDK's encoder tests them: bool before int, str and bytes before Sequence.
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {"doubleValue": _NON_FINITE.get(value, "NaN")}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Sequence):
        return {"arrayValue": _omit_empty({"values": [_value(item) for item in value]})}
    if isinstance(value, Mapping):
        return {
            "kvlistValue": _omit_empty(
                {"values": [{"key": str(key), "value": _value(item)} for key, item in value.items()]}
            )
        }
    raise TypeError(f"an attribute value cannot be {type(value).__name__}")
