"""Decisions, events, metrics and status over MQTT (aiomqtt), plus the embedded amqtt broker.

Topics are ``<prefix>/<session>/<kind>`` with ``kind`` one of ``decision`` (QoS 1 by
default), ``events`` (QoS 1), ``metrics`` (QoS 0) and ``status`` (QoS 1, retained; also the
client's last will, so a crashed session reads ``offline``); ``raw`` (QoS 0) carries raw samples
only when a config asks for it (``outputs.mqtt.publish_raw``). Payloads are JSON objects with a
version field ``"v": 1``.

The client never blocks the event loop: :meth:`ClientMQTT.publish` only appends to a
bounded outbox (when full, the oldest message is dropped and counted in ``unsent``); a
background task drains it while connected and reconnects with exponential backoff when
the broker goes away.

Connection failures are classified (:func:`classify_failure`): an unreachable broker is
retried (it may be restarting); a refused login (``not authorized``, bad credentials) or a
failed TLS check is reported once, at ERROR, naming the config key to change, and never
retried: the client turns *off* (:attr:`ClientMQTT.state`), counts whatever it is handed
afterwards as ``unsent`` and sets :attr:`ClientMQTT.failed` so that a session can stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import BCIError

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1
KINDS = ("decision", "events", "metrics", "status", "raw")


@dataclass(frozen=True)
class MQTTSettings:
    """Connection and publishing settings.

    Parameters
    ----------
    host, port : str, int
        Broker address.
    session : str
        Session name: topics are ``<topic_prefix>/<session>/<kind>``.
    topic_prefix : str
        First topic level.
    qos : int
        QoS of decision messages (events and status use 1, metrics 0).
    username, password : str | None
        Credentials, or ``None`` for an anonymous connection.
    tls : bool
        Connect with TLS (``ca_file`` or the system's CAs).
    ca_file : str | None
        CA certificate for TLS.
    cert_file, key_file : str | None
        Client certificate and its key, for brokers that require one.
    key_password : str | None
        Passphrase of ``key_file``.
    outbox : int
        Messages held while the broker is slow or away; beyond that the oldest are dropped.
    backoff_min, backoff_max : float
        Reconnect delays in seconds (doubling from min to max).
    keepalive : int
        MQTT keep-alive in seconds.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    session: str = "default"
    topic_prefix: str = "bci"
    qos: int = 1
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = field(default=None, repr=False)
    outbox: int = 1024
    backoff_min: float = 0.1
    backoff_max: float = 5.0
    keepalive: int = 10


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _sanitize(obj: Any) -> Any:
    """Replace NaN/inf by ``None`` so the payload is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitize(v) for v in obj]
    return obj


#: Failure kinds that retrying cannot fix (the client turns off instead).
FATAL_FAILURES = ("not_authorized", "tls")


@dataclass(frozen=True)
class MQTTFailure:
    """Why a connection to the broker failed.

    Parameters
    ----------
    kind : str
        ``not_authorized`` (login refused), ``tls`` (certificate or handshake), ``refused``
        (the broker rejected the connection for another reason) or ``unreachable``.
    detail : str
        The underlying error text.
    hint : str
        What to change, naming the config key.
    """

    kind: str
    detail: str
    hint: str

    @property
    def fatal(self) -> bool:
        """Whether retrying is pointless (credentials or TLS must change first)."""
        return self.kind in FATAL_FAILURES

    def message(self, host: str, port: int) -> str:
        """One line for the log and the status: what failed, why, what to change."""
        what = {
            "not_authorized": "refused the login",
            "tls": "failed the TLS check",
            "refused": "refused the connection",
            "unreachable": "is not reachable",
        }[self.kind]
        return f"MQTT broker {host}:{port} {what} ({self.detail}); {self.hint}"


def classify_failure(exc: BaseException) -> MQTTFailure:
    """Turn a connection error (aiomqtt, ssl, OS) into an :class:`MQTTFailure`."""
    text = str(exc) or type(exc).__name__
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    rc = getattr(exc, "rc", None)
    rc_value = getattr(rc, "value", rc)
    low = text.lower()
    if any(isinstance(x, ssl.SSLError) for x in chain) or "ssl" in low or "certificate" in low:
        return MQTTFailure(
            "tls",
            text,
            "check outputs.mqtt.ca_file (the CA that signed the broker's certificate), "
            "outputs.mqtt.tls and the broker's host name",
        )
    if rc_value in (4, 5, 134, 135) or "not authorized" in low or "bad user" in low:
        return MQTTFailure(
            "not_authorized",
            text,
            "check outputs.mqtt.username and the password (outputs.mqtt.password, "
            "password_env or password_file)",
        )
    if rc is not None:
        return MQTTFailure(
            "refused", text, "check outputs.mqtt.host/port and the broker's configuration"
        )
    return MQTTFailure(
        "unreachable",
        text,
        "check that the broker runs and outputs.mqtt.host/port (and outputs.mqtt.tls) match it; "
        "retrying",
    )


def encode(payload: dict) -> bytes:
    """Encode a payload as strict JSON (``"v"`` added when missing)."""
    body = {"v": PAYLOAD_VERSION, **payload}
    return json.dumps(_sanitize(body), default=_json_default, separators=(",", ":")).encode()


class ClientMQTT:
    """A non-blocking MQTT publisher for one session.

    Parameters
    ----------
    settings : MQTTSettings
        Where to connect and how to publish.

    Attributes
    ----------
    sent : int
        Messages the broker accepted (PUBACK for QoS 1).
    unsent : int
        Messages dropped: outbox overflow while the broker was away, or still queued at stop.
    reconnects : int
        Successful connections after the first one.
    connected : bool
        Whether a broker connection is up now.
    failure : MQTTFailure | None
        The last connection failure (``None`` once connected again).
    failed : asyncio.Event
        Set when a fatal failure (login refused, TLS) turned the client off.
    """

    def __init__(self, settings: MQTTSettings):
        self.settings = settings
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque(maxlen=max(1, settings.outbox))
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.sent = 0
        self.unsent = 0
        self.reconnects = 0
        self.connections = 0
        self.connected = False
        self.last_error: str | None = None
        self.failure: MQTTFailure | None = None
        self.off = False
        self._reported: str | None = None
        self._last_status: dict | None = None
        self._connected_evt: asyncio.Event | None = None
        self.failed = asyncio.Event()

    def topic(self, kind: str) -> str:
        """The topic of a message kind."""
        return f"{self.settings.topic_prefix}/{self.settings.session}/{kind}"

    # ------------------------------------------------------------------ API
    def publish(
        self,
        kind: str,
        payload: dict,
        qos: int | None = None,
        retain: bool = False,
        wake: bool = True,
    ) -> bool:
        """Queue a message; never blocks. Safe to call from any thread.

        Parameters
        ----------
        kind : str
            ``decision``, ``events``, ``metrics`` or ``status``.
        payload : dict
            JSON-serializable content (NaN becomes ``null``).
        qos : int | None
            Defaults: decisions ``settings.qos``, events/status 1, metrics 0.
        retain : bool
            Retain on the broker (status messages always are).
        wake : bool
            Wake the sending task now. The hot path passes ``False`` and calls :meth:`wake`
            once its decision is out on LSL and stamped, so that sending (Python work on the
            event loop's thread) does not compete with it for the GIL.

        Returns
        -------
        bool
            False when an older message had to be dropped to make room (counted).
        """
        if kind not in KINDS:
            raise BCIError(f"MQTT message kind {kind!r}: use one of {KINDS}")
        if kind == "status":
            self._last_status = payload  # re-published (retained) after every reconnect
        if self.off:  # a fatal failure: nothing will ever be sent
            self.unsent += 1
            return False
        if qos is None:
            qos = (
                self.settings.qos
                if kind == "decision"
                else (0 if kind in ("metrics", "raw") else 1)
            )
        full = len(self._outbox) == self._outbox.maxlen
        if full:
            self.unsent += 1
        self._outbox.append(
            (self.topic(kind), encode(payload), int(qos), retain or kind == "status")
        )
        if wake:
            self.wake()
        return not full

    def wake(self) -> None:
        """Let the sending task drain the outbox now (safe from any thread)."""
        if self._wake is not None and not self._wake.is_set():
            if threading.get_ident() == self._loop_thread:
                self._wake.set()
            else:  # called from a worker thread (the hot path's): wake the loop safely
                self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def state(self) -> str:
        """``connected``, ``connecting`` (first attempt or retrying), ``closed`` (stopped) or
        ``off`` (fatal failure)."""
        if self.off:
            return "off"
        if self._task is None and self.connections:
            return "closed"
        return "connected" if self.connected else "connecting"

    @property
    def pending(self) -> int:
        """Messages waiting in the outbox."""
        return len(self._outbox)

    async def start(self) -> ClientMQTT:
        """Start the background connection task (returns at once; connecting goes on)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._connected_evt = asyncio.Event()
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="mqtt")
            self._task.add_done_callback(self._on_done)
        return self

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait until connected (True), or a fatal failure or ``timeout`` (False)."""
        if self._connected_evt is None:
            return False
        waits = [
            asyncio.ensure_future(self._connected_evt.wait()),
            asyncio.ensure_future(self.failed.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return self.connected

    async def stop(self, flush_timeout: float = 2.0) -> ClientMQTT:
        """Publish ``offline`` status, flush the outbox for up to ``flush_timeout`` s, disconnect.

        Whatever is still queued afterwards is counted in :attr:`unsent`. Idempotent.
        """
        if self._task is None:
            return self
        if not self.off:
            self.publish("status", self._status("offline"))
        deadline = time.monotonic() + flush_timeout
        while self._outbox and self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._stopping = True
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self.unsent += len(self._outbox)
        self._outbox.clear()
        logger.info(
            "MQTT: %d sent, %d unsent, %d reconnect(s)%s",
            self.sent,
            self.unsent,
            self.reconnects,
            " (off: " + self.failure.kind + ")" if self.off and self.failure else "",
        )
        return self

    def counts(self) -> dict[str, int | bool | str | None]:
        """``sent``, ``unsent``, ``pending``, ``reconnects``, ``connected``, ``state``, ``error``.

        The one set of MQTT numbers: the live view, the metrics and the exit summary all
        read them from here.
        """
        return {
            "sent": self.sent,
            "unsent": self.unsent,
            "pending": self.pending,
            "reconnects": self.reconnects,
            "connected": self.connected,
            "state": self.state,
            "error": self.failure.kind if self.failure is not None else None,
        }

    # ------------------------------------------------------------------ internals
    def _on_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.connected = False
            logger.error("MQTT client task failed; nothing more is sent", exc_info=task.exception())

    def _status(self, state: str) -> dict:
        import pylsl

        return {
            "session": self.settings.session,
            "state": state,
            "t": pylsl.local_clock(),
            "wall": time.time(),
        }

    def _will(self) -> dict:
        """The last will: sent by the broker when the connection dies, at an unknown time, so
        it carries no time stamp (a subscriber stamps it on arrival)."""
        return {"session": self.settings.session, "state": "offline", "reason": "connection lost"}

    def _client(self):  # noqa: ANN202 - aiomqtt is imported lazily
        import aiomqtt

        s = self.settings
        tls_context = None
        if s.tls:
            tls_context = ssl.create_default_context(cafile=s.ca_file)
            if s.cert_file is not None:
                tls_context.load_cert_chain(s.cert_file, s.key_file, password=s.key_password)
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=f"bci-{s.session}-{id(self):x}",
            keepalive=s.keepalive,
            tls_context=tls_context,
            will=aiomqtt.Will(self.topic("status"), encode(self._will()), qos=1, retain=True),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            timeout=5.0,
        )

    def _fail(self, exc: BaseException, failure: MQTTFailure | None = None) -> None:
        """Classify a connection failure; report it once per kind; turn off if fatal."""
        s = self.settings
        failure = failure or classify_failure(exc)
        self.failure = failure
        self.last_error = str(exc)
        text = failure.message(s.host, s.port)
        if failure.fatal:
            self.off = True
            self.unsent += len(self._outbox)
            self._outbox.clear()
            logger.error("%s. MQTT is off for this session.", text)
            self.failed.set()
        elif self._reported != failure.kind:
            logger.warning("%s (decisions are queued, up to %d)", text, s.outbox)
        else:
            logger.debug("MQTT: connect failed again (%s)", exc)
        self._reported = failure.kind

    async def _run(self) -> None:
        import aiomqtt

        delay = self.settings.backoff_min
        while not self._stopping and not self.off:
            try:
                client_cm = self._client()
            except (OSError, ssl.SSLError, ValueError) as exc:  # unreadable CA/cert files
                hint = "check outputs.mqtt.ca_file, cert_file and key_file (PEM files)"
                self._fail(exc, MQTTFailure("tls", f"cannot load the TLS files: {exc}", hint))
                break
            try:
                async with client_cm as client:
                    self.connected = True
                    self.failure = None
                    self._reported = None
                    self.connections += 1
                    if self.connections > 1:
                        self.reconnects += 1
                        logger.info(
                            "MQTT: reconnected to %s:%d", self.settings.host, self.settings.port
                        )
                    else:
                        logger.info(
                            "MQTT: connected to %s:%d", self.settings.host, self.settings.port
                        )
                    self._connected_evt.set()
                    delay = self.settings.backoff_min
                    # the session's own status (e.g. running), else online; retained, so that a
                    # reconnect never leaves an outdated state on the broker
                    status = self._last_status or self._status("online")
                    await client.publish(self.topic("status"), encode(status), qos=1, retain=True)
                    await self._drain(client)
            except aiomqtt.MqttError as exc:
                if self.connected:
                    self.last_error = str(exc)
                    logger.warning("MQTT: connection lost (%s); retrying with backoff", exc)
                else:
                    self._fail(exc)
            finally:
                self.connected = False
                if self._connected_evt is not None:
                    self._connected_evt.clear()
            if self._stopping or self.off:
                break
            await asyncio.sleep(delay)
            delay = min(self.settings.backoff_max, delay * 2)

    async def _drain(self, client) -> None:  # noqa: ANN001
        import aiomqtt

        # aiomqtt resolves this future when the connection drops; waiting on it as well as
        # on the outbox notices a dead broker while idle (not only at the next publish)
        lost = getattr(client, "_disconnected", None)
        while True:
            if not self._outbox:
                self._wake.clear()
                if lost is None:
                    await self._wake.wait()
                    continue
                woken = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait((woken, lost), return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if lost.done():
                    exc = lost.exception()
                    raise aiomqtt.MqttError(f"connection lost ({exc or 'closed'})")
                continue
            topic, body, qos, retain = self._outbox[0]
            # A message leaves the outbox only once the broker has it (PUBACK for QoS 1).
            await client.publish(topic, body, qos=qos, retain=retain, timeout=5.0)
            if self._outbox and self._outbox[0][0] is topic and self._outbox[0][1] is body:
                self._outbox.popleft()
            self.sent += 1


def is_listening(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (e.g. a broker already running)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _start_broker(host: str, port: int) -> Callable[[], None]:
    """In the broker's process: serve amqtt on ``host:port`` from a thread; returns the stopper."""
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def boot() -> Any:
        broker = Broker(config)
        await broker.start()
        return broker

    loop = asyncio.new_event_loop()
    broker = loop.run_until_complete(boot())  # a port in use raises here: the error line
    thread = threading.Thread(target=loop.run_forever, name="amqtt", daemon=True)
    thread.start()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(5.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)

    return stop


class EmbeddedBroker:
    """An amqtt broker on loopback, in its own process (the default broker).

    amqtt routes every message in Python. In a thread of the session's process that work
    would compete with the hot path for the GIL at every decision; in a process of its own
    (``python -m bci._mqtt HOST PORT``, see :mod:`bci._child`) it talks to the runtime over
    TCP only, like an external broker, and it stops with the session, even a killed one.

    Parameters
    ----------
    host : str
        Address to bind (loopback by default; never exposed unless asked).
    port : int
        Port; 0 picks a free one (see :attr:`port` after :meth:`start`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883):
        self.host = host
        self.port = int(port)
        self._child: Any = None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        """Start the broker process and wait until it listens.

        Raises
        ------
        BCIError
            When the port is taken or amqtt fails, naming the address.
        """
        from ._child import ChildProcess

        if self._child is not None:
            return self
        if self.port == 0:
            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = int(s.getsockname()[1])
        child = ChildProcess(
            "bci._mqtt",
            [self.host, str(self.port)],
            f"embedded MQTT broker (amqtt) on {self.host}:{self.port}",
        )
        try:
            self._child = child.start(timeout)
        except BCIError as exc:
            raise BCIError(
                f"{exc}: it cannot listen there; set outputs.mqtt.port to a free port or 0"
            ) from None
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the broker down (idempotent)."""
        child, self._child = self._child, None
        if child is not None:
            child.stop(timeout)


if __name__ == "__main__":
    from ._child import serve

    sys.exit(serve(lambda: _start_broker(sys.argv[1], int(sys.argv[2]))))
