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
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import BCIError, ConfigError, DeviceError

logger = logging.getLogger(__name__)

#: Streams of the stimulus protocol (docs/design.md#stimulus-protocol) recorded whenever they
#: are on the network.
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
    inlets : dict
        Ready inlets for some of ``streams`` (by name), used instead of a plain
        ``SourceLSL(name=...)`` (a replay's streams are read by source id, undejittered).
    replay : Any | None
        A file player opened but not started: the session starts it once the engine is
        connected (``start(wait_consumers=...)``) and may wait for its end (``wait()``).
    """

    streams: tuple[str, ...] = ()
    inlet: Any | None = None
    protocol: tuple[str, ...] | None = None
    producer: Any | None = field(default=None, repr=False)
    inlets: dict[str, Any] = field(default_factory=dict, repr=False)
    replay: Any | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the producer, if any."""
        if self.producer is not None:
            self.producer.stop()


class Source(Protocol):
    """A source driver: starts one configured source and returns its streams."""

    def __call__(self, config: Any, index: int, session: str) -> StartedSource: ...  # noqa: D102


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
def simulated_process(config: Any, timeout: float = 60.0) -> Any:
    """The simulated participant in a process of its own, started.

    Its signal generator and schedule threads then never compete with the runtime's hot
    path for the GIL; it talks to the runtime over LSL only, like a real headset.
    """
    from ._child import ChildProcess

    child = ChildProcess(
        "bci.devices.simulated",
        [config.model_dump_json()],
        f"the simulated participant {config.name!r}",
    )
    return child.start(timeout, error=DeviceError)


def _simulated(config: Any, index: int, session: str = "") -> StartedSource:
    protocol = tuple(
        getattr(config, key, default)
        for key, default in zip(("markers", "stimuli", "truth"), PROTOCOL_STREAMS, strict=True)
    )
    return StartedSource((config.name,), protocol=protocol, producer=simulated_process(config))


def _brainflow(config: Any, index: int, session: str = "") -> StartedSource:
    from bci.devices import BoardBrainFlow

    board = BoardBrainFlow(config.board, config.params, config.name).start()
    return StartedSource(tuple(spec.name for spec in board.specs[:1]), producer=board)


def _replay(config: Any, index: int, session: str = "") -> StartedSource:
    import os

    from bci.devices import ReplayLSL

    # opened now, started once the engine is connected (SessionSources.start_replays): the
    # session then sees the file from its first sample; unique source ids, resolved by id
    player = ReplayLSL(
        config.path,
        speed=config.speed,
        loop=config.loop,
        sfreq=config.sfreq,
        source_prefix=f"{session}-{os.getpid()}-{index}-",
    ).open()
    signal_specs = [s for s in player.specs if s.sfreq > 0]
    if not signal_specs:
        player.stop()
        raise BCIError(f"sources[{index}]: replay of {config.path} has no signal stream to decode")
    ordered = [signal_specs[0], *(s for s in player.specs if s is not signal_specs[0])]
    return StartedSource(
        tuple(spec.name for spec in ordered),
        producer=player,
        inlets={spec.name: _replay_inlet(spec) for spec in ordered},
        replay=player,
    )


def _replay_inlet(spec: Any) -> Any:
    """An inlet on a stream replayed by this process: its timestamps are the replay schedule.

    Same process, same clock: no clock correction, and no dejitter (at speed X the schedule
    runs X times the nominal rate, which a dejitter fitted to the nominal rate would stretch
    back out: EEG and marker clocks would drift apart). Latency is then measured against
    the replay schedule.
    """
    import pylsl

    from bci.devices import SourceLSL

    return SourceLSL(
        source_id=spec.source_id,
        timeout=10.0,
        processing_flags=pylsl.proc_threadsafe,
        dejitter=False,
    )


def _lsl(config: Any, index: int, session: str = "") -> StartedSource:
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

    def __init__(self) -> None:
        self.started: list[StartedSource] = []
        self.protocol_names: tuple[str, ...] = PROTOCOL_STREAMS

    def start(self, sources: list[Any], session: str = "session") -> tuple[Any, list[Any]]:
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
        inlets: dict[str, Any] = {}
        for i, src in enumerate(sources):
            started = source_driver(src.kind)(src, i, session)
            self.started.append(started)
            if started.protocol is not None:
                self.protocol_names = started.protocol
            if i == 0 and started.inlet is not None:
                first = started.inlet
            names.extend(started.streams)
            inlets.update(started.inlets)
        if first is None:
            if not names:
                raise ConfigError("sources[0] offers no stream to decode")
            first = inlets.get(names[0]) or SourceLSL(name=names[0], timeout=10.0)
            names = names[1:]
        aux = [inlets.get(n) or SourceLSL(name=n, timeout=5.0) for n in names if n]
        return first, aux

    @property
    def replays(self) -> list[Any]:
        """The file players of replay sources."""
        return [s.replay for s in self.started if s.replay is not None]

    def start_replays(self) -> None:
        """Start the replays (after the engine connected to their streams)."""
        for player in self.replays:
            player.start(wait_consumers=2.0)

    def wait_replays(self) -> None:
        """Block until every replay reached the end of its file (never when one loops)."""
        for player in self.replays:
            player.wait()

    def stop(self) -> None:
        """Stop every started producer, last started first."""
        for s in reversed(self.started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - every producer must get its stop call
                logger.exception("stopping %s failed", s)
        self.started.clear()


def protocol_sources(names: tuple[str, ...], exclude: set[str]) -> list[Any]:
    """Connected SourceLSL for each protocol stream (markers, descriptions, truth) visible now."""
    from bci.devices import SourceLSL, list_streams

    visible = {s.name for s in list_streams(timeout=1.0)}
    out = [SourceLSL(name=n, timeout=5.0) for n in names if n in visible and n not in exclude]
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
