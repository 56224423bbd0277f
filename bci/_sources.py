"""One way in for sources: a ``Source`` protocol and a registry keyed by the config's ``kind``.

A source driver turns one entry of ``sources:`` into running LSL streams. It is a callable
``driver(config, index) -> StartedSource``: it starts whatever produces the samples (a
process, a board thread, a file player, or nothing for a stream already on the network)
and says which LSL streams the session should pull. Adding a headset driver is one module
with such a callable plus one :func:`register_source` call; the session wiring does not
change. Concrete drivers import their device code lazily, so the runtime core never
imports ``bci.devices`` at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import BCIError, ConfigError, DeviceError
from ._ownership import current_session_id, owned_source_id

logger = logging.getLogger(__name__)

#: Streams of the stimulus protocol (docs/design.md#stimulus-protocol), recorded when the
#: session started them (their source_id carries its id) or when ``recording.streams`` names
#: them; never a namesake from another session or host (see :mod:`bci._ownership`).
PROTOCOL_STREAMS = ("bci-markers", "bci-stimuli", "bci-sim-truth")


@dataclass
class StartedSource:
    """What a started source offers the session.

    Parameters
    ----------
    streams : tuple of str
        LSL stream names to pull; for the first configured source, the first one is the
        stream the decoder reads.
    inlet : Any | None
        A ready (not yet connected) ``SourceLSL`` for the decoded stream when the driver
        resolves it by properties rather than by name (``kind: lsl``).
    protocol : tuple of str | None
        Names of the marker, stimulus-description and truth streams this source listens
        to or publishes (``None``: the defaults).
    producer : Any | None
        The thing that makes the samples (has ``stop()``), stopped when the session ends.
    inlets : dict of str to SourceLSL
        Ready inlets for some of ``streams`` (by name), used instead of resolving by name.
    begin : callable | None
        Starts producing once the session is connected to the streams (a replay then
        publishes the file from its first sample); ``None``: already producing.
    wait_end : callable | None
        Blocks until the data end (a replay without ``loop``); ``None``: endless.
    source_ids : dict of str to str
        ``source_id`` of the streams this source started, by name: the session resolves
        them by it, so a stream of the same name from another session is never pulled.
        Drivers tag them with :func:`bci._ownership.owned_source_id` and
        :func:`bci._ownership.current_session_id`.
    protocol_ids : dict of str to str
        ``source_id`` of the protocol streams (markers, descriptions, truth) this source
        publishes, by name: the session waits for them and records them.
    """

    streams: tuple[str, ...] = ()
    inlet: Any | None = None
    protocol: tuple[str, ...] | None = None
    producer: Any | None = field(default=None, repr=False)
    inlets: dict[str, Any] = field(default_factory=dict)
    begin: Callable[[], Any] | None = field(default=None, repr=False)
    wait_end: Callable[[], Any] | None = field(default=None, repr=False)
    source_ids: dict[str, str] = field(default_factory=dict)
    protocol_ids: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the producer, if any."""
        if self.producer is not None:
            self.producer.stop()


class Source(Protocol):
    """A source driver: starts one configured source and returns its streams."""

    def __call__(self, config: Any, index: int) -> StartedSource: ...  # noqa: D102


_REGISTRY: dict[str, Source] = {}


def register_source(kind: str, driver: Source) -> None:
    """Register ``driver`` for ``sources[].kind == kind`` (a later call replaces it)."""
    _REGISTRY[kind] = driver


def source_driver(kind: str) -> Source:
    """The driver registered for ``kind``.

    Raises
    ------
    ConfigError
        When no driver is registered for it.
    """
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"sources[].kind={kind!r} has no driver; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def source_kinds() -> tuple[str, ...]:
    """The registered kinds, sorted."""
    return tuple(sorted(_REGISTRY))


# ---------------------------------------------------------------------- built-in drivers
def simulated_process(config: Any, timeout: float = 60.0, session_id: str | None = None) -> Any:
    """The simulated participant in a process of its own, started.

    Its signal generator and schedule threads then never compete with the runtime's hot
    path for the GIL; it talks to the runtime over LSL only, like a real headset. With a
    ``session_id`` its streams' source ids carry it.
    """
    from ._child import ChildProcess

    child = ChildProcess(
        "bci.devices.simulated",
        [config.model_dump_json(), *([session_id] if session_id else [])],
        f"the simulated participant {config.name!r}",
    )
    return child.start(timeout, error=DeviceError)


def _simulated(config: Any, index: int) -> StartedSource:
    from bci.devices.simulated._offline import resolve_paradigm, signal_spec

    protocol = tuple(
        getattr(config, key, default)
        for key, default in zip(("markers", "stimuli", "truth"), PROTOCOL_STREAMS, strict=True)
    )
    sid = current_session_id.get()
    published = {config.truth: f"{config.truth}-seed{config.seed}"}
    if resolve_paradigm(config) != "none":  # its headless schedule
        published |= {name: f"{name}-schedule" for name in (config.markers, config.stimuli)}
    return StartedSource(
        (config.name,),
        protocol=protocol,
        producer=simulated_process(config, session_id=sid),
        source_ids={config.name: owned_source_id(signal_spec(config, ()).source_id, sid)},
        protocol_ids={n: owned_source_id(base, sid) for n, base in published.items()},
    )


def _brainflow(config: Any, index: int) -> StartedSource:
    from bci.devices import BoardBrainFlow

    board = BoardBrainFlow(config.board, config.params, config.name).start()
    return StartedSource(
        tuple(spec.name for spec in board.specs[:1]),
        producer=board,
        source_ids={spec.name: spec.source_id for spec in board.specs[:1]},
    )


def _replay(config: Any, index: int) -> StartedSource:
    import os

    import pylsl

    from bci.devices import ReplayLSL, SourceLSL

    # unique source ids: the session's own (see bci._ownership), and distinct per replay, so
    # that parallel replays of one file never get mixed up
    sid = current_session_id.get()
    prefix = f"{sid}/{index}-" if sid else f"replay-{os.getpid()}-{id(config):x}-{index}-"
    player = ReplayLSL(
        config.path, speed=config.speed, loop=config.loop, sfreq=config.sfreq, source_prefix=prefix
    ).open()  # outlets now; publishing starts with begin(), once the session is connected
    signal_specs = [s for s in player.specs if s.sfreq > 0]
    if not signal_specs:
        player.stop()
        raise BCIError(f"sources[{index}]: replay of {config.path} has no signal stream to decode")
    first = signal_specs[0]
    specs = [first, *(s for s in player.specs if s is not first)]
    # Same process, same clock: the replayed timestamps are the replay schedule, read without
    # clock correction or dejitter (at speed X the schedule runs X times the nominal rate,
    # which a dejitter fitted to the nominal rate would stretch back out, pulling EEG and
    # markers apart); latency is measured against the schedule.
    inlets = {
        s.name: SourceLSL(
            source_id=s.source_id,
            timeout=10.0,
            processing_flags=pylsl.proc_threadsafe,
            dejitter=False,
        )
        for s in specs
    }
    return StartedSource(
        tuple(s.name for s in specs),
        producer=player,
        inlets=inlets,
        begin=lambda: player.start(wait_consumers=2.0),
        wait_end=None if config.loop else player.wait,
        source_ids={s.name: s.source_id for s in specs},
    )


def _lsl(config: Any, index: int) -> StartedSource:
    from bci.devices import SourceLSL

    if index == 0:
        inlet = SourceLSL(
            name=config.name, stype=config.stype, source_id=config.source_id, timeout=config.timeout
        )
        return StartedSource((), inlet=inlet)
    return StartedSource((config.name,) if config.name else ())


register_source("simulated", _simulated)
register_source("brainflow", _brainflow)
register_source("replay", _replay)
register_source("lsl", _lsl)


class SessionSources:
    """Start every configured source through its driver; build the inlets the engine pulls."""

    def __init__(self, session_id: str | None = None) -> None:
        self.started: list[StartedSource] = []
        self.protocol_names: tuple[str, ...] = PROTOCOL_STREAMS
        self.protocol_ids: dict[str, str] = {}  # protocol streams our sources publish
        self.session_id = session_id

    def start(self, sources: list[Any]) -> tuple[Any, list[Any]]:
        """Start ``sources`` (config entries) in order.

        Returns
        -------
        first : SourceLSL
            The decoded stream (not yet connected).
        aux : list of SourceLSL
            The other streams to pull and record.
        """
        from bci.devices import SourceLSL

        if not sources:
            raise ConfigError("sources: at least one source is needed")
        first: Any = None
        names: list[str] = []
        ids: dict[str, str] = {}
        token = current_session_id.set(self.session_id)  # drivers tag what they start
        try:
            for i, src in enumerate(sources):
                started = source_driver(src.kind)(src, i)
                self.started.append(started)
                ids.update(started.source_ids)
                self.protocol_ids.update(started.protocol_ids)
                if started.protocol is not None:
                    self.protocol_names = started.protocol
                if i == 0 and started.inlet is not None:
                    first = started.inlet
                names.extend(started.streams)
        finally:
            current_session_id.reset(token)
        # streams a source started are resolved by their source_id, never a namesake's
        ready = {n: src for s in self.started for n, src in s.inlets.items()}
        if first is None:
            if not names:
                raise ConfigError("sources[0] offers no stream to decode")
            first = ready.get(names[0]) or SourceLSL(
                name=names[0], source_id=ids.get(names[0]), timeout=10.0
            )
            names = names[1:]
        aux = [
            ready.get(n) or SourceLSL(name=n, source_id=ids.get(n), timeout=5.0) for n in names if n
        ]
        return first, aux

    def begin(self) -> None:
        """Start the sources that wait for the session to be connected (replays)."""
        for s in self.started:
            if s.begin is not None:
                s.begin()

    @property
    def finite(self) -> bool:
        """Whether the session's data end by themselves (replays, none of them looping)."""
        return bool(self.started) and all(s.wait_end is not None for s in self.started)

    def wait_end(self) -> None:
        """Block until every source's data ended (see :attr:`finite`)."""
        for s in self.started:
            if s.wait_end is not None:
                s.wait_end()

    def stop(self) -> None:
        """Stop every started producer, last started first."""
        for s in reversed(self.started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - every producer must get its stop call
                logger.exception("stopping %s failed", s)
        self.started.clear()


def protocol_sources(
    names: tuple[str, ...],
    exclude: set[str],
    session_id: str | None = None,
    extra: list[str] | None = None,
    expected: dict[str, str] | None = None,
) -> list[Any]:
    """Connected SourceLSL for this session's protocol streams and ``recording.streams``.

    Parameters
    ----------
    names : tuple of str
        Protocol stream names (markers, stimulus descriptions, ground truth).
    exclude : set of str
        Source ids already pulled (the configured sources).
    session_id : str | None
        This session's id: a protocol stream is its own when its source_id carries it; a
        namesake from another session or host is skipped and logged.
    extra : list of str | None
        ``recording.streams``: names or LSL predicates recorded as well.
    expected : dict of str to str | None
        Protocol streams this session's sources publish (name -> source_id): waited for
        (up to 5 s each) rather than looked up once, so a loaded host cannot miss them.

    Raises
    ------
    ConfigError
        An entry of ``recording.streams`` matches nothing.
    """
    import pylsl

    from bci.devices import SourceLSL, list_streams

    from ._ownership import select_protocol_streams

    visible = list_streams(timeout=1.0, desc=False)
    chosen = select_protocol_streams(visible, names, session_id or "", exclude)
    for spec in chosen.foreign:
        logger.info(
            "not recording %r (source_id %r): another session's or host's stream; "
            "name it in recording.streams to record it",
            spec.name,
            spec.source_id,
        )
    out = [SourceLSL(name=s.name, source_id=s.source_id, timeout=5.0) for s in chosen.own]
    seen = {s.source_id for s in chosen.own} | set(exclude)
    for name, sid in (expected or {}).items():
        if name in names and sid not in seen:
            if pylsl.resolve_bypred(f"source_id='{sid}'", minimum=1, timeout=5.0):
                seen.add(sid)
                out.append(SourceLSL(name=name, source_id=sid, timeout=5.0))
            else:
                logger.warning("protocol stream %r (source_id %r) did not appear", name, sid)
    for i, item in enumerate(extra or []):
        pred = item if ("=" in item or "(" in item) else f"name='{item}'"
        found = pylsl.resolve_bypred(pred, minimum=1000, timeout=2.0)
        if not found:
            raise ConfigError(
                f"recording.streams[{i}]: no LSL stream matches {pred!r}",
                [(f"recording.streams[{i}]", item, "a stream on the network")],
            )
        for info in found:
            if info.source_id() not in seen:
                seen.add(info.source_id())
                out.append(SourceLSL(name=info.name(), source_id=info.source_id(), timeout=5.0))
    for src in out:
        src.connect()
    if out:
        logger.info("recording protocol streams: %s", ", ".join(s.spec.name for s in out))
    return out


def outlet_factory(spec: Any) -> Any:
    """An LSL outlet for ``spec`` (what the engine is given to publish its outputs)."""
    from bci.devices import OutletLSL

    return OutletLSL(spec)


__all__ = [
    "PROTOCOL_STREAMS",
    "SessionSources",
    "Source",
    "StartedSource",
    "outlet_factory",
    "protocol_sources",
    "register_source",
    "source_driver",
    "source_kinds",
]
