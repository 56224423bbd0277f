"""Print the configuration reference (every key, its type, default and meaning) as Markdown.

The README's "Configuration reference" section is this script's output::

    .venv/bin/python tools/config_reference.py > /tmp/ref.md
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bci.config import schema_for  # noqa: E402
from bci.config._load import SCHEMAS  # noqa: E402


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """Config models nested in a field's annotation (unions, lists, Optional...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _type_name(annotation: object) -> str:
    text = str(annotation).replace("typing.", "")
    for word in ("<class '", "'>"):
        text = text.replace(word, "")
    return text.replace("Annotated[", "").split(", FieldInfo")[0]


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` for every key of ``model``, nested keys dotted."""
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = _models_in(field.annotation)
        if field.default_factory is not None:
            default = "(section)" if nested else repr(field.default_factory())
        elif field.default is PydanticUndefined:
            default = "required"
        else:
            default = repr(field.default)
        desc = field.description or ""
        if not desc and nested:  # a section: its model's docstring says what it is
            desc = " / ".join((m.__doc__ or "").strip().splitlines()[0] for m in nested)
        elif not desc and name == "kind":
            desc = "Which kind of entry this is; selects the keys below."
        out.append((key, _type_name(field.annotation) if not nested else "section", default, desc))
        for sub in nested:
            kind = sub.model_fields.get("kind")
            tag = f"[kind={kind.default}]" if kind is not None and kind.default else ""
            out.extend(rows(sub, f"{key}{'[]' if 'list' in str(field.annotation) else ''}{tag}."))
    return out


def markdown(schema: str) -> str:
    """The reference table of one schema (``session``, ``calibration``...)."""
    model = schema_for("x.yaml", schema)
    lines = [
        f"### `{schema}` ({model.__name__})",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, typ, default, desc in rows(model):
        typ = typ.replace("|", "\\|")
        lines.append(f"| `{key}` | {typ} | `{default}` | {desc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    names = sys.argv[1:] or list(SCHEMAS)
    sys.stdout.write("\n".join(markdown(n) for n in names))
