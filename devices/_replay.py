"""Replay a recording as live LSL streams, paced to an absolute schedule.

Every numeric stream keeps its name, type, source id, channel labels/types/units and
nominal rate; every marker stream (XDF string streams, annotations, status channels,
label columns) becomes a string stream. Sample ``i`` of a file with time ``t_i`` is
pushed with the LSL timestamp ``t_start + (t_i - t_first) / speed`` (the schedule)
once that time has come; the publishing thread wakes at fixed absolute times
(sleep, then spin for the last ~1 ms), so lateness never accumulates.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from bci._errors import RecordingError
from bci._types import Recording, StreamSpec

from ._lsl import MarkerOutletLSL, OutletLSL

if TYPE_CHECKING:
    import os

    from ._readers_mapping import CSVMapping

logger = logging.getLogger(__name__)

SPIN = 0.001  # seconds of busy-wait before each wake-up


def sleep_until(t_target: float, spin: float = SPIN, clock=pylsl.local_clock) -> float:  # noqa: ANN001
    """Sleep, then spin, until ``clock() >= t_target``; return the lateness in seconds."""
    while True:
        remaining = t_target - clock()
        if remaining <= 0:
            return -remaining
        if remaining > spin:
            time.sleep(remaining - spin)


@dataclass
class _Track:
    """One stream of the replay: its outlet, samples and file timestamps."""

    spec: StreamSpec
    timestamps: np.ndarray
    data: np.ndarray | list[str]
    outlet: OutletLSL | MarkerOutletLSL | None = None
    pos: int = 0


@dataclass
class ReplayStats:
    """Pacing figures of a replay (seconds)."""

    wakeups: int = 0
    lateness: list[float] = field(default_factory=list)
    samples: int = 0
    loops: int = 0


def _load(  # noqa: ANN001
    path: Path, mapping, sfreq, partial: bool = False, stim_channel=None
) -> tuple[Recording, dict[str, StreamSpec]]:
    """Read the file; for XDF also keep the marker streams' own specs."""
    from ._readers import read_recording, xdf_recording

    if path.name.lower().endswith((".xdf", ".xdfz")):
        if path.stat().st_size == 0:
            raise RecordingError(f"{path}: the file is empty (0 bytes); nothing to read.")
        return xdf_recording(path, strict=not partial)
    rec = read_recording(path, mapping=mapping, sfreq=sfreq, stim_channel=stim_channel)
    return rec, {}


class ReplayLSL:
    """Publish a recording's streams on LSL in (scaled) real time.

    Parameters
    ----------
    path : path-like
        Any file :func:`bci.devices.read_recording` reads.
    speed : float
        1.0 is real time; 10 plays ten times faster (timestamps compressed, nominal
        rates unchanged).
    loop : bool
        Start again after the end (the schedule continues; no reset of the clock).
    mapping, sfreq
        Passed to :func:`bci.devices.read_recording` for text files.
    source_prefix : str
        Prepended to every source id (lets tests and parallel replays tell copies apart).
    partial : bool
        Replay the complete part of a truncated XDF file instead of refusing it.
    stim_channel : str | list of str | bool | None
        Trigger channels of EDF/BDF/FIF/BrainVision files (see
        :func:`bci.devices.read_recording`).
    period : float
        Wall-clock seconds between pushes.
    spin : float
        Busy-wait before each wake-up (CPU cost ``spin / period`` of one core).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        speed: float = 1.0,
        loop: bool = False,
        mapping: CSVMapping | dict | str | None = None,
        sfreq: float | None = None,
        source_prefix: str = "",
        period: float = 0.01,
        partial: bool = False,
        stim_channel: str | list[str] | bool | None = None,
        spin: float = SPIN,
    ) -> None:
        if not speed > 0:
            raise RecordingError(f"Replay speed must be > 0, got {speed}.")
        self.path = Path(path)
        if not self.path.is_file():
            raise RecordingError(f"{self.path}: no such file.")
        self.speed = float(speed)
        self.loop = bool(loop)
        self.period = float(period)
        self.spin = float(spin)
        rec, marker_specs = _load(self.path, mapping, sfreq, partial, stim_channel)
        self.recording = rec
        self.tracks: list[_Track] = []
        for sig in rec.signals:
            spec = sig.spec
            if source_prefix or not spec.source_id:
                spec = StreamSpec(
                    **{**spec.__dict__, "source_id": source_prefix + (spec.source_id or spec.name)}
                )
            if spec.dtype not in ("float32", "float64", "int8", "int16", "int32", "int64"):
                spec = StreamSpec(**{**spec.__dict__, "dtype": "float32"})
            self.tracks.append(
                _Track(spec, np.asarray(sig.timestamps, np.float64), np.ascontiguousarray(sig.data))
            )
        by_stream: dict[str, list] = {}
        for m in rec.markers:
            by_stream.setdefault(m.stream, []).append(m)
        for name, markers in by_stream.items():
            orig = marker_specs.get(name)
            spec = StreamSpec(
                name=name,
                stype=orig.stype if orig else "Markers",
                source_id=source_prefix
                + (orig.source_id if orig and orig.source_id else f"{name}-markers"),
                sfreq=0.0,
                ch_names=orig.ch_names if orig else ("marker",),
                dtype="string",
            )
            ts = np.array([m.timestamp for m in markers], dtype=np.float64)
            self.tracks.append(_Track(spec, ts, [m.value for m in markers]))
        firsts = [t.timestamps[0] for t in self.tracks if t.timestamps.size]
        lasts = [t.timestamps[-1] for t in self.tracks if t.timestamps.size]
        if not firsts:
            raise RecordingError(f"{self.path}: nothing to replay (no samples, no markers).")
        self.t_first = float(min(firsts))
        self.duration = float(max(lasts)) - self.t_first  # file seconds
        self.t_start = math.nan
        self.stats = ReplayStats()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()

    # ------------------------------------------------------------------ schedule
    def schedule(self, t_file: np.ndarray | float, loop_index: int = 0) -> np.ndarray | float:
        """LSL time at which file time ``t_file`` is (or was) pushed."""
        span = self.duration + self._loop_gap
        return self.t_start + (np.asarray(t_file) - self.t_first + loop_index * span) / self.speed

    @property
    def _loop_gap(self) -> float:
        periods = [1.0 / t.spec.sfreq for t in self.tracks if t.spec.sfreq > 0]
        return min(periods) if periods else 0.0

    @property
    def specs(self) -> list[StreamSpec]:
        """Specs of every published stream (signals first, then markers)."""
        return [t.spec for t in self.tracks]

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> ReplayLSL:
        """Create the outlets (idempotent); consumers can connect before :meth:`start`."""
        for t in self.tracks:
            if t.outlet is None:
                if t.spec.dtype == "string":
                    t.outlet = MarkerOutletLSL(
                        t.spec.name, t.spec.stype, t.spec.source_id, t.spec.n_channels
                    )
                else:
                    t.outlet = OutletLSL(
                        t.spec, max_buffered=max(10.0, 2 * self.duration / self.speed)
                    )
        return self

    def start(self, wait_consumers: float = 0.0, lead: float = 0.2) -> ReplayLSL:
        """Start publishing in a background thread.

        Parameters
        ----------
        wait_consumers : float
            Wait up to this many seconds for every outlet to have a consumer.
        lead : float
            Seconds between now and the first sample's schedule time.
        """
        if self._thread is not None:
            return self
        self.open()
        if wait_consumers > 0:
            deadline = time.monotonic() + wait_consumers
            for t in self.tracks:
                t.outlet.wait_for_consumers(max(0.0, deadline - time.monotonic()))
        self.t_start = pylsl.local_clock() + lead
        self._stop.clear()
        self._done.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"ReplayLSL-{self.path.name}", daemon=True
        )
        self._thread.start()
        logger.info(
            "Replaying %s at %gx (%d streams, %.1f s)%s",
            self.path.name,
            self.speed,
            len(self.tracks),
            self.duration,
            " in a loop" if self.loop else "",
        )
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the replay ends (never, when looping) or ``timeout``; True if ended."""
        return self._done.wait(timeout)

    def stop(self) -> ReplayLSL:
        """Stop publishing and destroy the outlets (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        for t in self.tracks:
            if t.outlet is not None:
                t.outlet.close()
                t.outlet = None
        return self

    def __enter__(self) -> ReplayLSL:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ pacing
    def _run(self) -> None:
        try:
            loop_index = 0
            sched = [self.schedule(t.timestamps, 0) for t in self.tracks]
            # real files can step back in time (jittery raw stamps): pace on the running
            # maximum, push the original (scheduled) stamps unchanged
            due = [np.maximum.accumulate(s) for s in sched]
            t_wake = self.t_start
            while not self._stop.is_set():
                late = sleep_until(t_wake, self.spin)
                self.stats.wakeups += 1
                self.stats.lateness.append(late)
                now = pylsl.local_clock()
                remaining = False
                for tr, s, d in zip(self.tracks, sched, due, strict=True):
                    end = int(np.searchsorted(d, now, side="right"))
                    if end > tr.pos:
                        self._push(tr, s, tr.pos, end)
                        tr.pos = end
                    remaining |= tr.pos < s.size
                if not remaining:
                    if not self.loop:
                        break
                    loop_index += 1
                    self.stats.loops += 1
                    for tr in self.tracks:
                        tr.pos = 0
                    sched = [self.schedule(t.timestamps, loop_index) for t in self.tracks]
                    due = [np.maximum.accumulate(s) for s in sched]
                t_wake += self.period  # absolute schedule: lateness never accumulates
                if t_wake < now - 1.0:  # stalled for a long time: skip ahead, say so
                    logger.warning("Replay fell %.2f s behind; skipping wake-ups.", now - t_wake)
                    t_wake = now
        except Exception:
            logger.exception("Replay of %s failed", self.path)
            raise
        finally:
            self._done.set()

    def _push(self, tr: _Track, sched: np.ndarray, a: int, b: int) -> None:
        if tr.spec.dtype == "string":
            for k in range(a, b):
                tr.outlet.push(tr.data[k], float(sched[k]))
        else:
            tr.outlet.push(tr.data[:, a:b], sched[a:b])
        self.stats.samples += b - a
