"""From recordings to labelled trials: stream and channel picking, causal filtering, epoching.

Three ways to find trials (``EpochsConfig.events``): onset markers, start/end marker pairs,
and per-sample label channels. Windows cut from one trial share a ``group`` so that
cross-validation never puts two windows of one trial on both sides of a split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from bci import ConfigError, Recording, RecordingError, Signal
from bci._scoring import marker_key, start_end_pairs
from bci.config._calibration import CalibrationConfig

logger = logging.getLogger(__name__)


class CalibrationDataError(RecordingError):
    """The recordings cannot be used to calibrate (no markers, too few trials, channels)."""


class RejectedFileError(CalibrationDataError):
    """One file has no usable trial (none complete, none labelled, or every one rejected)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


#: A channel whose raw peak-to-peak stays under this (uV) over a trial is flat (railed or
#: disconnected); with ``epochs.reject_uv`` set, such trials are dropped too.
FLAT_UV = 0.01


def _rejection_advice(
    ptp: np.ndarray, flat: np.ndarray, names: list[str], keep: list[int], reject_uv: float
) -> str:
    """Why every trial of a file was rejected, channel by channel, and what to change."""
    parts = []
    for c, i in enumerate(keep):
        over = float((ptp[:, c] >= reject_uv).mean())
        fl = float(flat[:, c].mean())
        if over > 0.5 or fl > 0.5:
            what = (
                "flat (railed or disconnected)"
                if fl > 0.5
                else (f"peak-to-peak median {np.median(ptp[:, c]):.0f} uV")
            )
            parts.append(f"{names[i]} {what} in {max(over, fl):.0%} of trials")
    return (
        f"all {len(ptp)} trials rejected by epochs.reject_uv={reject_uv:g} uV"
        + (f" ({'; '.join(parts)})" if parts else "")
        + ". Raise epochs.reject_uv (or set it to null), or leave the bad channel out of "
        "'channels' in the calibration config."
    )


@dataclass
class Trials:
    """Labelled windows ready for decoding.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times), float32
        Filtered signal in the recording's unit (uV for EEG/EMG).
    y : ndarray, shape (n_windows,), int
        Class index into ``classes``.
    groups : ndarray, shape (n_windows,), int
        Trial id: windows of one trial share it.
    sessions : ndarray, shape (n_windows,), str
        Session id (file or folder) for leave-one-session-out.
    sfreq : float
        Sampling rate of ``X``.
    ch_names : list of str
        Channel names as the recording (and so the runtime) names them.
    positions : list of str
        Electrode position of each channel (``rename`` applied), for the foundation model.
    classes : list of str
        Class names in output order.
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    sessions: np.ndarray
    sfreq: float
    ch_names: list[str]
    positions: list[str]
    classes: list[str]
    files: list[str] = field(default_factory=list)
    X_raw: np.ndarray | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def n_times(self) -> int:
        """Samples per window."""
        return int(self.X.shape[-1])

    def counts(self) -> dict[str, int]:
        """Trials (not windows) per class."""
        out = {}
        for k, c in enumerate(self.classes):
            out[c] = int(len(np.unique(self.groups[self.y == k])))
        return out

    def subset(self, idx: np.ndarray) -> Trials:
        """The windows at ``idx``."""
        return Trials(
            self.X[idx],
            self.y[idx],
            self.groups[idx],
            self.sessions[idx],
            self.sfreq,
            self.ch_names,
            self.positions,
            self.classes,
            self.files,
            None if self.X_raw is None else self.X_raw[idx],
        )


def read(path: str | Path, config: CalibrationConfig) -> Recording:
    """Read one recording through ``bci.devices.read_recording``, with the config's ``layout``."""
    from bci.devices import read_recording

    kwargs: dict = {}
    if config.sfreq:
        kwargs["sfreq"] = config.sfreq
    if config.layout is not None:
        kwargs["mapping"] = config.layout
    try:
        return read_recording(path, **kwargs)
    except RecordingError as exc:
        if "unknown text layout" in str(exc) and config.layout is None:
            raise CalibrationDataError(
                f"{exc} For bci calibrate: pass --mapping FILE (a replay mapping such as "
                "configs/replay_columns.yaml) or set 'layout:' in the calibration config."
            ) from exc
        raise


def pick_signal(rec: Recording, config: CalibrationConfig) -> Signal:
    """The signal stream to decode: by name/type from the config, else the first numeric one."""
    sigs = [s for s in rec.signals if s.data.size and s.spec.sfreq > 0]
    if config.stream is not None:
        sigs = [s for s in sigs if config.stream in (s.spec.name, s.spec.stype)]
        if not sigs:
            avail = [(s.spec.name, s.spec.stype) for s in rec.signals]
            raise CalibrationDataError(
                f"{rec.path}: no non-empty stream named or typed {config.stream!r}; "
                f"streams are {avail}. Fix 'stream' in the calibration config."
            )
    if not sigs:
        raise RejectedFileError(rec.path, "no numeric signal stream with samples")
    return max(sigs, key=lambda s: s.data.shape[1]) if config.stream is None else sigs[0]


def _filter(data: np.ndarray, sfreq: float, config: CalibrationConfig) -> np.ndarray:
    """Causal Butterworth band-pass (order 4) and notch: what the runtime applies live."""
    out = data.astype(np.float64)
    out = out - out[:, :1]  # start at zero: no step response from the DC offset
    if config.bandpass is not None:
        lo, hi = config.bandpass
        hi = min(hi, 0.45 * sfreq)
        sos = sps.butter(4, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
        out = sps.sosfilt(sos, out, axis=-1)
    if config.notch is not None and config.notch < sfreq / 2:
        b, a = sps.iirnotch(config.notch, 30.0, fs=sfreq)
        out = sps.lfilter(b, a, out, axis=-1)
    return out.astype(np.float32)


def _channels(sig: Signal, config: CalibrationConfig, path: str) -> tuple[list[int], list[str]]:
    names = list(sig.spec.ch_names)
    positions = [config.rename.get(n, n) for n in names]
    if config.channels is None:
        keep = [i for i, n in enumerate(names) if n != config.epochs.label_channel]
        return keep, names
    keep = []
    lower = [n.lower() for n in names]
    lower_pos = [p.lower() for p in positions]
    for want in config.channels:
        if want in names:
            keep.append(names.index(want))
        elif want in positions:
            keep.append(positions.index(want))
        elif want.lower() in lower:  # EDF 'Fc5' for FC5
            keep.append(lower.index(want.lower()))
        elif want.lower() in lower_pos:
            keep.append(lower_pos.index(want.lower()))
        else:
            raise CalibrationDataError(
                f"{path}: channel {want!r} is not in the recording; it has {names}. "
                "Fix 'channels' (or 'rename') in the calibration config."
            )
    return keep, names


def _onsets(rec: Recording, config: CalibrationConfig) -> list[tuple[float, str]]:
    out = []
    stream = config.epochs.marker_stream
    for m in rec.markers:
        v = m.value.strip()
        if stream is not None and m.stream != stream:
            continue
        if v in config.mapping:
            out.append((m.timestamp, config.mapping[v]))
    return out


def _start_end(rec: Recording, config: CalibrationConfig) -> list[tuple[float, float, str]]:
    """Pairs of (start, end, class) from ``"<k>s"/"<k>e"`` or from a plain value given twice."""
    return start_end_pairs([(m.timestamp, m.value) for m in rec.markers], config.mapping)


def _label_runs(labels: np.ndarray, config: CalibrationConfig) -> list[tuple[int, int, str]]:
    """Runs of one label in a per-sample label channel: (first, stop, class)."""
    lab = np.asarray(labels)
    change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    starts = np.r_[0, change]
    stops = np.r_[change, len(lab)]
    out = []
    for a, b in zip(starts, stops, strict=True):
        key = marker_key(lab[a])
        if key in config.mapping:
            out.append((int(a), int(b), config.mapping[key]))
    return out


def _labels_from_markers(rec: Recording, ts: np.ndarray) -> np.ndarray | None:
    """Per-sample labels rebuilt from label-change markers (how a reader may expose them)."""
    if not rec.markers:
        return None
    times = np.array([m.timestamp for m in rec.markers])
    idx = np.searchsorted(times, ts, side="right") - 1
    vals = np.array([m.value for m in rec.markers] + [""], dtype=object)
    return vals[idx]


def sample_index(ts: np.ndarray, times: np.ndarray | list[float], sfreq: float) -> np.ndarray:
    """Nearest sample of each time, robust to jittered or non-monotonic timestamps.

    Muse CSVs carry millisecond-quantized, sometimes decreasing timestamps: a linear fit
    gives a first guess, refined to the nearest actual timestamp within +-32 samples.
    """
    times = np.asarray(times, dtype=np.float64)
    n = len(ts)
    if n < 2 or len(times) == 0:
        return np.zeros(len(times), dtype=int)
    if np.all(np.diff(ts) > 0):
        i = np.clip(np.searchsorted(ts, times), 1, n - 1)
        return np.where(np.abs(ts[i - 1] - times) <= np.abs(ts[i] - times), i - 1, i)
    k = np.arange(n)
    slope, icpt = np.polyfit(k, ts, 1)
    guess = np.clip(np.round((times - icpt) / slope).astype(int), 0, n - 1)
    off = np.arange(-32, 33)
    cand = np.clip(guess[:, None] + off[None, :], 0, n - 1)
    best = np.argmin(np.abs(ts[cand] - times[:, None]) + 1e-9 * np.abs(off)[None, :], axis=1)
    return cand[np.arange(len(times)), best]


def epoch_recording(rec: Recording, config: CalibrationConfig, session: str, group0: int) -> Trials:
    """Cut one recording into labelled windows."""
    sig = pick_signal(rec, config)
    keep, names = _channels(sig, config, rec.path)
    sfreq = float(config.sfreq or sig.spec.sfreq)
    ts = np.asarray(sig.timestamps, np.float64)
    if config.sfreq is not None or len(ts) != sig.data.shape[1]:
        ts = (
            ts[0] + np.arange(sig.data.shape[1]) / sfreq
            if len(ts)
            else np.arange(sig.data.shape[1]) / sfreq
        )
    data = _filter(sig.data[keep], sfreq, config)
    ep = config.epochs
    cls_index = {c: i for i, c in enumerate(config.classes)}
    win = int(round(ep.window * sfreq))
    hop = max(1, int(round(ep.hop * sfreq)))
    skip = int(round(ep.skip * sfreq))
    segs: list[tuple[int, int, int, str]] = []  # (first, stop, group, class)
    n_labelled = 0
    if ep.events == "onset":
        a, b = int(round(ep.tmin * sfreq)), int(round(ep.tmax * sfreq))
        onsets = _onsets(rec, config)
        if not onsets:
            found = sorted({m.value for m in rec.markers})[:20]
            raise RejectedFileError(
                rec.path,
                f"no marker matches mapping {sorted(config.mapping)}; markers found: "
                f"{found or 'none'}. Fix 'mapping' in the calibration config.",
            )
        idx = sample_index(ts, [t for t, _ in onsets], sfreq)
        n_labelled = len(onsets)
        for g, ((_, c), i) in enumerate(zip(onsets, idx, strict=True)):
            if i + a >= 0 and i + b <= data.shape[1]:
                segs.append((i + a, i + b, group0 + g, c))
    else:
        if ep.events == "start_end":
            pairs = _start_end(rec, config)
            if not pairs:
                found = sorted({m.value for m in rec.markers})[:20]
                raise RejectedFileError(
                    rec.path,
                    f"no start/end marker pair matches mapping {sorted(config.mapping)}; "
                    f"markers found: {found or 'none'}. Fix 'mapping' in the calibration config.",
                )
            first = sample_index(ts, [p[0] for p in pairs], sfreq)
            stop = sample_index(ts, [p[1] for p in pairs], sfreq)
            runs = [(int(a), int(b), p[2]) for a, b, p in zip(first, stop, pairs, strict=True)]
        else:
            chs = list(sig.spec.ch_names)
            if ep.label_channel in chs:
                labels = sig.data[chs.index(ep.label_channel)]
            else:
                labels = _labels_from_markers(rec, ts)
                if labels is None:
                    raise CalibrationDataError(
                        f"{rec.path}: no per-sample label channel {ep.label_channel!r} and no label "
                        "markers. Fix 'epochs.label_channel' in the calibration config."
                    )
            runs = _label_runs(labels, config)
        n_labelled = len(runs)
        for g, (first, stop, c) in enumerate(runs):
            for s in range(first + skip, stop - win + 1, hop):
                segs.append((s, s + win, group0 + g, c))
    if not segs:
        raise RejectedFileError(
            rec.path,
            f"no complete trial inside the recording ({n_labelled} labelled trial(s), each "
            "running past the recording's start or end or shorter than epochs.window)",
        )
    X = np.stack([data[:, s:e] for s, e, _, _ in segs]).astype(np.float32)
    raw = sig.data[keep].astype(np.float32)
    X_raw = np.stack([raw[:, s:e] for s, e, _, _ in segs])
    X_raw -= X_raw.mean(axis=-1, keepdims=True)
    if ep.baseline is not None:
        a = int(round((ep.baseline[0] - ep.tmin) * sfreq))
        b = max(a + 1, int(round((ep.baseline[1] - ep.tmin) * sfreq)))
        X -= X[:, :, a:b].mean(axis=-1, keepdims=True)
    y = np.array([cls_index[c] for *_, c in segs])
    groups = np.array([g for _, _, g, _ in segs])
    if ep.reject_uv is not None:
        ptp = np.ptp(X, axis=-1)  # (n_trials, n_channels)
        flat = np.ptp(X_raw, axis=-1) < FLAT_UV  # railed or disconnected: a constant value
        bad = (ptp >= ep.reject_uv) | flat
        ok = ~bad.any(axis=-1)
        if not ok.any():
            raise RejectedFileError(
                rec.path, _rejection_advice(ptp, flat, names, keep, ep.reject_uv)
            )
        X, y, groups, X_raw = X[ok], y[ok], groups[ok], X_raw[ok]
    positions = [config.rename.get(names[i], names[i]) for i in keep]
    return Trials(
        X,
        y,
        groups,
        np.full(len(y), session, dtype=object),
        sfreq,
        [names[i] for i in keep],
        positions,
        list(config.classes),
        [rec.path],
        X_raw,
    )


def session_of(path: Path, config: CalibrationConfig) -> str:
    """Session id of a file: the file itself or its folder."""
    if config.sessions == "folder":
        return path.parent.name
    if config.sessions == "none":
        return "all"
    return path.stem


def load_trials(
    paths: list[str | Path], config: CalibrationConfig, *, progress: bool = False
) -> Trials:
    """Read and epoch every file, check them against each other and the config.

    Raises
    ------
    CalibrationDataError
        When a file has no matching markers, channels differ between files, or a class
        has fewer than ``min_trials_per_class`` trials.
    """
    if not paths:
        raise ConfigError("no recording given: pass at least one file with --data")
    parts: list[Trials] = []
    it = [Path(p) for p in paths]
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="reading", unit="file")
    g = 0
    skipped: dict[str, str] = {}
    for p in it:
        if not p.exists():
            raise CalibrationDataError(f"{p}: no such file")
        try:
            t = epoch_recording(read(p, config), config, session_of(p, config), g)
        except RejectedFileError as exc:
            skipped[str(p)] = exc.reason
            logger.warning("skipped %s: %s", p, exc.reason)
            continue
        g = int(t.groups.max()) + 1
        if parts and (t.ch_names != parts[0].ch_names or abs(t.sfreq - parts[0].sfreq) > 0.5):
            raise CalibrationDataError(
                f"channel mismatch: {p} has {t.ch_names} at {t.sfreq:g} Hz but {parts[0].files[0]} "
                f"has {parts[0].ch_names} at {parts[0].sfreq:g} Hz; calibrate one montage at a time "
                "or set 'channels' in the config."
            )
        if parts and t.n_times != parts[0].n_times:
            t.X = _fit_length(t.X, parts[0].n_times)
            t.X_raw = _fit_length(t.X_raw, parts[0].n_times)
        parts.append(t)
    if not parts:
        detail = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        raise CalibrationDataError(
            f"no usable trial in any of the {len(skipped)} file(s): {detail}"
            if len(skipped) > 1
            else detail
        )
    first = parts[0]
    out = Trials(
        np.concatenate([t.X for t in parts]),
        np.concatenate([t.y for t in parts]),
        np.concatenate([t.groups for t in parts]),
        np.concatenate([t.sessions for t in parts]),
        first.sfreq,
        first.ch_names,
        first.positions,
        first.classes,
        [f for t in parts for f in t.files],
        np.concatenate([t.X_raw for t in parts]),
        skipped,
    )
    counts = out.counts()
    low = {c: n for c, n in counts.items() if n < config.min_trials_per_class}
    if low:
        raise CalibrationDataError(
            f"too few trials per class: {low} (need >= {config.min_trials_per_class} each; "
            f"all counts {counts}). Record more trials or check 'mapping'"
            + (
                f"; epochs.reject_uv={config.epochs.reject_uv:g} uV dropped trials, raise it "
                "or set it to null"
                if config.epochs.reject_uv is not None
                else ""
            )
            + (f"; skipped files: {skipped}" if skipped else "")
            + "."
        )
    logger.info("trials per class %s, %d windows of %d samples", counts, len(out.y), out.n_times)
    return out


def _fit_length(X: np.ndarray, n: int) -> np.ndarray:
    if X.shape[-1] >= n:
        return X[..., :n]
    return np.pad(X, ((0, 0), (0, 0), (0, n - X.shape[-1])), mode="edge")


def resample_trials(trials: Trials, sfreq: float) -> Trials:
    """Resample windows to ``sfreq`` (FFT-free polyphase), e.g. to the encoder's rate."""
    if abs(sfreq - trials.sfreq) < 1e-6:
        return trials
    from fractions import Fraction

    fr = Fraction(sfreq / trials.sfreq).limit_denominator(100)
    X = sps.resample_poly(trials.X, fr.numerator, fr.denominator, axis=-1).astype(np.float32)
    return Trials(
        X,
        trials.y,
        trials.groups,
        trials.sessions,
        sfreq,
        trials.ch_names,
        trials.positions,
        trials.classes,
        trials.files,
        trials.X_raw,
    )
