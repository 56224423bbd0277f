"""The engine: sources -> preprocess -> window -> decoder -> post-process -> outputs.

The decoded source has one thread of its own, the hot path: it blocks on the LSL inlet
until a sample arrives (no polling), then filters, windows, decodes, post-processes and
hands the decision to the LSL outlets, the MQTT outbox and the recorder queue (all
thread-safe) without any hand-off to another thread or to the event loop in between.
The asyncio loop owns the rest: recorded-only sources (markers...), metrics, the stop
condition. Recording is lossless (the recorder's writer thread drains its own queue).

Overrun policy: while the decoder is busy, samples wait in the inlet. The next pull takes
them all and the windower cuts one window ending at the newest sample; the hops passed in
between are counted (``skipped_hops``), never decoded late, so a slow decoder cannot build
a backlog. A window that is older than the decision budget by the time it is cut (the
host stalled) is dropped and counted as an overrun.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pylsl

from .._errors import BCIError, DecoderError
from .._types import Chunk, Marker, StreamSpec
from ._conditions import SustainedCondition
from ._pipeline import Pipeline
from ._postprocess import PostprocessSettings
from ._realtime import connect_source, promote_thread
from ._score import OnlineScore
from ._stats import STAGES, Budgets, Counters, LatencyStats
from ._window import Window

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1


class Source(Protocol):
    """What the engine needs from a source (``bci.devices.SourceLSL``; see docs/design.md#streams)."""

    spec: StreamSpec
    lost_samples: int

    def connect(self) -> Any: ...  # noqa: D102
    def disconnect(self) -> Any: ...  # noqa: D102
    def pull(self, timeout: float = 0.0) -> Chunk | None: ...  # noqa: D102
    def events(self) -> list[Marker]: ...  # noqa: D102


class Decoder(Protocol):
    """What the engine needs from a decoder (``bci.DecoderONNX``; see docs/design.md#decoder)."""

    n_channels: int
    n_times: int
    provider: str

    def __call__(self, x: np.ndarray) -> np.ndarray: ...  # noqa: D102
    def warmup(self, n: int = 10) -> float: ...  # noqa: D102


class Publisher(Protocol):
    """What the engine needs from the MQTT client: a non-blocking publish, and a wake-up."""

    def publish(  # noqa: D102
        self,
        kind: str,
        payload: dict,
        qos: int | None = None,
        retain: bool = False,
        wake: bool = True,
    ) -> bool: ...
    def wake(self) -> None: ...  # noqa: D102


@dataclass(frozen=True)
class EngineSettings:
    """How the engine processes the decoded source.

    Parameters
    ----------
    session : str
        Session name (payloads, stream source ids).
    window, hop : float
        Window length and hop in seconds.
    bandpass, notch, reref, resample, channels
        Preprocessing (see :class:`~bci._runtime._filters.PreprocessSettings`).
    postprocess : PostprocessSettings
        Smoothing, threshold, dwell.
    budgets : Budgets
        Latency budgets in ms.
    lsl_outputs : bool
        Publish the decision and stamps outlets.
    lsl_name : str
        Name of the decision outlet; the stamps outlet is ``<lsl_name>-stamps``.
    pull_timeout : float
        Seconds the hot path blocks on the decoded source's inlet waiting for a sample
        before it checks whether to stop (a sample wakes it at once).
    aux_poll_interval : float
        Same for recorded-only sources (markers...).
    warmup : int
        Decoder warm-up runs before the session starts.
    metrics_interval : float
        Seconds between metrics (MQTT, recording, status callback).
    switch_interval : float | None
        Python's GIL switch interval while the engine runs (``sys.setswitchinterval``;
        restored afterwards). Python's own 5 ms lets another thread (the event loop, a
        recorded-only source's pull) keep the GIL that long while the hot path waits for it
        after each liblsl or onnxruntime call. The default, 0.5 ms, bounds that wait: in
        20-s default sessions on the loaded 2-core CI machine it took transport p50 from
        2.4 to 1.4 ms and decision p99 from 10-11 to 7-7.4 ms. ``None`` leaves Python's.
    realtime_priority : int | None
        ``SCHED_FIFO`` priority (1-99) of the hot-path thread and of liblsl's threads that
        receive the decoded stream, so that no ordinary process on the machine (a browser
        drawing the live view, a compiler) delays a decision by a scheduler slice. Linux
        only; it needs root, ``CAP_SYS_NICE`` or ``ulimit -r``, and without them the hot path
        keeps ordinary scheduling (the ``started`` event says which it got; see
        :mod:`bci._runtime._realtime`). ``None``: ordinary scheduling.
    publish_raw : bool
        Also publish the decoded stream's raw chunks on MQTT (``raw`` topic; off by default:
        raw neural data stay local unless asked for).
    mode : ``"auto"`` | ``"sliding"`` | ``"event"``
        ``auto``: one epoch per onset marker when the decoder's metadata describes onset
        epochs (``bci.epochs``), sliding windows otherwise; ``sliding`` forces windows;
        ``event`` requires the decoder to be event-locked.
    marker_stream : str | None
        Marker stream carrying the onsets of event-locked decoding (overrides the decoder's
        metadata); ``None`` takes the metadata's, or any marker stream when it names none.
    cue_streams : tuple of str | None
        Streams whose values are the cued class (online accuracy); ``None``: the ground-truth
        stream when one is recorded (type ``GroundTruth``), else every marker stream.
    grid_windows : bool
        Windows end exactly on the hop grid (scoring recordings: identical windows whatever
        the chunking) instead of at the newest sample in hand (live: lowest latency; the
        two differ by less than one chunk).
    cue_mapping : mapping of str to str | None
        Cue value -> class name (a calibration config's ``mapping``); values equal to a class
        name, or ending in one (``ssvep_8.0`` for ``8.0``), need none.
    """

    session: str = "default"
    window: float = 1.0
    hop: float = 0.1
    bandpass: tuple[float, float] | None = (1.0, 40.0)
    notch: float | None = 50.0
    reref: str | tuple[str, ...] | None = None
    resample: float | None = None
    channels: tuple[str, ...] | None = None
    postprocess: PostprocessSettings = field(default_factory=PostprocessSettings)
    budgets: Budgets = field(default_factory=Budgets)
    lsl_outputs: bool = True
    lsl_name: str = "bci-decisions"
    pull_timeout: float = 0.05
    aux_poll_interval: float = 0.01
    warmup: int = 10
    metrics_interval: float = 1.0
    switch_interval: float | None = 0.0005
    realtime_priority: int | None = 10
    publish_raw: bool = False
    mode: str = "auto"
    marker_stream: str | None = None
    cue_streams: tuple[str, ...] | None = None
    cue_mapping: Any = None
    grid_windows: bool = False


@dataclass
class _Rate:
    """Samples/s of one stream over the last metrics interval."""

    n: int = 0
    last_n: int = 0
    rate: float = 0.0


class Engine:
    """The real-time decode loop for one decoded source plus recorded-only sources.

    Parameters
    ----------
    source : Source
        The decoded source (connected by :meth:`prepare` if it is not yet).
    decoder : Decoder
        The decoder; its ``n_channels``/``n_times`` must match the preprocessed windows.
    settings : EngineSettings
        Processing settings.
    aux_sources : sequence of Source
        Streams recorded alongside (markers, stimulus descriptions, ground truth...).
    recorder : object | None
        A ``bci._recorder.RecorderXDF`` (docs/design.md#recording), or ``None`` not to record.
    publisher : Publisher | None
        The MQTT client, or ``None``.
    on_metrics : callable | None
        Called on the loop with :meth:`snapshot` every ``metrics_interval``.
    on_decision : callable | None
        Called on the hot path with every decision as a dict (``t_first``, ``t_last``,
        ``onset``, ``marker``, ``values`` (raw decoder output), ``smoothed``,
        ``label_index``, ``stamps``); it must return at once.
    outlet_factory : callable | None
        Builds an outlet (with ``push(data, timestamp)``) from a ``StreamSpec``; needed
        when ``settings.lsl_outputs`` is on (the session passes an LSL outlet).
    """

    def __init__(
        self,
        source: Source,
        decoder: Decoder,
        settings: EngineSettings | None = None,
        aux_sources: Sequence[Source] = (),
        recorder: Any = None,
        publisher: Publisher | None = None,
        on_metrics: Callable[[dict], None] | None = None,
        on_decision: Callable[[dict], None] | None = None,
        outlet_factory: Callable[[StreamSpec], Any] | None = None,
    ):
        self.on_decision = on_decision
        self.source = source
        self.decoder = decoder
        self.settings = settings or EngineSettings()
        self.aux_sources = list(aux_sources)
        self.recorder = recorder
        self.publisher = publisher
        self.on_metrics = on_metrics
        self.outlet_factory = outlet_factory
        self.counters = Counters()
        self.stats = LatencyStats(self.settings.budgets)
        self._prepared = False
        self._receiving = "not connected yet"
        self._rates: dict[str, _Rate] = {}
        self._rec_ids: dict[str, int] = {}
        self._t_start = math.nan
        self._last_metrics_t = math.nan
        self._last_decisions = 0
        self.decision_rate = 0.0
        self._in_bad_burst = False
        self._nonfinite = SustainedCondition(quiet=1.0)  # one start + one end event per burst
        self.last_decision: dict | None = None
        self.recent_events: deque[dict] = deque(maxlen=256)  # bounded: for status and tests

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> Engine:
        """Connect sources, build the processing chain, check the decoder and warm it up.

        Blocking (resolving LSL streams takes ~0.5 s); call it before :meth:`run`, from a
        thread or before the loop starts. Idempotent.

        Raises
        ------
        DecoderError
            When the preprocessed channels or rate differ from the decoder's.
        """
        if self._prepared:
            return self
        s = self.settings
        self._receiving = connect_source(self.source, s.realtime_priority)
        for aux in self.aux_sources:
            aux.connect()
        spec = self.source.spec
        self.pipeline = Pipeline(spec, self.decoder, s)
        logger.info(
            "stream %r: %d ch @ %g Hz; %s",
            spec.name,
            spec.n_channels,
            spec.sfreq,
            self.pipeline.describe(),
        )
        self.pre = self.pipeline.pre
        self.classes = self.pipeline.classes
        self.post = self.pipeline.post
        self.score = OnlineScore(self.classes, s.cue_mapping)
        if s.cue_streams is not None:
            self._cue_names = set(s.cue_streams)
        else:
            truth = {a.spec.name for a in self.aux_sources if a.spec.stype == "GroundTruth"}
            strings = {a.spec.name for a in self.aux_sources if a.spec.dtype == "string"}
            self._cue_names = truth or strings
        if self._cue_names:
            logger.info(
                "cued classes (online accuracy) from %s", ", ".join(sorted(self._cue_names))
            )
        self.decoder.warmup(s.warmup)
        self.model_id = str(getattr(self.decoder, "model_id", "decoder"))
        self._make_outputs()
        self._prepared = True
        return self

    def _make_outputs(self) -> None:
        s = self.settings
        sid = f"{s.session}-{s.lsl_name}"
        self.decision_spec = StreamSpec(
            name=s.lsl_name,
            stype="Decision",
            source_id=sid,
            sfreq=0.0,
            ch_names=(*self.classes, "label_index"),
            ch_types=("misc",) * (len(self.classes) + 1),
            units=("probability",) * len(self.classes) + ("index",),
            dtype="float32",
            manufacturer="bci-runtime",
        )
        self.stamps_spec = StreamSpec(
            name=f"{s.lsl_name}-stamps",
            stype="LatencyStamps",
            source_id=f"{sid}-stamps",
            sfreq=0.0,
            ch_names=("t_sample", "t_pull", "t_decoded", "t_published"),
            ch_types=("misc",) * 4,
            units=("s",) * 4,
            dtype="float64",
            manufacturer="bci-runtime",
        )
        self.events_spec = StreamSpec(
            name=f"{s.session}-events",
            stype="Events",
            source_id=f"{s.session}-events",
            sfreq=0.0,
            ch_names=("event",),
            dtype="string",
            manufacturer="bci-runtime",
        )
        self.metrics_spec = StreamSpec(
            name=f"{s.session}-metrics",
            stype="Metrics",
            source_id=f"{s.session}-metrics",
            sfreq=0.0,
            ch_names=("metrics",),
            dtype="string",
            manufacturer="bci-runtime",
        )
        self._out_decision = self._out_stamps = None
        if s.lsl_outputs:
            if self.outlet_factory is None:
                raise BCIError(
                    "EngineSettings.lsl_outputs is on but the engine was given no "
                    "outlet_factory; pass one (e.g. bci.devices.OutletLSL) or turn "
                    "outputs.lsl.enabled off"
                )
            self._out_decision = self.outlet_factory(self.decision_spec)
            self._out_stamps = self.outlet_factory(self.stamps_spec)
        self._dec_buf = np.zeros((len(self.classes) + 1, 1), np.float32)
        self._stamp_buf = np.zeros((4, 1), np.float64)
        if self.recorder is not None:
            for src in [self.source, *self.aux_sources]:
                self._rec_ids[src.spec.name] = self.recorder.add_stream(src.spec)
            for spec in (self.decision_spec, self.stamps_spec, self.events_spec, self.metrics_spec):
                self._rec_ids[spec.name] = self.recorder.add_stream(spec)

    # ------------------------------------------------------------------ running
    async def run(
        self, duration: float | None = None, stop: asyncio.Event | None = None
    ) -> Counters:
        """Run until ``duration`` seconds pass, ``stop`` is set, or a task fails.

        Returns
        -------
        Counters
            The final counts (also in :attr:`counters`).

        Raises
        ------
        BCIError
            Whatever a failing task raised (after the loop is stopped and cleaned up).
        """
        self.prepare()
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        self._executors = [
            ThreadPoolExecutor(1, thread_name_prefix=f"pull-{s.spec.name}")
            for s in self.aux_sources
        ]
        hot = ThreadPoolExecutor(1, thread_name_prefix="bci-hot-path")
        self._halt = threading.Event()
        self._t_start = self._last_metrics_t = pylsl.local_clock()
        old_switch = sys.getswitchinterval()
        if self.settings.switch_interval is not None:
            sys.setswitchinterval(self.settings.switch_interval)
        # the executor's one thread takes its scheduling first, then runs the hot path
        scheduling = await loop.run_in_executor(
            hot, promote_thread, self.settings.realtime_priority
        )
        hot_future = loop.run_in_executor(hot, self._hot_loop)
        tasks = [
            asyncio.create_task(self._pump(i, s), name=f"pump-{s.spec.name}")
            for i, s in enumerate(self.aux_sources)
        ]
        tasks.append(asyncio.create_task(self._metrics_loop(), name="metrics"))
        stopper = asyncio.create_task(stop.wait(), name="stop")
        waiters = [hot_future, *tasks, stopper]
        logger.info("hot path: %s; receiving the stream: %s", scheduling, self._receiving)
        self._event(
            "started",
            model_id=self.model_id,
            provider=self.decoder.provider,
            scheduling=scheduling,
            receiving=self._receiving,
        )
        error: BaseException | None = None
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED
            )
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    error = t.exception()
                    name = "hot path" if t is hot_future else t.get_name()
                    logger.error("%s failed; stopping the session", name, exc_info=error)
        finally:
            self._halt.set()
            for t in waiters:
                if t is not hot_future:
                    t.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            for ex in [*self._executors, hot]:
                ex.shutdown(wait=True, cancel_futures=True)
            sys.setswitchinterval(old_switch)
            self.score.update(math.inf)  # the hot path is done: score what waited for cues
            self._publish_metrics(final=True)
            ev = self._nonfinite.close(pylsl.local_clock())
            if ev is not None:
                self._event("nonfinite", unit="samples", **ev)
            self._event("stopped", **self._short_counts())
        if error is not None:
            raise error
        return self.counters

    def close(self) -> None:
        """Disconnect sources (inlets before any outlet) and drop the outlets. Idempotent."""
        for src in [self.source, *self.aux_sources]:
            try:
                src.disconnect()
            except BCIError:
                logger.exception("disconnecting %s failed", src)
        self._out_decision = self._out_stamps = None

    # ------------------------------------------------------------------ sources
    @staticmethod
    def _pull_wait(source: Source, poll: float, max_wait: float) -> Chunk | None:
        """Poll ``pull()`` in the executor thread until data arrive or ``max_wait`` passes."""
        deadline = time.perf_counter() + max_wait
        while True:
            chunk = source.pull()
            if chunk is not None or time.perf_counter() >= deadline:
                return chunk
            time.sleep(poll)

    async def _pump(self, index: int, source: Source) -> None:
        """Pull one recorded-only source in its executor thread and record what arrives."""
        loop = asyncio.get_running_loop()
        ex = self._executors[index]
        poll = self.settings.aux_poll_interval
        while True:
            chunk = await loop.run_in_executor(ex, self._pull_wait, source, poll, 0.05)
            for ev in source.events():
                self._source_event(ev)
            if chunk is not None:
                if chunk.spec.dtype == "string":
                    self._markers(chunk)
                self._record(source, chunk)

    def _markers(self, chunk: Chunk) -> None:
        """Hand a marker chunk to the epocher (onsets) and the online score (cues)."""
        name = chunk.spec.name
        cue = name in self._cue_names
        onsets = self.pipeline.event_locked
        for value, t in zip(chunk.data[0], chunk.timestamps, strict=True):
            if onsets:
                self.pipeline.add_marker(name, float(t), str(value))
            if cue:
                self.score.add_cue(float(t), str(value))

    def _record(self, source: Source, chunk: Chunk) -> None:
        name = source.spec.name
        self._rates.setdefault(name, _Rate()).n += chunk.n_times
        if self.recorder is not None:
            data = list(chunk.data[0]) if chunk.spec.dtype == "string" else chunk.data
            self.recorder.write(self._rec_ids[name], data, chunk.timestamps)

    # ------------------------------------------------------------------ the hot path
    def _hot_loop(self) -> None:
        """Pull, preprocess, window, decode and publish in this one thread until halted."""
        source = self.source
        wait = self.settings.pull_timeout
        consecutive_errors = 0
        while not self._halt.is_set():
            chunk = source.pull(timeout=wait)
            for ev in source.events():
                self._source_event(ev)
            if chunk is None:
                continue
            for win in self._on_chunk(chunk):
                try:
                    self._decode(win)
                    consecutive_errors = 0
                except DecoderError:
                    self.counters.decoder_errors += 1
                    consecutive_errors += 1
                    logger.exception("decoder failed on a window (%d in a row)", consecutive_errors)
                    if consecutive_errors >= 10:
                        raise
            self._record(source, chunk)  # after the decision: the recorder is not in the budget
            if self.settings.publish_raw and self.publisher is not None:
                self.publisher.publish(
                    "raw",
                    {
                        "stream": chunk.spec.name,
                        "seq": chunk.seq,
                        "ch_names": list(chunk.spec.ch_names),
                        "timestamps": chunk.timestamps,
                        "data": chunk.data,
                    },
                )

    def _on_chunk(self, chunk: Chunk) -> list[Window]:
        """Count, clean, filter and cut one chunk; the windows (or epochs) to decode."""
        c = self.counters
        c.chunks += 1
        c.samples += chunk.n_times
        c.lost_samples = int(self.source.lost_samples)
        cut = self.pipeline.cut(chunk.data, chunk.timestamps, chunk.t_pull)
        if cut.nonfinite:
            c.nonfinite_samples += cut.nonfinite
            ev = self._nonfinite.update(True, cut.t_nonfinite, cut.nonfinite, cut.t_nonfinite_last)
        else:
            ev = self._nonfinite.update(False, chunk.timestamps[-1]) if chunk.n_times else None
        if ev is not None:
            self._event("nonfinite", unit="samples", **ev)
        c.windows += len(cut.windows) + len(cut.bad_windows)
        c.skipped_hops += cut.skipped
        if cut.bad_windows:
            c.skipped_nonfinite += len(cut.bad_windows)
            if not self._in_bad_burst:
                self._in_bad_burst = True
                self._event(
                    "window_skipped", reason="nonfinite samples", t_sample=cut.bad_windows[0].t_last
                )
        elif cut.windows:
            self._in_bad_burst = False
        return cut.windows

    def _source_event(self, ev: Marker) -> None:
        try:
            fields = json.loads(ev.value)
        except json.JSONDecodeError:
            fields = {"value": ev.value}
        self._event("source", stream=ev.stream, t=ev.timestamp, **fields)

    # ------------------------------------------------------------------ decoding
    def _decode(self, win: Window) -> None:
        """Decode, post-process and publish one window (or drop it when already stale).

        An event-locked epoch is never dropped (one decision per onset); a late one is
        counted as an overrun by the latency statistics.
        """
        if (
            win.onset is None
            and (pylsl.local_clock() - win.t_last) * 1e3 > self.settings.budgets.decision_ms
        ):
            self.counters.dropped_stale += 1  # the host stalled: never decode a late window
            self.counters.overruns += 1
            return
        values = self.decoder(win.data)
        self._publish(win, values, pylsl.local_clock())

    def _publish(self, win: Window, values: np.ndarray, t_decoded: float) -> None:
        c = self.counters
        smoothed, label_index = self.post(values)
        label = self.post.label(label_index)
        c.decisions += 1
        seq = c.decisions
        if self._out_decision is not None:
            self._dec_buf[:-1, 0] = smoothed
            self._dec_buf[-1, 0] = label_index
            self._out_decision.push(self._dec_buf, win.t_last)
        if self.publisher is not None:
            payload = {
                "v": PAYLOAD_VERSION,
                "session": self.settings.session,
                "seq": seq,
                "label": label,
                "values": [round(float(v), 6) for v in smoothed],
                "classes": self.classes,
                "model_id": self.model_id,
                "window": [win.t_first, win.t_last],
                "t_sample": win.t_last,
                "t_pull": win.t_pull,
                "t_decoded": t_decoded,
            }
            self.publisher.publish("decision", payload, wake=False)  # handed over; sent below
        t_published = pylsl.local_clock()
        stamps = {
            "t_sample": win.t_last,
            "t_pull": win.t_pull,
            "t_decoded": t_decoded,
            "t_published": t_published,
        }
        if self._out_stamps is not None:
            self._stamp_buf[:, 0] = (win.t_last, win.t_pull, t_decoded, t_published)
            self._out_stamps.push(self._stamp_buf, win.t_last)
        over = self.stats(stamps)
        for stage in over:
            c.stage_overruns[stage] += 1
        if "decision" in over:
            c.overruns += 1
        if label is not None:
            c.labels += 1
        if self.recorder is not None:
            row = np.append(smoothed, label_index).astype(np.float32)[:, None]
            self.recorder.write(self._rec_ids[self.decision_spec.name], row, np.array([win.t_last]))
            self.recorder.write(
                self._rec_ids[self.stamps_spec.name],
                np.array([[win.t_last], [win.t_pull], [t_decoded], [t_published]]),
                np.array([win.t_last]),
            )
        self.score.add_decision(win.t_first, win.t_last, label_index, win.marker)
        self.score.update(win.t_last)
        cued = self.score.cue_at(win.t_last) if win.marker is None else None
        if win.marker is not None:
            cued = self.score.mapper(win.marker)
        self.last_decision = {
            "seq": seq,
            "label": label,
            "values": smoothed,
            "stamps": stamps,
            "prob": float(np.max(smoothed)) if len(smoothed) else None,
            "cue": None if cued is None else self.classes[cued],
        }
        if self.on_decision is not None:
            self.on_decision(
                {
                    "t_first": win.t_first,
                    "t_last": win.t_last,
                    "onset": win.onset,
                    "marker": win.marker,
                    "values": np.array(values, np.float32),
                    "smoothed": smoothed,
                    "label_index": label_index,
                    "stamps": stamps,
                }
            )
        if self.publisher is not None:
            self.publisher.wake()  # the decision is out and stamped: now MQTT may send it

    # ------------------------------------------------------------------ events, metrics
    def _event(self, kind: str, **fields: Any) -> None:
        t = pylsl.local_clock()
        payload = {
            "v": PAYLOAD_VERSION,
            "session": self.settings.session,
            "event": kind,
            "t": t,
            **fields,
        }
        text = json.dumps(payload, default=_json_default)
        self.recent_events.append(payload)
        if self.recorder is not None and self.events_spec.name in self._rec_ids:
            self.recorder.write(self._rec_ids[self.events_spec.name], [text], np.array([t]))
        if self.publisher is not None:
            self.publisher.publish("events", payload, qos=1)
        logger.log(logging.DEBUG if kind == "source" else logging.INFO, "event %s", text)

    def _short_counts(self) -> dict[str, int]:
        c = self.counters
        return {
            "decisions": c.decisions,
            "overruns": c.overruns,
            "dropped_stale": c.dropped_stale,
            "skipped_hops": c.skipped_hops,
            "skipped_nonfinite": c.skipped_nonfinite,
            "nonfinite_samples": c.nonfinite_samples,
            "lost_samples": c.lost_samples,
        }

    def snapshot(self) -> dict:
        """Everything reported live: streams and rates, decisions/s, stage percentiles, counts."""
        if self.publisher is not None:
            self.counters.mqtt_sent = int(getattr(self.publisher, "sent", 0))
            self.counters.mqtt_unsent = int(getattr(self.publisher, "unsent", 0))
        counts = getattr(self.publisher, "counts", None)
        return {
            "v": PAYLOAD_VERSION,
            "session": self.settings.session,
            "t": pylsl.local_clock(),
            "elapsed": pylsl.local_clock() - self._t_start
            if not math.isnan(self._t_start)
            else 0.0,
            "streams": {name: round(r.rate, 2) for name, r in self._rates.items()},
            "decisions_per_s": round(self.decision_rate, 2),
            "latency_ms": {
                st: {k: (round(v, 4) if math.isfinite(v) else None) for k, v in p.items()}
                for st, p in self.stats.summary().items()
            },
            "budgets_ms": {st: self.settings.budgets.of(st) for st in STAGES},
            "counters": self.counters.as_dict(),
            "provider": self.decoder.provider,
            "model_id": self.model_id,
            "event_locked": bool(self._prepared and self.pipeline.event_locked),
            "decision": None
            if self.last_decision is None
            else {k: self.last_decision[k] for k in ("label", "prob", "cue")},
            "online": self.score.summary() if self._prepared and self.score.active else None,
            "mqtt": counts() if counts is not None else None,
        }

    def _publish_metrics(self, final: bool = False) -> dict:
        now = pylsl.local_clock()
        dt = max(1e-6, now - self._last_metrics_t)
        for r in self._rates.values():
            r.rate = (r.n - r.last_n) / dt
            r.last_n = r.n
        self.decision_rate = (self.counters.decisions - self._last_decisions) / dt
        self._last_decisions = self.counters.decisions
        self._last_metrics_t = now
        snap = self.snapshot()
        snap["final"] = final
        if self.recorder is not None and self.metrics_spec.name in self._rec_ids:
            self.recorder.write(
                self._rec_ids[self.metrics_spec.name],
                [json.dumps(snap, default=_json_default)],
                np.array([now]),
            )
        if self.publisher is not None:
            self.publisher.publish("metrics", snap, qos=0)
        if self.on_metrics is not None:
            self.on_metrics(snap)
        return snap

    async def _metrics_loop(self) -> None:
        interval = self.settings.metrics_interval
        next_t = time.perf_counter() + interval
        while True:
            await asyncio.sleep(max(0.0, next_t - time.perf_counter()))
            next_t += interval
            self._publish_metrics()


def _json_default(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return str(obj)
