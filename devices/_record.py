"""Record LSL streams to XDF (``bci record``): one inlet and one thread per stream.

Like LabRecorder, samples are written with the sender's raw timestamps and the clock
offset of every stream is measured (``time_correction``) and written every 5 s, so
pyxdf can synchronize the streams when it loads the file. Silences, reconnects and
timestamp gaps are written as JSON events to an extra marker stream
``bci-record-events`` in the same file.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from bci._errors import StreamError
from bci._recorder import RecorderXDF
from bci._types import StreamSpec

from ._lsl import _describe, spec_from_info

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

EVENTS_SPEC = StreamSpec(
    name="bci-record-events",
    stype="Markers",
    source_id="bci-record-events",
    sfreq=0.0,
    ch_names=("event",),
    dtype="string",
)


def find_streams(
    streams: Sequence[str] | None = None, timeout: float = 2.0
) -> list[pylsl.StreamInfo]:
    """Resolve the streams to record.

    Parameters
    ----------
    streams : list of str | None
        Each item is a stream name, or an LSL XPath predicate (anything containing
        ``=`` or ``(``, e.g. ``type='EEG'`` or ``starts-with(source_id,'lab1-')``).
        ``None`` records every stream visible.
    timeout : float
        Seconds to wait for announcements.

    Raises
    ------
    StreamError
        An item matches nothing; the message lists the visible streams.
    """
    if not streams:
        found = pylsl.resolve_streams(wait_time=timeout)
        if not found:
            raise StreamError(
                f"No LSL stream is visible (waited {timeout:g} s); nothing to record."
            )
        return found
    out: dict[str, pylsl.StreamInfo] = {}
    for item in streams:
        pred = item if ("=" in item or "(" in item) else f"name='{item}'"
        found = pylsl.resolve_bypred(pred, minimum=1000, timeout=timeout)
        if not found:
            visible = (
                "\n  ".join(_describe(i) for i in pylsl.resolve_streams(wait_time=0.5)) or "(none)"
            )
            raise StreamError(f"No LSL stream matches {pred!r}. Visible streams:\n  {visible}")
        for info in found:
            out[info.uid()] = info
    return list(out.values())


@dataclass
class StreamRecordStats:
    """What was recorded from one stream."""

    name: str
    stype: str
    samples: int = 0
    gaps: int = 0
    lost: int = 0
    reconnects: int = 0
    offsets: int = 0


@dataclass
class _Worker:
    info: pylsl.StreamInfo
    spec: StreamSpec
    sid: int
    stats: StreamRecordStats
    thread: threading.Thread | None = None
    last_ts: float = math.nan
    t_last_data: float = field(default_factory=pylsl.local_clock)
    silent: bool = False


class RecordLSL:
    """Record LSL streams into a :class:`bci._recorder.RecorderXDF` file.

    Parameters
    ----------
    path : path-like
        The ``.xdf`` file.
    streams : list of str | None
        See :func:`find_streams`.
    resolve_timeout : float
        Seconds to wait for the streams.
    offset_interval : float
        Seconds between clock-offset measurements.
    silence_timeout : float
        A regular stream that sends nothing for this long gets a ``silent`` event.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        streams: Sequence[str] | None = None,
        resolve_timeout: float = 2.0,
        offset_interval: float = 5.0,
        silence_timeout: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self.streams = list(streams) if streams else None
        self.resolve_timeout = float(resolve_timeout)
        self.offset_interval = float(offset_interval)
        self.silence_timeout = float(silence_timeout)
        self._workers: list[_Worker] = []
        self._stop = threading.Event()
        self._rec: RecorderXDF | None = None
        self._events_sid = 0
        self._events_lock = threading.Lock()
        self.errors: list[BaseException] = []

    @property
    def stats(self) -> list[StreamRecordStats]:
        """Per-stream figures so far."""
        return [w.stats for w in self._workers]

    def start(self) -> RecordLSL:
        """Resolve the streams, open inlets and start one thread per stream."""
        if self._rec is not None:
            return self
        infos = find_streams(self.streams, self.resolve_timeout)
        self._rec = RecorderXDF(self.path)
        self._events_sid = self._rec.add_stream(EVENTS_SPEC)
        for info in infos:
            inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True)
            try:
                full = inlet.info(timeout=5.0)
            except pylsl.util.TimeoutError:
                logger.warning(
                    "No description from %s; recording it with generic labels.", _describe(info)
                )
                full = info
            spec = spec_from_info(full)
            sid = self._rec.add_stream(spec)
            w = _Worker(info, spec, sid, StreamRecordStats(spec.name, spec.stype))
            w.thread = threading.Thread(
                target=self._run, args=(w, inlet), name=f"record-{spec.name}", daemon=True
            )
            self._workers.append(w)
        for w in self._workers:
            w.thread.start()
        logger.info("Recording %d streams to %s", len(self._workers), self.path)
        return self

    def _event(self, w: _Worker, t: float, **fields: object) -> None:
        value = json.dumps(
            {"stream": w.spec.name, "source_id": w.spec.source_id, **fields}, sort_keys=True
        )
        logger.warning("record: %s", value)
        with self._events_lock:
            self._rec.write(self._events_sid, [value], [t])

    def _run(self, w: _Worker, inlet: pylsl.StreamInlet) -> None:
        rec = self._rec
        spec = w.spec
        numeric = spec.dtype != "string"
        cap = max(1024, int(spec.sfreq * 2)) if spec.sfreq > 0 else 1024
        buf = np.empty((cap, spec.n_channels), dtype=np.dtype(spec.dtype)) if numeric else None
        next_offset = 0.0
        try:
            inlet.open_stream(timeout=5.0)
            while not self._stop.is_set():
                now = pylsl.local_clock()
                if now >= next_offset:
                    try:
                        off = inlet.time_correction(timeout=2.0)
                        rec.clock_offset(w.sid, pylsl.local_clock(), off)
                        w.stats.offsets += 1
                    except (pylsl.util.TimeoutError, pylsl.util.LostError):
                        logger.debug("time_correction of %s timed out", spec.name)
                    next_offset = now + self.offset_interval
                try:
                    if numeric:
                        _, ts = inlet.pull_chunk(
                            timeout=0.05,
                            max_samples=cap,
                            dest_obj=buf,
                            as_numpy=True,
                            min_samples=1,
                        )
                    else:
                        values, ts = inlet.pull_chunk(timeout=0.05, max_samples=cap, min_samples=1)
                        ts = np.asarray(ts)
                except pylsl.util.LostError:
                    if not w.silent:
                        w.silent = True
                        self._event(w, now, event="lost", last_sample=w.last_ts)
                    time.sleep(0.1)
                    continue
                n = len(ts)
                if n == 0:
                    if (
                        spec.sfreq > 0
                        and not w.silent
                        and now - w.t_last_data > self.silence_timeout
                    ):
                        w.silent = True
                        self._event(w, now, event="silent", last_sample=w.last_ts)
                    continue
                ts = np.array(ts, dtype=np.float64)
                w.t_last_data = pylsl.local_clock()
                if w.silent:
                    w.silent = False
                    w.stats.reconnects += 1
                    self._event(w, float(ts[0]), event="reconnected", first_sample=float(ts[0]))
                if spec.sfreq > 0 and not math.isnan(w.last_ts):
                    step = ts[0] - w.last_ts
                    n_lost = round(step * spec.sfreq) - 1
                    if step > 1.0 / spec.sfreq + max(0.5 / spec.sfreq, 0.02) and n_lost > 0:
                        w.stats.gaps += 1
                        w.stats.lost += n_lost
                        self._event(
                            w,
                            w.last_ts,
                            event="gap",
                            start=w.last_ts,
                            end=float(ts[0]),
                            lost=n_lost,
                        )
                w.last_ts = float(ts[-1])
                if numeric:
                    rec.write(w.sid, buf[:n].T, ts)
                else:
                    rec.write(w.sid, values, ts)
                w.stats.samples += n
        except Exception as exc:
            logger.exception("Recording stream %s failed", spec.name)
            self.errors.append(exc)
        finally:
            inlet.close_stream()

    def stop(self) -> RecordLSL:
        """Stop the threads, write the footers and close the file (idempotent)."""
        self._stop.set()
        for w in self._workers:
            if w.thread is not None:
                w.thread.join(5.0)
        if self._rec is not None:
            self._rec.close()
        return self

    def run(
        self, duration: float | None = None, stop: threading.Event | None = None
    ) -> list[StreamRecordStats]:
        """Record until ``duration`` seconds passed, ``stop`` is set, or Ctrl-C."""
        self.start()
        t_end = time.monotonic() + duration if duration else math.inf
        try:
            while time.monotonic() < t_end and not (stop is not None and stop.is_set()):
                time.sleep(min(0.1, max(0.0, t_end - time.monotonic())))
        except KeyboardInterrupt:
            logger.info("Interrupted; closing %s", self.path)
        finally:
            self.stop()
        return self.stats

    def __enter__(self) -> RecordLSL:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
