"""Keep liblsl's own log lines (``api_config.cpp ... INFO| Loaded default config``) off the console.

liblsl logs to stderr at INFO level unless its configuration file says otherwise (section
``[log]``, key ``level``: 0 INFO, -1 WARNING, -2 ERROR). It reads that file from ``LSLAPICFG``,
else ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg`` or ``/etc/lsl_api/lsl_api.cfg``. The CLI points
``LSLAPICFG`` at a file of its own that holds only the log level, unless the user already has a
configuration in one of those places (then theirs is used, untouched). Child processes (the
simulated participant, replay) inherit the setting.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: liblsl verbosity for each ``--log-level``; None leaves liblsl at its default (INFO).
_LEVELS = {"debug": None, "info": -1, "warning": -1, "error": -2}


def _user_config_exists() -> bool:
    if os.environ.get("LSLAPICFG"):
        return True
    candidates = (
        Path.cwd() / "lsl_api.cfg",
        Path.home() / "lsl_api" / "lsl_api.cfg",
        Path("/etc/lsl_api/lsl_api.cfg"),
    )
    return any(p.is_file() for p in candidates)


def quiet_liblsl(level: str) -> Path | None:
    """Set liblsl's log level to match ``--log-level``; return the config file used, if any.

    Must run before the first liblsl call of the process (liblsl reads its config once).
    """
    verbosity = _LEVELS.get(str(level).lower(), -1)
    if verbosity is None or _user_config_exists():
        return None
    path = Path(tempfile.gettempdir()) / f"bci-liblsl-log{verbosity}.cfg"
    text = f"; written by bci: liblsl's log level for the bci CLI\n[log]\nlevel = {verbosity}\n"
    try:
        if not path.is_file() or path.read_text() != text:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bci-liblsl-")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
    except OSError:  # an unwritable temp dir: liblsl keeps its default verbosity
        return None
    os.environ["LSLAPICFG"] = str(path)
    return path
