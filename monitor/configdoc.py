"""docs/configuration.md, generated from the configuration models so it cannot drift.

`python -m monitor.configdoc > docs/configuration.md`; a test compares the two.
"""

from __future__ import annotations

import enum
import re
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from alerts.config import HallConfig

_IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

_HEAD = """# Configuration reference

One TOML file per hall: `hallwatch run --config FILE`; without `--config`, the file named by
`$HALLWATCH_CONFIG`, else `/etc/hallwatch/hall.toml`. `hallwatch check-config FILE` lists every
problem with its key path and exits 78 (EX_CONFIG, hallkit/exits.py). Unknown keys are
errors (a typo never silently falls back to a default). `config/hall.example.toml` is a
complete, realistic hall; the demo runs on it. SIGHUP reloads the file; a broken file is
refused and the running one kept; the hall id and the data directory cannot change without
a restart.

An `id` is 1–64 letters, digits, `_`, `.` or `-`, starting with a letter or digit (it
appears in MQTT topics). Times of day are TOML local times (`08:30:00`) in the hall's zone.

This page is generated from `alerts/config.py` (`python -m monitor.configdoc`); a test keeps
it equal to the code.
"""


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `M`, `M | None` or `list[M]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
        list,
    ):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _type_name(annotation: Any, info: FieldInfo | None = None) -> str:
    if info is not None and _is_ident(info):
        return "id"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in annotation)
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    text = re.sub(r"Annotated\[str, FieldInfo\(.*?\)\]\)\]", "id", text)
    text = re.sub(r"Optional\[(.*)\]$", r"\1 or None", text)
    return text.replace("NoneType", "None").replace(" | ", " or ")


def _is_ident(info: FieldInfo) -> bool:
    return any(getattr(m, "pattern", None) == _IDENT_PATTERN for m in info.metadata)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "empty"
    if info.default is PydanticUndefined:
        return "required"
    if isinstance(info.default, BaseModel):
        return "see below"
    if isinstance(info.default, enum.Enum):
        return f"`{info.default.value!r}`"
    return f"`{info.default!r}`" if info.default is not None else "absent"


def _limits(info: FieldInfo) -> str:
    parts = []
    for m in info.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "pattern"):
            value = getattr(m, name, None)
            if value is not None and value != _IDENT_PATTERN:
                parts.append(f"{name} {value}")
    return ", ".join(parts)


def _rows(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _inner_model(info.annotation)
        is_list = typing.get_origin(info.annotation) is list
        if nested is not None:
            yield from _rows(nested, f"{path}[]." if is_list else f"{path}.")
            continue
        desc = (info.description or "").replace("|", "\\|")
        limits = _limits(info)
        yield (
            f"| `{path}` | {_type_name(info.annotation, info)} | {_default(info)} | "
            f"{desc}{' (' + limits + ')' if limits else ''} |"
        )


def render() -> str:
    out = [_HEAD]
    for name, info in HallConfig.model_fields.items():
        nested = _inner_model(info.annotation)
        if nested is None:
            continue
        is_list = typing.get_origin(info.annotation) is list
        out.append(f"## `[{'[' + name + ']' if is_list else name}]`\n")
        out.append("| key | type | default | meaning |")
        out.append("| --- | --- | --- | --- |")
        out.extend(_rows(nested, f"{name}[]." if is_list else f"{name}."))
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
