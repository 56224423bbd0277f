"""``python -m bci._view SETTINGS_JSON``: the live view in a process of its own.

``bci run --view`` starts it this way (:class:`bci._child.ChildProcess`): the session's hot
path never shares a process, a GIL or an event loop with the web server; the view reads the
session's LSL outlets like any other client. It runs until stdin closes.
"""

from __future__ import annotations

import sys


def _start(settings_json: str):  # noqa: ANN202 - returns the stopper
    from ._server import ViewServer, lower_priority, quiet_liblsl
    from ._settings import ViewSettings

    quiet_liblsl()
    lower_priority()  # the session's hot path wins a contended core
    view = ViewServer(ViewSettings.from_json(settings_json)).start()
    return view.stop


if __name__ == "__main__":
    from bci._child import serve
    from bci._commands._common import setup_logging

    setup_logging("warning")
    sys.exit(serve(lambda: _start(sys.argv[1])))
