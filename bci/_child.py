"""Helpers that a session runs in processes of their own: the simulated participant, the broker.

A helper is a module run as ``python -m MODULE ARGS...``. It answers on stdout with one line,
``ready`` or ``error <reason>``, then runs until its stdin reaches end of file: the session
holds the other end, so closing it stops the helper, and a session that dies, even by
``SIGKILL``, stops it too. Helpers are not in the terminal's process group: Ctrl-C stops the
session, which then stops its helpers in order. Their stderr is the session's, so their
warnings and tracebacks show where the session's do.

Unlike ``multiprocessing``'s spawn, nothing re-imports the caller's ``__main__``, so a script
that calls :func:`bci.run_session` needs no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import logging
import select
import subprocess
import sys
from collections.abc import Callable

from ._errors import BCIError

logger = logging.getLogger(__name__)


class ChildProcess:
    """Run ``python -m module *args`` and wait for its ``ready`` line.

    Parameters
    ----------
    module : str
        The module to run (it calls :func:`serve` or follows its protocol).
    args : list of str
        Its arguments.
    what : str
        What it is, for log lines and errors (``"the simulated participant"``).
    """

    def __init__(self, module: str, args: list[str], what: str):
        self.module = module
        self.args = list(args)
        self.what = what
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0, error: type[BCIError] = BCIError) -> ChildProcess:
        """Start the process and wait until it says ``ready``.

        Raises
        ------
        BCIError (or ``error``)
            With the child's reason when it answers ``error ...``, exits, or stays silent
            for ``timeout`` seconds.
        """
        proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.proc = proc
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
        if line != "ready":
            self.stop(timeout=2.0)
            if line.startswith("error "):
                reason = line[len("error ") :]
            elif line:
                reason = f"unexpected answer {line!r}"
            else:
                reason = f"no answer within {timeout:g} s (its traceback, if any, is above)"
            raise error(f"{self.what} failed to start: {reason}")
        logger.info("%s running in process %d", self.what, proc.pid)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close its stdin (it stops), wait, terminate it if it does not (idempotent)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in %g s; terminating it", self.what, timeout)
            proc.terminate()
            proc.wait(timeout)
        finally:
            proc.stdout.close()


def serve(start: Callable[[], Callable[[], None]]) -> int:
    """The child's side: call ``start``, say ``ready``, wait for stdin's end, call its stopper.

    Parameters
    ----------
    start : callable
        Starts the work and returns the function that stops it. An exception it raises is
        answered as ``error <type>: <message>``.

    Returns
    -------
    int
        The exit status (1 when ``start`` failed).
    """
    out = sys.stdout
    try:
        stop = start()
    except Exception as exc:  # noqa: BLE001 - every failure is the parent's to report
        out.write(f"error {type(exc).__name__}: {exc}\n".replace("\n", " ").rstrip() + "\n")
        out.flush()
        return 1
    sys.stdout = sys.stderr  # nothing else may write to the protocol pipe
    out.write("ready\n")
    out.flush()
    try:
        sys.stdin.buffer.read()  # returns at end of file: the session closed it or died
    except KeyboardInterrupt:
        pass
    stop()
    return 0
