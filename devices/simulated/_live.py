"""The simulated participant live on LSL, and a headless stimulus-schedule publisher.

:class:`SimulatedParticipant` runs two threads:

- the *listener* resolves the marker (``bci-markers``) and description (``bci-stimuli``)
  streams whenever they appear (``pylsl.ContinuousResolver``), pulls them with liblsl clock
  correction and hands every shown stimulus, stamped with its flip time, to a bounded queue;
- the *pusher* renders samples on an absolute schedule (sample ``i`` has timestamp
  ``t0 + i / sfreq`` on the LSL clock, ``chunk`` seconds per push, late wake-ups caught up
  in one larger push), applies the stimuli from the queue at their flip times, and pushes
  the ground truth of each one on ``bci-sim-truth`` (type ``GroundTruth``, JSON, timestamp =
  flip time).

A marker and a description with the same timestamp (+- 2 ms) are one stimulus; a marker
without a description within 50 ms is turned into one with :func:`describe_marker`. The
50 ms hold is shorter than the earliest response (P1 ~90 ms), so nothing is lost.

With a presenter's frame log (``frames``, EEG), visual responses follow the frames actually
drawn (:mod:`._frames`): bare markers are then no stimuli, and descriptions carrying
``"attend"`` set which target the participant attends (published on the truth stream).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import replace

import numpy as np
import pylsl

from bci._errors import DeviceError
from bci._ownership import is_owned, owned_source_id, session_of
from bci.config import SimulatedSourceConfig

from ._faults import FaultInjector
from ._offline import make_engine, resolve_paradigm, signal_spec
from ._protocol import describe_marker, paradigm_schedule

logger = logging.getLogger(__name__)

_MATCH = 0.002  # s: a marker and a description this close are the same stimulus
_HOLD = 0.05  # s: how long a bare marker waits for its description
_UNTAGGED_GRACE = 3.0  # s: how long a session's participant waits for its own streams


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


class ScheduleLSL:
    """Headless presenter: publishes a paradigm on the marker and description streams.

    Every stimulus is pushed at its scheduled time with that time as its (flip) timestamp:
    the description JSON on ``stimuli`` then the label on ``markers`` (docs/design.md#stimulus-protocol). With
    ``duration=None`` the schedule repeats (a new trial order every cycle) until
    :meth:`stop`.

    Parameters
    ----------
    paradigm : str
        ``ssvep`` (default paradigm: 8/10/12/15 Hz, 2 s on, 1 s rest), ``p300``, ``n170``,
        ``gestures``.
    duration : float | None
        Seconds of schedule, or ``None`` to loop.
    seed : int
        Trial order.
    markers, stimuli : str
        Stream names.
    delay : float
        Seconds between :meth:`start` and the first stimulus (lets inlets connect).
    session_id : str | None
        Id of the session that owns the schedule: tags its streams' source ids.
    """

    def __init__(
        self,
        paradigm: str = "ssvep",
        duration: float | None = None,
        seed: int = 0,
        markers: str = "bci-markers",
        stimuli: str = "bci-stimuli",
        delay: float = 2.0,
        session_id: str | None = None,
    ) -> None:
        paradigm_schedule(paradigm, 1.0)  # validates the name
        self.paradigm, self.duration, self.seed = paradigm, duration, seed
        self.markers, self.stimuli, self.delay = markers, stimuli, float(delay)
        self.session_id = session_id
        self.sent: deque[tuple[float, str]] = deque(maxlen=1000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = float("nan")

    def start(self) -> ScheduleLSL:
        """Create the outlets and start publishing (idempotent)."""
        if self._thread is not None:
            return self
        from bci.devices._lsl import MarkerOutletLSL

        sid = self.session_id
        self._out_m = MarkerOutletLSL(
            self.markers, "Markers", owned_source_id(f"{self.markers}-schedule", sid)
        )
        self._out_s = MarkerOutletLSL(
            self.stimuli, "StimulusDescription", owned_source_id(f"{self.stimuli}-schedule", sid)
        )
        self._stop.clear()
        self.t0 = pylsl.local_clock() + self.delay
        self._thread = threading.Thread(
            target=self._run, name=f"ScheduleLSL-{self.paradigm}", daemon=True
        )
        self._thread.start()
        logger.info("Headless %s schedule on %r / %r", self.paradigm, self.markers, self.stimuli)
        return self

    def _run(self) -> None:
        cycle, offset = 0, 0.0
        span = self.duration if self.duration is not None else 600.0
        while not self._stop.is_set():
            items = paradigm_schedule(self.paradigm, span, seed=self.seed + cycle, start=0.0)
            for onset, desc in items:
                t = self.t0 + offset + onset
                while (wait := t - pylsl.local_clock()) > 0:
                    if self._stop.wait(min(wait, 0.05)):
                        return
                self._out_s.push(json.dumps(desc), t)
                self._out_m.push(desc["label"], t)
                self.sent.append((t, desc["label"]))
            if self.duration is not None:
                return
            cycle, offset = cycle + 1, offset + span

    def stop(self) -> ScheduleLSL:
        """Stop publishing and remove the outlets (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
            self._out_m.close()
            self._out_s.close()
        return self


class SimulatedParticipant:
    """A virtual headset/armband on LSL whose signals respond to what is shown.

    Parameters
    ----------
    config : SimulatedSourceConfig | None
        Participant, mode, montage, rate, stream names, ``paradigm`` (a headless
        :class:`ScheduleLSL` is started unless ``none``), ``snr``, ``artifacts``.
    chunk : float
        Seconds of samples per push (default 20 ms).

    Examples
    --------
    >>> sim = SimulatedParticipant(SimulatedSourceConfig(paradigm="ssvep")).start()
    >>> ...  # resolve "bci-sim" with bci.devices.SourceLSL(name="bci-sim")
    >>> sim.stop()
    """

    def __init__(
        self,
        config: SimulatedSourceConfig | None = None,
        chunk: float = 0.02,
        session_id: str | None = None,
    ) -> None:
        self.config = config or SimulatedSourceConfig()
        self.session_id = session_id
        self.engine = make_engine(self.config)
        spec = signal_spec(self.config, self.engine.ch_names)
        self.spec = replace(spec, source_id=owned_source_id(spec.source_id, session_id))
        self.n_chunk = max(1, round(chunk * self.config.sfreq))
        f = self.config.faults
        self.faults = FaultInjector(
            self.engine.ch_names, self.config.sfreq, f.flat, f.railed, f.line_noise,
            self.config.line_freq,
        )  # fmt: skip
        self.truth: deque[dict] = deque(maxlen=10000)
        self.n_pushed = 0
        self.t0 = float("nan")
        self.schedule: ScheduleLSL | None = None
        self._queue: queue.Queue[tuple[float, dict | str]] = queue.Queue(maxsize=4096)
        self._frames_q: queue.Queue[tuple] = queue.Queue()
        self.frame_model = None  # FrameResponse, once a frame log is heard (EEG)
        self._attention: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        #: Which stimulus streams are connected: ``{"marker", "desc"}`` once both are.
        self.listening: set[str] = set()

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the publishing thread, or ``None`` while healthy."""
        return self._error

    @property
    def running(self) -> bool:
        """Whether the threads are alive."""
        return any(t.is_alive() for t in self._threads)

    def start(self) -> SimulatedParticipant:
        """Create the outlets, start listening and publishing (idempotent)."""
        if self._threads:
            return self
        from bci.devices._lsl import MarkerOutletLSL, OutletLSL

        cfg = self.config
        self._outlet = OutletLSL(self.spec, chunk_size=self.n_chunk)
        self._truth_out = MarkerOutletLSL(
            cfg.truth,
            "GroundTruth",
            owned_source_id(f"{cfg.truth}-seed{cfg.seed}", self.session_id),
        )
        self._stop.clear()
        self.t0 = pylsl.local_clock()
        self._threads = [
            threading.Thread(target=self._listen, name="sim-listen", daemon=True),
            threading.Thread(target=self._push, name="sim-push", daemon=True),
        ]
        for t in self._threads:
            t.start()
        paradigm = resolve_paradigm(cfg)
        if paradigm != "none":
            self.schedule = ScheduleLSL(
                paradigm, None, cfg.seed, cfg.markers, cfg.stimuli, session_id=self.session_id
            ).start()
        logger.info(
            "Simulated %s participant (seed %d) on LSL %r: %d ch @ %g Hz, listening to %r/%r",
            cfg.mode, cfg.seed, cfg.name, self.spec.n_channels, cfg.sfreq, cfg.markers, cfg.stimuli,
        )  # fmt: skip
        return self

    def stop(self) -> SimulatedParticipant:
        """Stop the threads and remove the outlets (idempotent)."""
        self._stop.set()
        for t in self._threads:  # the listener closes its inlets before the outlets go
            t.join(timeout=5.0)
        if self.schedule is not None:
            self.schedule.stop()
            self.schedule = None
        if self._threads:
            self._outlet.close()
            self._truth_out.close()
        self._threads = []
        if self._error is not None:
            raise DeviceError(f"simulated participant failed: {self._error}") from self._error
        return self

    def __enter__(self) -> SimulatedParticipant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ listener thread
    def _owned(self, found: list) -> list:
        return [i for i in found if is_owned(i.source_id(), self.session_id or "")]

    def _own_first(self, found: list, waited: float) -> list:
        """Stimulus streams this participant may follow, its own session's first.

        With a session id, a stream tagged with another session's id is never followed (two
        sessions on one machine publish namesakes). An untagged one (an external presenter)
        is followed only when none of the session's own has appeared within
        ``_UNTAGGED_GRACE`` seconds: a stranger's namesake found a moment before the
        session's own outlet must not win the race.
        """
        if self.session_id is None:
            return found
        own = self._owned(found)
        if own or waited < _UNTAGGED_GRACE:
            return own
        return [i for i in found if session_of(i.source_id()) is None]

    def _listen(self) -> None:
        cfg = self.config
        resolvers = {
            "marker": pylsl.ContinuousResolver(pred=f"name='{cfg.markers}'"),
            "desc": pylsl.ContinuousResolver(pred=f"name='{cfg.stimuli}'"),
        }
        if cfg.mode == "eeg" and cfg.frames:
            resolvers["frames"] = pylsl.ContinuousResolver(pred=f"name='{cfg.frames}'")
        inlets: dict[str, pylsl.StreamInlet] = {}
        untagged: set[str] = set()  # kinds followed on an external (untagged) stream
        started = last_check = time.monotonic()

        def drop(kind: str) -> pylsl.StreamInlet:
            untagged.discard(kind)
            self.listening.discard(kind)
            return inlets.pop(kind)

        try:
            while not self._stop.is_set():
                recheck = time.monotonic() - last_check > 0.5
                if recheck:
                    last_check = time.monotonic()
                for kind, res in resolvers.items():
                    if kind in untagged and recheck and self._owned(res.results()):
                        logger.info("Own %s stream appeared; leaving the untagged one", kind)
                        drop(kind).close_stream()
                    if kind not in inlets:
                        found = self._own_first(res.results(), time.monotonic() - started)
                        if found:
                            inlet = pylsl.StreamInlet(
                                found[0], max_buflen=30, processing_flags=pylsl.proc_clocksync
                            )
                            inlet.open_stream(timeout=5.0)
                            inlet.time_correction(timeout=5.0)  # the first one blocks ~0.6 s
                            if kind == "frames":
                                from bci.devices._lsl import spec_from_info

                                names = spec_from_info(inlet.info(timeout=5.0)).ch_names[1:]
                                self._frames_q.put(("names", names))
                            inlets[kind] = inlet
                            if self.session_id and session_of(found[0].source_id()) is None:
                                untagged.add(kind)
                            self.listening.add(kind)
                            logger.info("Simulated participant listens to %r", found[0].name())
                idle = True
                for kind, inlet in list(inlets.items()):
                    try:
                        values, stamps = inlet.pull_chunk(timeout=0.0)
                    except pylsl.util.LostError:
                        logger.warning("Stimulus stream %s lost; resolving again", kind)
                        drop(kind)  # a lost untagged stream must not mark its successor
                        continue
                    if kind == "frames":
                        if stamps:
                            idle = False
                            self._frames_q.put(("flips", np.asarray(stamps), np.asarray(values)))
                        continue
                    for v, ts in zip(values, stamps, strict=True):
                        idle = False
                        item: dict | str
                        if kind == "desc":
                            try:
                                item = json.loads(v[0])
                            except json.JSONDecodeError:
                                logger.warning(
                                    "Ignoring a malformed stimulus description: %r", v[0]
                                )
                                continue
                            if isinstance(item, dict) and item.get("kind") == "log":
                                continue  # the presenter's timing log: nothing is shown
                        else:
                            item = str(v[0])
                        try:
                            self._queue.put(((float(ts), item)), timeout=1.0)
                        except queue.Full:
                            logger.warning("Stimulus queue full; dropped %r", item)
                if idle:
                    self._stop.wait(0.005 if inlets else 0.2)
        finally:
            for inlet in inlets.values():
                inlet.close_stream()

    # ------------------------------------------------------------ pusher thread
    def _push(self) -> None:
        fs = self.config.sfreq
        pending: list[tuple[float, str, float]] = []  # bare markers: (t_flip, label, t_arrived)
        recent: deque[float] = deque(maxlen=256)  # flip times of applied descriptions
        from_marker: deque[float] = deque(maxlen=256)  # flip times of applied bare markers
        stimuli: list[tuple[float, dict]] = []
        try:
            while not self._stop.is_set():
                # A sample leaves when its own timestamp is reached, like a real amplifier.
                due = self.t0 + (self.n_pushed + self.n_chunk - 1) / fs
                wait = due - pylsl.local_clock()
                if wait > 0 and self._stop.wait(wait):
                    break
                now = pylsl.local_clock()
                n = max(self.n_chunk, int((now - self.t0) * fs) + 1 - self.n_pushed)
                self._drain_frames()
                while True:
                    try:
                        ts, item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, dict):
                        if any(abs(r - ts) <= _MATCH for r in from_marker):
                            logger.debug("Description at %.4f came after its marker; skipped", ts)
                            continue
                        recent.append(ts)
                        pending = [p for p in pending if abs(p[0] - ts) > _MATCH]
                        stimuli.append((ts, item))
                    elif not any(abs(r - ts) <= _MATCH for r in recent):
                        pending.append((ts, item, now))
                keep = []
                for ts, label, arrived in pending:
                    if any(abs(r - ts) <= _MATCH for r in recent):
                        continue
                    if now - arrived >= _HOLD:
                        # With a frame log, what was drawn is known frame by frame: a bare
                        # marker (offset, flash label, dropped frames) is no stimulus.
                        if self.frame_model is None:
                            stimuli.append((ts, describe_marker(label)))
                            from_marker.append(ts)
                    else:
                        keep.append((ts, label, arrived))
                pending = keep
                stimuli.sort(key=lambda s: s[0])
                stop = self.n_pushed + n
                chunks = []
                done = self.n_pushed
                later = []
                for ts, desc in stimuli:
                    first = int(np.ceil((ts - self.t0) * fs))
                    if first >= stop:
                        later.append((ts, desc))  # flip time still ahead of the samples
                        continue
                    if first > done:
                        chunks.append(self.engine.render(first - done))
                        done = first
                    self._apply(ts, desc)
                stimuli = later
                if stop > done:
                    chunks.append(self.engine.render(stop - done))
                data = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
                if self.frame_model is not None:
                    resp = self.frame_model.render(self.n_pushed, n)
                    if resp is not None:
                        data = data + resp
                if self.faults.active:
                    data = self.faults(np.array(data), self.n_pushed)
                stamps = self.t0 + (self.n_pushed + np.arange(n)) / fs
                self._outlet.push(data.astype(np.float32), stamps)
                self.n_pushed = stop
        except Exception as exc:  # reported by stop(); the thread must not die silently
            logger.exception("Simulated participant stopped on an error")
            self._error = exc

    def _drain_frames(self) -> None:
        """Feed the presenter's frame log to the frame model (flash ERPs, SSVEP drive)."""
        from ._frames import FrameResponse

        while True:
            try:
                item = self._frames_q.get_nowait()
            except queue.Empty:
                return
            if self.frame_model is None:
                self.frame_model = FrameResponse(self.engine, self.t0)
                for t, label in self._attention:
                    self.frame_model.attend(t, label)
            if item[0] == "names":
                self.frame_model.set_names(tuple(item[1]))
                continue
            for truth in self.frame_model.add(item[1], item[2][:, 1:]):
                self.truth.append(truth)
                self._truth_out.push(json.dumps(truth, default=_json_default), truth["onset"])

    def _apply(self, ts: float, desc: dict) -> None:
        truth = self.engine.stimulate(ts - self.t0, desc)
        if desc.get("attend") is not None:  # the participant attends the cued target
            truth["attend"] = str(desc["attend"])
            self._attention.append((ts, truth["attend"]))
            if self.frame_model is not None:
                self.frame_model.attend(ts, truth["attend"])
        truth["onset"] = ts  # LSL clock
        self.truth.append(truth)
        self._truth_out.push(json.dumps(truth, default=_json_default), ts)
