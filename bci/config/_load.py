"""Parse YAML once, at the edge, into frozen models; report every problem with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .._errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _key_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<root>"


def _drop_union_tags(loc: tuple, data: object) -> tuple:
    """Remove the tag pydantic inserts into the path of a tagged union.

    ``sources.0.replay.path`` becomes ``sources.0.path``: a path element that is not a key of
    the mapping at that point but equals its ``kind`` is the union tag, not a config key.
    """
    out, node = [], data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        out.append(part)
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def problems_from(exc: ValidationError, data: object = None) -> list[tuple[str, object, str]]:
    """Turn a pydantic error into ``(key_path, bad_value, what_is_allowed)`` triples."""
    out = []
    for err in exc.errors():
        loc = _drop_union_tags(tuple(err["loc"]), data)
        if err["type"] == "missing":
            value: object = "<missing>"
            allowed = "this key is required"
        elif err["type"] == "extra_forbidden":
            value = err.get("input")
            allowed = "unknown key; remove it or check its spelling"
        else:
            value = err.get("input")
            allowed = err["msg"]
        out.append((_key_path(loc), value, allowed))
    return out


def parse_config(data: object, model: type[M], source: str = "<config>") -> M:
    """Validate a mapping against ``model``.

    Raises
    ------
    ConfigError
        With one entry in ``problems`` per invalid key.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, got {type(data).__name__}",
            [("<root>", data, "a mapping")],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, data)
        lines = "\n".join(f"  {k}: {v!r} -> {why}" for k, v, why in problems)
        raise ConfigError(f"{source}: {len(problems)} problem(s)\n{lines}", problems) from None


def load_yaml(path: str | Path) -> object:
    """Read a YAML file, turning I/O and syntax errors into :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


#: Config schemas by name: ``module:Class`` paths, imported only when used.
SCHEMAS: dict[str, str] = {
    "session": "bci.config._session:SessionConfig",
    "calibration": "bci.config._calibration:CalibrationConfig",
    "paradigm": "bci.config._paradigm:ParadigmConfig",
    # The column layout of text recordings belongs to the file readers; named by path so that
    # nothing under bci/ imports devices/ unless a replay_*.yaml is actually validated.
    "replay-mapping": "bci.devices._readers_mapping:CSVMapping",
}

#: File-name prefixes that select a schema (``configs/calibrate_muse-ssvep.yaml``); anything
#: else is a session config.
SCHEMA_PREFIXES: dict[str, str] = {
    "calibrate_": "calibration",
    "replay_": "replay-mapping",
    "paradigm_": "paradigm",
}


def schema_for(path: str | Path, schema: str | None = None) -> type[BaseModel]:
    """The config model for ``path``: the named ``schema``, else chosen by file-name prefix."""
    import importlib

    if schema is None:
        name = Path(path).name
        schema = next((s for p, s in SCHEMA_PREFIXES.items() if name.startswith(p)), "session")
    if schema not in SCHEMAS:
        raise ConfigError(f"unknown config schema {schema!r}; choose one of {sorted(SCHEMAS)}")
    module, cls = SCHEMAS[schema].split(":")
    return getattr(importlib.import_module(module), cls)


def load_config(path: str | Path, model: type[M] | None = None) -> M:
    """Load a YAML file into a frozen config model.

    Parameters
    ----------
    path : path-like
        The YAML file.
    model : type | None
        The pydantic model; by default chosen by :func:`schema_for` (a session config unless
        the file name says otherwise: ``calibrate_*.yaml``, ``replay_*.yaml``).
    """
    if model is None:
        model = schema_for(path)  # type: ignore[assignment]
    return parse_config(load_yaml(path), model, source=str(path))  # type: ignore[arg-type]
