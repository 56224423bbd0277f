"""Run the view: the LSL hub and the web server (uvicorn) in this process."""

from __future__ import annotations

import logging
import socket
import threading
import time

from .._errors import ConfigError
from ._hub import Hub
from ._settings import ViewSettings

logger = logging.getLogger(__name__)


def quiet_liblsl() -> None:
    """Keep liblsl's own log lines (a stream broke off, re-connecting...) off the terminal.

    A stream going away is normal for the view, and the page shows it. Works when called
    before this process first talks to liblsl; a user's own ``LSLAPICFG`` is left alone (the
    CLI's own, which only sets the log level, is replaced).
    """
    import os
    import tempfile

    # the page shows silent streams and gaps; their log lines would only repeat it
    logging.getLogger("bci.devices._lsl").setLevel(logging.ERROR)
    current = os.environ.get("LSLAPICFG", "")
    if current and not os.path.basename(current).startswith("bci-liblsl-log"):
        return  # the user's own liblsl configuration
    path = os.path.join(tempfile.gettempdir(), f"bci-view-lsl-{os.getuid()}.cfg")
    try:
        with open(path, "w") as f:
            f.write("[log]\nlevel = -3\n")
    except OSError:
        return
    os.environ["LSLAPICFG"] = path


def lower_priority(increment: int = 10) -> None:
    """Make this process yield the CPU to the session's hot path (``nice``) on a busy machine."""
    import os

    try:
        os.nice(increment)
    except (AttributeError, OSError):  # not on this platform, or not allowed: harmless
        logger.debug("could not lower the view's priority")


class ViewServer:
    """The live view: attaches to the streams over LSL and serves the page.

    Parameters
    ----------
    settings : ViewSettings
        Streams, filters, address, port (0 picks a free one) and token.

    Examples
    --------
    >>> view = ViewServer(ViewSettings(signal="bci-sim", port=0)).start()
    >>> print(view.url)
    >>> view.stop()
    """

    def __init__(self, settings: ViewSettings) -> None:
        self.settings = settings.check()
        self.hub = Hub(settings)
        self._server = None
        self._thread: threading.Thread | None = None
        self.port = settings.port

    @property
    def url(self) -> str:
        """Address of the page (with the token when one is needed)."""
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"http://{shown}:{self.port}/"
        return url + (f"?token={self.settings.token}" if self.settings.token else "")

    def start(self, timeout: float = 10.0) -> ViewServer:
        """Bind the port, start the readers and the server thread (idempotent)."""
        if self._thread is not None:
            return self
        import uvicorn

        from ._app import create_app

        s = self.settings
        family = socket.AF_INET6 if ":" in s.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((s.host, s.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot serve the view on {s.host}:{s.port} ({exc.strerror}); "
                "pick another --port (0 picks a free one)"
            ) from exc
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self.hub.start()
        config = uvicorn.Config(
            create_app(self.hub, s), log_level="warning", lifespan="off", ws_ping_interval=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="view-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        logger.info("live view at %s", self.url)
        return self

    def stop(self) -> ViewServer:
        """Stop the server and the readers (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.hub.stop()
        return self

    def wait(self) -> None:
        """Block until the server thread ends (Ctrl-C stops it)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass


__all__ = ["ViewServer", "lower_priority", "quiet_liblsl"]
