"""Pretraining data: recordings read through ``bci.devices.read_recording``, resampled to 250 Hz."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from bci._errors import RecordingError

from ._encoder import MODEL_SFREQ

logger = logging.getLogger(__name__)

SUFFIXES = (".xdf", ".xdfz", ".edf", ".bdf", ".fif", ".vhdr", ".csv", ".txt")
_SIGNAL_TYPES = {"eeg", "emg"}


@dataclass
class Segment:
    """One continuous EEG/EMG stream at :data:`MODEL_SFREQ`.

    Parameters
    ----------
    source : str
        File (and stream name) it came from.
    data : ndarray, shape (n_channels, n_times), float32
        Samples (microvolts for EEG; device units for unitless EMG).
    ch_names : list of str
        Channel labels.
    kind : str
        ``"eeg"`` or ``"emg"``.
    """

    source: str
    data: np.ndarray
    ch_names: list[str]
    kind: str

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.data.shape[1] / MODEL_SFREQ


def resample(x: np.ndarray, sfreq: float, target: float = MODEL_SFREQ) -> np.ndarray:
    """Resample along the last axis with a polyphase filter (``scipy.signal.resample_poly``).

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
        Signals.
    sfreq : float
        Their rate (Hz).
    target : float
        Wanted rate (Hz); default the encoder's 250 Hz.

    Returns
    -------
    ndarray
        float32 at ``target``.
    """
    from scipy.signal import resample_poly

    if abs(sfreq - target) < 1e-6:
        return np.asarray(x, dtype=np.float32)
    frac = Fraction(target / sfreq).limit_denominator(1000)
    return resample_poly(x, frac.numerator, frac.denominator, axis=-1).astype(np.float32)


def find_files(paths: Sequence[str | Path]) -> list[Path]:
    """Recording files under ``paths`` (files or folders, searched recursively)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise RecordingError(f"{p}: no such file or folder")
    return out


def load_segments(paths: Sequence[str | Path], min_seconds: float = 4.0) -> list[Segment]:
    """Read every EEG/EMG stream of the recordings under ``paths``.

    Files are read only through :func:`bci.devices.read_recording`; files it cannot read
    (README text, lists) are skipped with a warning. Streams typed EEG/EMG (by stream
    type or channel types) are kept, resampled to 250 Hz; non-finite samples are set to 0.

    Parameters
    ----------
    paths : sequence of path-like
        Files or folders.
    min_seconds : float
        Shorter streams are dropped.

    Returns
    -------
    list of Segment
    """
    from bci.devices import read_recording

    segments = []
    for f in find_files(paths):
        try:
            rec = read_recording(f)
        except RecordingError as exc:
            logger.warning("skipping %s: %s", f, exc)
            continue
        for sig in rec.signals:
            spec = sig.spec
            types = {t.lower() for t in spec.ch_types} or {spec.stype.lower()}
            kind = spec.stype.lower()
            if kind not in _SIGNAL_TYPES:
                kind = "eeg" if "eeg" in types else "emg" if "emg" in types else ""
            if not kind or spec.sfreq <= 0:
                continue
            keep = [
                i
                for i, t in enumerate(spec.ch_types or ("",) * spec.n_channels)
                if (t.lower() or kind) in _SIGNAL_TYPES
            ]
            data = np.nan_to_num(np.asarray(sig.data, dtype=np.float64)[keep])
            data = resample(data, spec.sfreq)
            names = [spec.ch_names[i] for i in keep]
            # Drop flat channels (no electrode): they teach nothing.
            live = data.std(axis=1) > 1e-3
            if live.sum() == 0 or data.shape[1] < min_seconds * MODEL_SFREQ:
                continue
            seg = Segment(
                f"{f}:{spec.name}",
                data[live],
                [n for n, k in zip(names, live, strict=True) if k],
                kind,
            )
            segments.append(seg)
            logger.info("%s: %s %d ch, %.0f s", seg.source, kind, seg.data.shape[0], seg.seconds)
    if not segments:
        raise RecordingError(f"no EEG/EMG streams found under {', '.join(map(str, paths))}")
    return segments


def simulated_segments(minutes: float, seed: int = 1000) -> list[Segment]:
    """Simulated participant EEG (default SSVEP paradigm) as extra pretraining data."""
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate

    rec, _ = simulate(SimulatedSourceConfig(seed=seed), duration=60.0 * minutes)
    sig = rec.signals[0]
    data = resample(sig.data, sig.spec.sfreq)
    return [Segment(f"simulated seed={seed}", data, list(sig.spec.ch_names), "eeg")]


def save_cache(segments: Sequence[Segment], path: str | Path) -> Path:
    """Store segments in one compressed ``.npz`` (float16 samples) for other machines."""
    arrays = {}
    for i, s in enumerate(segments):
        scale = float(np.abs(s.data).max() or 1.0) / 60000.0
        arrays[f"d{i}"] = (s.data / scale).astype(np.float16)
        arrays[f"s{i}"] = np.array(scale)
        arrays[f"m{i}"] = np.array([s.source, s.kind, *s.ch_names])
    np.savez_compressed(path, n=np.array(len(segments)), **arrays)
    return Path(path)


def load_cache(path: str | Path) -> list[Segment]:
    """Read segments written by :func:`save_cache`."""
    with np.load(path) as z:
        out = []
        for i in range(int(z["n"])):
            meta = [str(v) for v in z[f"m{i}"]]
            data = z[f"d{i}"].astype(np.float32) * float(z[f"s{i}"])
            out.append(Segment(meta[0], data, meta[2:], meta[1]))
    return out
