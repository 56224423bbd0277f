"""Push recordings through the live decode pipeline: in virtual time or as a paced LSL replay.

:func:`decode_recording` is what ``bci evaluate`` scores. It runs the exact pipeline of
``bci run`` (:class:`~bci._runtime.Pipeline`: the same filters with their state carried from
chunk to chunk, the same sliding windows on a fixed hop grid or event-locked epochs, the
same decoder, the same smoothing/threshold/dwell) on every recording:

- ``speed=None`` (virtual time): the file's own sample timestamps are the clock. Chunks go
  through the pipeline as fast as the CPU allows, windows are decoded in batches, nothing
  sleeps and nothing touches LSL; two runs give identical decisions.
- ``speed=X``: the file is replayed on LSL at ``X`` times real time
  (:class:`bci.devices.ReplayLSL`, one schedule for all its streams) and decoded by the live
  :class:`~bci._runtime.Engine`, latency statistics included.

Either way the decisions' timestamps are on the file's clock, like its markers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import ConfigError, DecoderError, RecordingError

if TYPE_CHECKING:
    from ._runtime import EngineSettings
    from ._types import Signal
    from .config import CalibrationConfig, SessionConfig

logger = logging.getLogger(__name__)

#: Seconds of signal per chunk in virtual time (filters run vectorised over a chunk).
VIRTUAL_CHUNK_S = 1.0
#: Windows decoded in one onnxruntime run in virtual time (larger batches were slower on CPU).
VIRTUAL_BATCH = 16


def decision_dtype(n_classes: int) -> np.dtype:
    """The structured dtype of :attr:`DecodedRecording.decisions`.

    Fields: ``t_sample`` (newest sample of the window or epoch, float64), ``t_first`` and
    ``t_last`` (its first and newest sample), ``probs`` (the published values after
    smoothing, float32 ``(n_classes,)``), ``raw`` (the decoder's own output), ``label_index``
    (emitted class after threshold/dwell, -1 for none), ``onset`` (event-locked: the onset
    marker's timestamp, else NaN) and ``marker`` (its value, else ``""``).
    """
    return np.dtype(
        [
            ("t_sample", "f8"),
            ("t_first", "f8"),
            ("t_last", "f8"),
            ("probs", "f4", (n_classes,)),
            ("raw", "f4", (n_classes,)),
            ("label_index", "i4"),
            ("onset", "f8"),
            ("marker", "U32"),
        ]
    )


@dataclass(frozen=True)
class DecodedRecording:
    """The decisions the live pipeline takes on one recording.

    Parameters
    ----------
    path : Path
        The recording.
    decisions : ndarray
        Structured array, one row per decision in time order (see :func:`decision_dtype`);
        times are on the file's clock.
    class_names : tuple of str
        The decoder's classes, in output order.
    markers : list of (float, str)
        Every marker of the file (and, for a per-sample label channel, one marker per label
        change), on the decisions' clock.
    event_locked : bool
        One decision per onset marker (True) or sliding windows (False).
    duration_s : float
        Seconds of signal decoded.
    wall_s : float
        Wall-clock seconds it took (speed-up = ``duration_s / wall_s``).
    speed : float | None
        ``None`` for virtual time, else the LSL replay speed.
    signal : str
        Name of the decoded stream.
    counters : dict
        Windows, skipped hops, windows over non-finite samples, stale drops; event-locked:
        ``onsets``, ``onsets_missed``, ``onsets_incomplete``.
    latency_ms : dict | None
        LSL replay only: the live latency percentiles per stage (ms, replay schedule).
    """

    path: Path
    decisions: np.ndarray
    class_names: tuple[str, ...]
    markers: list[tuple[float, str]]
    event_locked: bool
    duration_s: float
    wall_s: float
    speed: float | None = None
    signal: str = ""
    counters: dict = field(default_factory=dict)
    latency_ms: dict | None = None

    @property
    def realtime_factor(self) -> float:
        """Seconds of signal decoded per wall-clock second."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else math.inf


# ---------------------------------------------------------------------------- settings
def _pick_signal(signals: list[Signal], decoder: Any, calibration: CalibrationConfig | None):
    sigs = [s for s in signals if s.spec.sfreq > 0 and s.data.size]
    if not sigs:
        return None
    if calibration is not None and calibration.stream is not None:
        named = [s for s in sigs if calibration.stream in (s.spec.name, s.spec.stype)]
        if not named:
            avail = [(s.spec.name, s.spec.stype) for s in signals]
            raise ConfigError(
                f"no stream named or typed {calibration.stream!r}; streams are {avail}: fix "
                "'stream' in the calibration config"
            )
        return named[0]
    want = set(getattr(decoder, "ch_names", None) or [])
    fitting = [s for s in sigs if want and want <= set(s.spec.ch_names)]
    pool = fitting or sigs
    return max(pool, key=lambda s: s.data.shape[1])


def _channels(sig: Signal, decoder: Any, calibration: CalibrationConfig | None) -> tuple | None:
    """The channels to keep, in the decoder's order (``None``: all of them)."""
    names = list(sig.spec.ch_names)
    want = list(getattr(decoder, "ch_names", None) or [])
    if want and set(want) <= set(names):
        return None if want == names else tuple(want)
    if calibration is not None:
        label = calibration.epochs.label_channel
        if calibration.channels is None:
            keep = [n for n in names if n != label]
            return None if keep == names else tuple(keep)
        positions = {calibration.rename.get(n, n).lower(): n for n in names}
        lower = {n.lower(): n for n in names}
        out = []
        for ch in calibration.channels:
            hit = ch if ch in names else lower.get(ch.lower()) or positions.get(ch.lower())
            if hit is None:
                raise ConfigError(
                    f"channel {ch!r} of the calibration config is not in the recording "
                    f"({names}): fix 'channels' (or 'rename')"
                )
            out.append(hit)
        return tuple(out)
    return None


def _settings(
    sig: Signal,
    decoder: Any,
    calibration: CalibrationConfig | None,
    session: SessionConfig | None,
    lsl: bool,
) -> EngineSettings:
    from ._runtime import Budgets, EngineSettings, PostprocessSettings
    from .config import SessionConfig

    cfg = session or SessionConfig()
    pre = cfg.preprocess
    bandpass = tuple(pre.bandpass) if pre.bandpass is not None else None
    notch = pre.notch
    trained = getattr(decoder, "preprocess", None) or {}
    if trained:
        bandpass = tuple(trained["bandpass"]) if trained.get("bandpass") else None
        notch = trained.get("notch")
    elif calibration is not None:
        bandpass = tuple(calibration.bandpass) if calibration.bandpass else None
        notch = calibration.notch
    sfreq_model = getattr(decoder, "sfreq", None)
    resample = pre.resample
    if sfreq_model and abs(sfreq_model - sig.spec.sfreq) > 1e-6 * sfreq_model:
        resample = float(sfreq_model)
    rate = resample or sig.spec.sfreq
    channels = tuple(pre.channels) if pre.channels else _channels(sig, decoder, calibration)
    reref = pre.reref if isinstance(pre.reref, str) or pre.reref is None else tuple(pre.reref)
    pp = cfg.postprocess
    b = cfg.budgets
    return EngineSettings(
        session=f"evaluate-{uuid.uuid4().hex[:8]}",
        window=decoder.n_times / rate,
        hop=cfg.window.hop,
        bandpass=bandpass,
        notch=notch,
        reref=reref,
        resample=resample,
        channels=channels,
        postprocess=PostprocessSettings(pp.smoothing, pp.threshold, pp.dwell),
        budgets=Budgets(b.transport_ms, b.processing_ms, b.output_ms, b.decision_ms),
        lsl_outputs=False,
        warmup=cfg.decoder.warmup if lsl else 0,
        mode=cfg.window.mode,
        marker_stream=cfg.window.markers,
        grid_windows=True,  # the same windows in virtual time and over LSL
        realtime_priority=cfg.realtime_priority,
    )


def _label_markers(sig: Signal, calibration: CalibrationConfig | None) -> list[tuple[float, str]]:
    """One marker per change of a per-sample label channel (Myo-style files)."""
    label = calibration.epochs.label_channel if calibration is not None else "label"
    names = list(sig.spec.ch_names)
    if label not in names:
        return []
    lab = sig.data[names.index(label)]
    change = np.r_[0, np.flatnonzero(lab[1:] != lab[:-1]) + 1]
    out = []
    for i in change:
        v = lab[i]
        value = str(int(v)) if float(v).is_integer() else str(v)
        out.append((float(sig.timestamps[i]), value))
    return out


# ---------------------------------------------------------------------------- runs
def _rows(n_classes: int, items: list[dict]) -> np.ndarray:
    out = np.zeros(len(items), dtype=decision_dtype(n_classes))
    for k, d in enumerate(items):
        out[k] = (
            d["t_last"],
            d["t_first"],
            d["t_last"],
            d["smoothed"],
            d["values"],
            d["label_index"],
            np.nan if d["onset"] is None else d["onset"],
            d["marker"] or "",
        )
    return out


def _onset_counts(pipe: Any, counters: dict) -> None:
    """Event-locked: onsets seen, missed (arrived after their epoch left the ring) and
    incomplete (the file ended before the epoch did)."""
    if pipe.epocher is not None:
        counters["onsets"] = pipe.epocher.n_onsets
        counters["onsets_missed"] = pipe.epocher.n_missed
        counters["onsets_incomplete"] = len(pipe.epocher.pending)


def _virtual(sig: Signal, markers: list, decoder: Any, settings: EngineSettings) -> tuple:
    """Decode one signal with its file timestamps as the clock; (rows, counters, pipeline)."""
    from ._runtime import Pipeline

    pipe = Pipeline(sig.spec, decoder, settings)
    for m in markers:
        pipe.add_marker(m.stream, m.timestamp, m.value)
    n = sig.data.shape[1]
    step = max(1, int(round(VIRTUAL_CHUNK_S * sig.spec.sfreq)))
    data = np.asarray(sig.data, np.float32)
    ts = np.asarray(sig.timestamps, np.float64)
    items: list[dict] = []
    pending: list = []
    counters = {"windows": 0, "skipped_nonfinite": 0, "nonfinite_samples": 0}

    def flush() -> None:
        if not pending:
            return
        values = pipe.decode_batch(pending)
        for win, v in zip(pending, values, strict=True):
            smoothed, label_index = pipe.post(v)
            items.append(
                {
                    "t_first": win.t_first,
                    "t_last": win.t_last,
                    "onset": win.onset,
                    "marker": win.marker,
                    "values": v,
                    "smoothed": smoothed,
                    "label_index": label_index,
                }
            )
        pending.clear()

    for a in range(0, n, step):
        cut = pipe.cut(
            data[:, a : a + step], ts[a : a + step], float(ts[min(n, a + step) - 1]), every=True
        )
        counters["windows"] += len(cut.windows) + len(cut.bad_windows)
        counters["skipped_nonfinite"] += len(cut.bad_windows)
        counters["nonfinite_samples"] += cut.nonfinite
        pending.extend(cut.windows)
        if len(pending) >= VIRTUAL_BATCH:
            flush()
    flush()
    _onset_counts(pipe, counters)
    return _rows(len(pipe.classes), items), counters, pipe


async def _replay_async(player: Any, decoder: Any, settings: EngineSettings, sig_name: str):
    import pylsl

    from bci.devices import SourceLSL

    from ._runtime import Engine

    by_name = {t.spec.name: t.spec for t in player.tracks}
    sig_spec = by_name[sig_name]
    # the replay's timestamps are its schedule (same process, same clock): no clock
    # correction, no dejitter, so file time maps back exactly
    flags = pylsl.proc_threadsafe
    source = SourceLSL(
        source_id=sig_spec.source_id,
        timeout=10.0,
        dejitter=False,
        bufsize=10.0,
        processing_flags=flags,
    )
    aux = [
        SourceLSL(source_id=s.source_id, timeout=10.0, processing_flags=flags)
        for s in player.specs
        if s.name != sig_name and s.dtype == "string"
    ]
    items: list[dict] = []
    engine = Engine(source, decoder, settings, aux, on_decision=items.append)
    try:
        player.open()
        await asyncio.to_thread(engine.prepare)
        await asyncio.to_thread(player.start, 2.0)
        stop = asyncio.Event()

        async def end_of_file() -> None:
            await asyncio.to_thread(player.wait)
            await asyncio.sleep(0.5)  # let the last samples through the inlet
            stop.set()

        watcher = asyncio.create_task(end_of_file())
        await engine.run(stop=stop)
        watcher.cancel()
        snap = engine.snapshot()
    finally:
        engine.close()
        player.stop()
    return items, engine, snap


def _replay(player: Any, decoder: Any, settings: EngineSettings, sig_name: str) -> tuple:
    items, engine, snap = asyncio.run(_replay_async(player, decoder, settings, sig_name))
    speed = player.speed

    def to_file(t: float | None) -> float | None:
        return None if t is None else player.t_first + (t - player.t_start) * speed

    for d in items:
        d["t_first"], d["t_last"], d["onset"] = (
            to_file(d["t_first"]),
            to_file(d["t_last"]),
            to_file(d["onset"]),
        )
    counters = dict(snap["counters"])
    pipe = engine.pipeline
    _onset_counts(pipe, counters)
    return _rows(len(pipe.classes), items), counters, pipe, snap["latency_ms"]


def decode_recording(
    decoder: str | Path,
    recordings: Sequence[str | Path],
    *,
    calibration: CalibrationConfig | None = None,
    speed: float | None = None,
    session: SessionConfig | None = None,
) -> list[DecodedRecording]:
    """Decode recordings with the live pipeline, in virtual time or as an LSL replay.

    Parameters
    ----------
    decoder : str | Path
        ``"default"``, an ``.onnx`` file or a ``bci calibrate`` output folder.
    recordings : sequence of path-like
        Files :func:`bci.devices.read_recording` reads (XDF, EDF/BDF, FIF, BrainVision, CSV).
    calibration : CalibrationConfig | None
        The calibration config the decoder came from, for the file side: which stream
        (``stream``), which channels (``channels``/``rename``), the rate of files without
        timestamps (``sfreq``), the per-sample label channel. Without it the decoder's
        channel names select the channels.
    speed : float | None
        ``None``: virtual time (the file's timestamps are the clock, no LSL, no sleeping,
        deterministic). A number: replay on LSL at that speed and decode live.
    session : SessionConfig | None
        Hop, post-processing (smoothing, threshold, dwell), budgets, window mode and, for a
        decoder without training filters in its metadata, the preprocessing; ``None`` takes
        the session defaults.

    Returns
    -------
    list of DecodedRecording
        One per recording, in order.

    Raises
    ------
    RecordingError
        A file is missing or unreadable, or has no signal stream.
    DecoderError
        The decoder is missing or does not fit the file's channels or rate.
    ConfigError
        ``speed`` is not positive, or a calibration key does not fit the file.
    """
    from bci.devices import ReplayLSL

    from ._decoder import DecoderONNX

    if speed is not None and not (isinstance(speed, int | float) and speed > 0):
        raise ConfigError(
            f"speed={speed!r}: give a positive replay speed, or None for virtual time"
        )
    dec = DecoderONNX(decoder, provider="auto", threads=1)
    out: list[DecodedRecording] = []
    sfreq = calibration.sfreq if calibration is not None else None
    layout = calibration.layout if calibration is not None else None  # CSV columns, as calibrated
    for path in recordings:
        path = Path(path)
        prefix = f"eval-{os.getpid()}-{uuid.uuid4().hex[:6]}-" if speed is not None else ""
        player = ReplayLSL(
            path, speed=speed or 1.0, mapping=layout, sfreq=sfreq, source_prefix=prefix
        )
        rec = player.recording
        sig = _pick_signal(rec.signals, dec, calibration)
        if sig is None:
            raise RecordingError(f"{path}: no numeric signal stream with samples to decode")
        settings = _settings(sig, dec, calibration, session, lsl=speed is not None)
        markers = [(m.timestamp, m.value) for m in rec.markers] + _label_markers(sig, calibration)
        markers.sort(key=lambda m: m[0])
        t1 = time.perf_counter()
        latency = None
        try:
            if speed is None:
                rows, counters, pipe = _virtual(sig, rec.markers, dec, settings)
            else:
                rows, counters, pipe, latency = _replay(player, dec, settings, sig.spec.name)
        except DecoderError as exc:
            raise DecoderError(f"{path}: {exc}") from None
        wall = time.perf_counter() - t1
        ts = np.asarray(sig.timestamps)
        duration = float(ts[-1] - ts[0]) + 1.0 / sig.spec.sfreq if ts.size else 0.0
        out.append(
            DecodedRecording(
                path=path,
                decisions=rows,
                class_names=tuple(pipe.classes),
                markers=markers,
                event_locked=pipe.event_locked,
                duration_s=duration,
                wall_s=wall,
                speed=speed,
                signal=sig.spec.name,
                counters=counters,
                latency_ms=latency,
            )
        )
        logger.info(
            "%s: %d decisions (%s) over %.1f s of %s in %.2f s (%.0fx real time)",
            path.name,
            len(rows),
            "event-locked" if pipe.event_locked else "sliding windows",
            duration,
            sig.spec.name,
            wall,
            duration / wall if wall > 0 else math.inf,
        )
    return out


__all__ = ["DecodedRecording", "decision_dtype", "decode_recording"]
