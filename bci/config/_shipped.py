"""The configs that ship inside the package (``bci.configs``), read with importlib.resources."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from .._errors import ConfigError


def _configs_dir() -> Path:
    try:
        root = importlib.resources.files("bci.configs")
    except ModuleNotFoundError:
        # An editable install made before configs/ was mapped as bci.configs: the checkout's
        # folder beside bci/ is the same data.
        here = Path(__file__).resolve().parents[2] / "configs"
        if here.is_dir():
            return here
        raise ConfigError(
            "the shipped configs (package bci.configs) are missing: reinstall bci-runtime"
        ) from None
    return Path(str(root))


def shipped_configs() -> list[str]:
    """File names of the configs shipped with the package, sorted.

    Returns
    -------
    list of str
        ``default.yaml``, ``closed_loop.yaml``, the ``calibrate_<set>.yaml`` paradigms and the
        ``replay_<layout>.yaml`` CSV mappings.
    """
    return sorted(p.name for p in _configs_dir().glob("*.yaml"))


def shipped_config(name: str) -> Path:
    """Path of a config file shipped with the package (works from a wheel and a checkout).

    Parameters
    ----------
    name : str
        File name, e.g. ``"default.yaml"`` or ``"calibrate_sim-ssvep.yaml"``.

    Returns
    -------
    Path
        The file inside the installed package; copy it to start a config of your own.

    Raises
    ------
    ConfigError
        When no shipped config has that name (the message lists the ones that exist).
    """
    path = _configs_dir() / name
    if not path.is_file():
        raise ConfigError(f"no shipped config {name!r}; the package has {shipped_configs()}")
    return path
