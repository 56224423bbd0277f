"""``bci validate``: check session configs and report every problem with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._errors import ConfigError
from ..config import SCHEMAS, load_config, schema_for
from ..config._load import detect_kind, load_yaml


def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML configs to check.")],
    schema: Annotated[
        str | None,
        typer.Option(
            help=f"Schema to check against ({', '.join(SCHEMAS)}); default: the file's 'kind:' "
            "key, else the kind whose keys fit the file best."
        ),
    ] = None,
) -> None:
    """Validate YAML configs and report every problem with its key path; exit 2 if any is invalid."""
    failed = 0
    for path in files:
        try:
            load_config(path, schema_for(path, schema) if schema else None)
        except ConfigError as exc:
            failed += 1
            typer.echo(f"{path}: INVALID", err=True)
            if exc.problems:
                for key, value, why in exc.problems:
                    typer.echo(f"  {key}: {value!r}\n      {why}", err=True)
            else:
                typer.echo(f"  {exc}", err=True)
        else:
            typer.echo(f"{path}: ok ({schema or detect_kind(load_yaml(path), path)} config)")
    if failed:
        raise typer.Exit(2)
