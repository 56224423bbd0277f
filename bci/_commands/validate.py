"""``bci validate``: check session configs and report every problem with its key path."""

from __future__ import annotations

from pathlib import Path

import typer

from .._errors import ConfigError
from ..config import load_config


def validate(
    files: list[Path] = typer.Argument(..., help="YAML session configs to check.", exists=False),
) -> None:
    """Validate session configs; exit 0 when all are valid, 2 otherwise."""
    failed = 0
    for path in files:
        try:
            load_config(path)
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
