"""A small JSON-Schema checker for the parts of OpenAPI 3.1 that FastAPI emits for the report contract.

Small on purpose (no new dependency): $ref, type, properties, required, additionalProperties, enum/const,
anyOf/oneOf/allOf, items, length and range limits, pattern, and the uuid and date-time formats.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def problems(value: Any, schema: dict[str, Any], spec: dict[str, Any], where: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as 'path: reason'; empty when it conforms."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return problems(
            value, {**spec["components"]["schemas"][name], **_without(schema, "$ref")}, spec, where
        )
    found: list[str] = []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passing = [s for s in schema[key] if not problems(value, s, spec, where)]
            if not passing:
                found.append(f"{where}: matches none of {key}")
    for sub in schema.get("allOf", []):
        found += problems(value, sub, spec, where)
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in {schema['enum']}")
    kind = schema.get("type")
    if kind is not None and not _is_type(value, kind):
        return [*found, f"{where}: expected {kind}, got {type(value).__name__}"]
    if isinstance(value, dict):
        found += _object(value, schema, spec, where)
    elif isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)) or len(value) < schema.get("minItems", 0):
            found.append(f"{where}: {len(value)} items outside the limits")
        for n, item in enumerate(value):
            found += problems(item, schema.get("items", {}), spec, f"{where}[{n}]")
    elif isinstance(value, str):
        found += _string(value, schema, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: above {schema['maximum']}")
    return found


def _is_type(value: Any, kind: str | list[str]) -> bool:
    if isinstance(kind, list):
        return any(_is_type(value, k) for k in kind)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, TYPES[kind])


def _object(value: dict[str, Any], schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    found = [f"{where}.{name}: required" for name in schema.get("required", []) if name not in value]
    properties = schema.get("properties", {})
    for name, item in value.items():
        if name in properties:
            found += problems(item, properties[name], spec, f"{where}.{name}")
        elif schema.get("additionalProperties") is False:
            found.append(f"{where}.{name}: not allowed")
    return found


def _string(value: str, schema: dict[str, Any], where: str) -> list[str]:
    found = []
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
        found.append(f"{where}: length {len(value)} outside the limits")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: does not match {schema['pattern']}")
    fmt = schema.get("format")
    try:
        if fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "date-time" and datetime.fromisoformat(value).tzinfo is None:
            found.append(f"{where}: date-time without a time zone")
    except ValueError:
        found.append(f"{where}: not a valid {fmt}")
    return found


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}
