"""Helpers shared by the subcommands: logging set-up and error-to-exit-code mapping."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TypeVar

import typer

from .._errors import BCIError, ConfigError

logger = logging.getLogger("bci")

M = TypeVar("M")


class LogLevel(StrEnum):
    """Logging levels accepted by ``--log-level``."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LOG_LEVEL_OPTION = typer.Option(
    LogLevel.info, "--log-level", help="Logging verbosity.", case_sensitive=False
)


def setup_logging(level: str | LogLevel = "info") -> None:
    """Configure the root logger once (the library itself only logs)."""
    logging.basicConfig(
        level=getattr(logging, str(level).upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    for noisy in ("amqtt", "transitions", "matplotlib", "PIL", "numba"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    from ._liblsl import quiet_liblsl  # liblsl's own INFO lines only with --log-level debug

    quiet_liblsl(str(level))


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn our errors into a one-paragraph message and a non-zero exit code.

    Config errors exit 2 (like a usage error), every other :class:`BCIError` exits 1.
    """
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BCIError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def cli_values(model: type[M], values: dict[str, object], flags: dict[str, str], base=None) -> M:  # noqa: ANN001
    """Validate command-line values with the rules of the matching config keys.

    Parameters
    ----------
    model : type
        The config model whose fields the flags set.
    values : dict
        Field name -> value from the command line (``None`` values are left out).
    flags : dict
        Field name -> the flag that set it (``"--duration"``), for the message.
    base : model instance | None
        A loaded config the values override.

    Raises
    ------
    ConfigError
        Naming the flag, the value and the rule, exactly as a bad config key would.
    """
    from pydantic import ValidationError

    from ..config._load import problems_from

    data = base.model_dump(by_alias=True) if base is not None else {}
    data.update({k: v for k, v in values.items() if v is not None})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, data)
        lines = []
        for key, value, why in problems:
            flag = flags.get(key.split(".")[0].split("[")[0])
            where = f"{flag} {value}" if flag else f"{key}: {value!r}"
            lines.append(f"  {where} -> {why} (the same rule as config key {key!r})")
        raise ConfigError(
            f"{len(problems)} invalid value(s)\n" + "\n".join(lines), problems
        ) from None


#: Exit status of a run ended by the abort key (as after Ctrl-C).
ABORTED = 130


def check_flag(model: type, key: str, value: object, flag: str) -> None:
    """Validate one flag with the rule of config key ``key`` of ``model`` (``None``: unset)."""
    if value is None:
        return
    from pydantic import create_model

    field = model.model_fields[key]
    cli_values(
        create_model(model.__name__, **{key: (field.annotation, field)}), {key: value}, {key: flag}
    )


def check_duration(duration: float | None, flag: str = "--duration") -> None:
    """Validate a stop-after-seconds flag with the rule of a session's ``duration`` key."""
    from ..config import SessionConfig

    check_flag(SessionConfig, "duration", duration, flag)


def not_built(name: str, issue: str) -> Callable[..., None]:
    """A placeholder for a subcommand that does not exist yet: it says so and exits 1."""

    def command() -> None:
        typer.echo(f"bci {name}: not built yet ({issue}).", err=True)
        raise typer.Exit(1)

    command.__doc__ = f"(not built yet) {issue}"
    return command
