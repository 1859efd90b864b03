"""Every reason an event fails its schema, found by walking the same msgspec types.

The fast path (``msgspec`` decode) stops at the first problem. For events that fail it,
this walker reports all of them with JSON paths (``edata.type: required``), using the
Struct definitions in :mod:`collector.core.events.schema` as the single source of truth.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi

from collector.core.events.schema import EIDS, EVENT_TYPES

MAX_ERRORS = 20

_TYPE_INFO: dict[str, mi.Type] = {
    eid: mi.type_info(cls) for eid, cls in EVENT_TYPES.items()
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(t: mi.Type) -> str:
    if isinstance(t, mi.StrType):
        return "string"
    if isinstance(t, mi.IntType):
        return "integer"
    if isinstance(t, mi.FloatType):
        return "number"
    if isinstance(t, mi.BoolType):
        return "boolean"
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.ListType):
        return "array"
    if isinstance(t, mi.LiteralType):
        return " or ".join(repr(v) for v in t.values)
    if isinstance(t, mi.UnionType):
        return " or ".join(dict.fromkeys(_describe(m) for m in t.types))
    return "object"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, t: mi.Type, path: str, errors: list[str]) -> None:
    where = path or "event"
    if isinstance(t, mi.AnyType):
        return
    if isinstance(t, mi.UnionType):
        for member in t.types:
            trial: list[str] = []
            _walk(value, member, path, trial)
            if not trial:
                return
        # Report the nested errors of the one member of the value's JSON kind, if any.
        same_kind = [m for m in t.types if _describe(m) == _kind(value)
                     or (isinstance(m, mi.StructType | mi.DictType) and isinstance(value, dict))]
        if len(same_kind) == 1:
            _walk(value, same_kind[0], path, errors)
        else:
            errors.append(f"{where}: expected {_describe(t)}, got {_kind(value)}")
        return
    if isinstance(t, mi.StrType):
        if not isinstance(value, str):
            errors.append(f"{where}: expected string, got {_kind(value)}")
        elif t.max_length is not None and len(value) > t.max_length:
            errors.append(f"{where}: longer than {t.max_length} characters")
        return
    if isinstance(t, mi.IntType):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{where}: expected integer, got {_kind(value)}")
        return
    if isinstance(t, mi.FloatType):
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"{where}: expected number, got {_kind(value)}")
        return
    if isinstance(t, mi.BoolType | mi.NoneType):
        if _kind(value) != _describe(t):
            errors.append(f"{where}: expected {_describe(t)}, got {_kind(value)}")
        return
    if isinstance(t, mi.LiteralType):
        if value not in t.values or isinstance(value, bool):
            errors.append(f"{where}: expected {_describe(t)}, got {value!r}"[:300])
        return
    if isinstance(t, mi.ListType):
        if not isinstance(value, list):
            errors.append(f"{where}: expected array, got {_kind(value)}")
            return
        for i, item in enumerate(value):
            _walk(item, t.item_type, f"{where}[{i}]", errors)
        return
    if isinstance(t, mi.DictType):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected object, got {_kind(value)}")
            return
        for key, item in value.items():
            _walk(item, t.value_type, _join(path, str(key)), errors)
        return
    if isinstance(t, mi.StructType):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected object, got {_kind(value)}")
            return
        for field in t.fields:
            if field.encode_name == "eid":
                continue
            if field.encode_name not in value:
                if field.required:
                    errors.append(f"{_join(path, field.encode_name)}: required")
                continue
            _walk(value[field.encode_name], field.type, _join(path, field.encode_name), errors)
        return
    errors.append(f"{where}: unsupported value")  # pragma: no cover - schema uses none else


def explain(raw: bytes) -> list[str]:
    """Return every schema error of one raw event (empty if it is schema-valid)."""
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        return ["event: nested too deeply"]
    except msgspec.DecodeError as exc:
        return [f"event: not valid JSON ({exc})"]
    return explain_value(value)


def explain_value(value: Any) -> list[str]:
    """Like :func:`explain`, for an already decoded value."""
    if not isinstance(value, dict):
        return [f"event: expected object, got {_kind(value)}"]
    eid = value.get("eid")
    if eid is None:
        errors = ["eid: required"]
    elif not isinstance(eid, str):
        errors = [f"eid: expected string, got {_kind(eid)}"]
    elif eid not in _TYPE_INFO:
        errors = [f"eid: unknown event type {eid[:64]!r}; expected one of {', '.join(EIDS)}"]
    else:
        errors = []
        _walk(value, _TYPE_INFO[eid], "", errors)
        return errors[:MAX_ERRORS]
    # Unknown eid: still report the envelope problems so the client can fix all at once.
    _walk({k: v for k, v in value.items() if k != "edata"}, _TYPE_INFO["HEARTBEAT"], "", errors)
    return errors[:MAX_ERRORS]
