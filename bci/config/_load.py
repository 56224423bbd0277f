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
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); is it a YAML file?"
        ) from None
    try:  # libyaml's safe loader when PyYAML has it (same rules, ~10x faster)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


#: Config schemas by name: ``module:Class`` paths, imported only when used.
SCHEMAS: dict[str, str] = {
    "session": "bci.config._session:SessionConfig",
    "calibration": "bci.config._calibration:CalibrationConfig",
    # The column layout of text recordings belongs to the file readers; named by path so that
    # nothing under bci/ imports devices/ unless a replay_*.yaml is actually validated.
    "replay-mapping": "bci.devices._readers_mapping:CSVMapping",
}

#: File-name prefixes that break a tie between kinds whose keys fit a file equally well
#: (``configs/calibrate_muse-ssvep.yaml``); the content decides first.
SCHEMA_PREFIXES: dict[str, str] = {"calibrate_": "calibration", "replay_": "replay-mapping"}

#: The top-level key that names a config's kind explicitly (``kind: session``).
KIND_KEY = "kind"


def _import_schema(schema: str) -> type[BaseModel]:
    import importlib

    if schema not in SCHEMAS:
        raise ConfigError(
            f"unknown config kind {schema!r}; choose one of {sorted(SCHEMAS)}",
            [(KIND_KEY, schema, f"one of {sorted(SCHEMAS)}")],
        )
    module, cls = SCHEMAS[schema].split(":")
    return getattr(importlib.import_module(module), cls)


def _keys_of(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, f in model.model_fields.items():
        keys.add(name)
        if f.alias:
            keys.add(f.alias)
    return keys


def kind_of(model: type[BaseModel]) -> str | None:
    """The kind name of a config model (``"session"``, ``"calibration"``...), if registered."""
    path = f"{model.__module__}:{model.__name__}"
    return next((k for k, v in SCHEMAS.items() if v == path), None)


def detect_kind(data: object, path: str | Path = "") -> str:
    """Which kind of config a parsed YAML mapping is: by its ``kind:`` key, else by its keys.

    The kind whose schema knows the most of the file's top-level keys wins; a tie is broken
    by the file-name prefix (``calibrate_``, ``replay_``), then in favour of a session
    config. An empty file is a session config (every key has a default).

    Raises
    ------
    ConfigError
        When ``kind:`` names no known kind.
    """
    if not isinstance(data, dict) or not data:
        return "session"
    explicit = data.get(KIND_KEY)
    if explicit is not None:
        if not isinstance(explicit, str) or explicit not in SCHEMAS:
            raise ConfigError(
                f"{path}: kind={explicit!r} is not a config kind; use one of {sorted(SCHEMAS)}",
                [(KIND_KEY, explicit, f"one of {sorted(SCHEMAS)}")],
            )
        return explicit
    keys = set(data)
    name = Path(path).name
    hint = next((s for p, s in SCHEMA_PREFIXES.items() if name.startswith(p)), None)
    scores: dict[str, int] = {}
    for kind in SCHEMAS:
        full = max(scores.values(), default=0) == len(keys)
        if kind == "replay-mapping" and full and hint != kind:
            continue  # fully explained without importing the file readers
        try:
            scores[kind] = len(keys & _keys_of(_import_schema(kind)))
        except ImportError:  # a schema whose package is not installed cannot be the one
            continue
    best = max(scores.values(), default=0)
    tied = [k for k, v in scores.items() if v == best]
    if hint in tied:
        return hint
    return "session" if "session" in tied else tied[0]


def schema_for(path: str | Path, schema: str | None = None) -> type[BaseModel]:
    """The config model for ``path``: the named ``schema``, else detected from the file's keys.

    Parameters
    ----------
    path : path-like
        The YAML file (read only when ``schema`` is ``None``; a missing file then falls back
        to the file-name prefix, else session).
    schema : str | None
        A kind name from :data:`SCHEMAS`.
    """
    if schema is None:
        p = Path(path)
        if p.is_file():
            schema = detect_kind(load_yaml(p), p)
        else:
            name = p.name
            schema = next((s for q, s in SCHEMA_PREFIXES.items() if name.startswith(q)), "session")
    return _import_schema(schema)


def load_config(path: str | Path, model: type[M] | None = None) -> M:
    """Load a YAML file into a frozen config model.

    Parameters
    ----------
    path : path-like
        The YAML file.
    model : type | None
        The pydantic model the caller needs; by default the kind is read from the file's
        ``kind:`` key, else detected from its keys (:func:`detect_kind`).

    Raises
    ------
    ConfigError
        Every invalid key with its path; when the file is another kind of config than the
        one asked for, that is what the error says (never "unknown key").
    """
    data = load_yaml(path)
    detected = detect_kind(data, path)
    wanted = kind_of(model) if model is not None else detected
    if model is not None and wanted is not None and detected != wanted:
        explicit = isinstance(data, dict) and KIND_KEY in data
        raise ConfigError(
            f"{path} is a {detected} config ("
            + ("its 'kind' key says so" if explicit else "judging by its keys")
            + f"), not the {wanted} config expected here"
            + ("" if explicit else f"; if it is one, add 'kind: {wanted}' to it"),
            [(KIND_KEY, detected, f"a {wanted} config")],
        )
    auto = model is None
    if model is None:
        model = _import_schema(detected)  # type: ignore[assignment]
    if isinstance(data, dict) and KIND_KEY in data and KIND_KEY not in model.model_fields:
        data = {k: v for k, v in data.items() if k != KIND_KEY}
    try:
        return parse_config(data, model, source=str(path))  # type: ignore[arg-type]
    except ConfigError as exc:
        if not auto or not any("unknown key" in why for _, _, why in exc.problems):
            raise
        others = "|".join(k for k in SCHEMAS if k != detected)
        raise ConfigError(
            f"{exc}\n(read as a {detected} config: its keys fit that kind best; if it is "
            f"another kind, say so with 'kind: {others}')",
            exc.problems,
        ) from None
