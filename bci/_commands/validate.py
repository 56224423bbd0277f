"""``bci validate``: check session configs and report every problem with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._errors import ConfigError
from ..config import SCHEMAS, load_config, schema_for


def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML configs to check.")],
    schema: Annotated[
        str | None,
        typer.Option(
            help=f"Schema to check against ({', '.join(SCHEMAS)}); default: by file name "
            "(calibrate_*.yaml: calibration, replay_*.yaml: replay-mapping, else session)."
        ),
    ] = None,
) -> None:
    """Validate YAML configs and report every problem with its key path; exit 2 if any is invalid."""
    failed = 0
    for path in files:
        try:
            load_config(path, schema_for(path, schema))
        except ConfigError as exc:
            failed += 1
            typer.echo(f"{path}: INVALID", err=True)
            if exc.problems:
                for key, value, why in exc.problems:
                    typer.echo(f"  {key}: {value!r}\n      {why}", err=True)
            else:
                typer.echo(f"  {exc}", err=True)
        else:
            typer.echo(f"{path}: ok")
    if failed:
        raise typer.Exit(2)
