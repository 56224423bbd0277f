"""Write a :class:`bci.Recording` to the file formats :func:`read_recording` reads.

:func:`write_recording` picks the format from the extension:

========================  ==========================================  =========================
extension                 what is written                             library
========================  ==========================================  =========================
``.xdf``                  every signal and every marker stream        ``bci.RecorderXDF``
``.edf``                  one signal, markers as EDF+ annotations     edfio
``.bdf``                  one signal, markers on a ``Status`` channel edfio
``.vhdr``                 one signal, markers as ``.vmrk`` events     pybv
``.fif``                  one signal, markers as annotations          MNE
``.csv``                  one signal, eeg-notebooks Muse layout       (plain text)
``.txt``                  one signal, Myo layout (per-sample label)   (plain text)
========================  ==========================================  =========================

Formats that hold one signal take the one named by ``signal`` (default: the first signal
with a regular sampling rate). Formats whose events are integers (BDF status, Muse
``Marker0`` column, Myo label column) translate marker values with ``codes`` or require
integer values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci._errors import RecordingError
from bci._interop import markers_within, pick_signal, sample_index

if TYPE_CHECKING:
    from bci._types import Marker, Recording, Signal

logger = logging.getLogger(__name__)

WRITE_SUFFIXES = (".xdf", ".edf", ".bdf", ".vhdr", ".fif", ".csv", ".txt")
_MICRO = {"microvolts", "microvolt", "uv", "µv", "μv"}


def write_recording(
    recording: Recording,
    path: str | os.PathLike,
    *,
    signal: str | int | None = None,
    codes: Mapping[str, int] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a recording to a file; the format follows the extension.

    Parameters
    ----------
    recording : bci.Recording
        What to write (for instance from :func:`bci.devices.simulated.simulate` or
        :func:`bci.devices.read_recording`).
    path : path-like
        ``.xdf``, ``.edf``, ``.bdf``, ``.vhdr`` (BrainVision triplet), ``.fif``
        (name it ``*_raw.fif``), ``.csv`` (Muse layout) or ``.txt`` (Myo layout).
    signal : str | int | None
        For single-signal formats: the signal's stream name or index; ``None`` takes the
        first signal with a sampling rate above zero.
    codes : mapping of str to int | None
        Integer code of each marker value, for the formats whose events are integers
        (``.bdf``, ``.csv``, ``.txt``); marker values that are integers need no code.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    path : Path
        The file written (the ``.vhdr`` header for BrainVision).

    Raises
    ------
    RecordingError
        Unknown extension, existing file without ``overwrite``, no such signal, or a
        marker value with no integer code where the format needs one.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise RecordingError(
            f"{p}: cannot write {suffix!r} files; use one of {', '.join(WRITE_SUFFIXES)}."
        )
    if p.exists() and not overwrite:
        raise RecordingError(f"{p} exists; pass overwrite=True to replace it.")
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".xdf":
        if p.exists():
            p.unlink()
        _write_xdf(recording, p)
        return p
    sig = pick_signal(recording, signal)
    markers = markers_within(recording.markers, sig)
    if suffix in (".edf", ".bdf"):
        _write_edf(sig, markers, p, codes)
    elif suffix == ".vhdr":
        _write_brainvision(sig, markers, p)
    elif suffix == ".fif":
        raw = recording.to_mne(signal=sig.spec.name)
        raw.save(p, overwrite=True, verbose="error")
    elif suffix == ".csv":
        _write_muse_csv(sig, markers, p, codes)
    else:
        _write_myo_txt(sig, markers, p, codes)
    logger.debug("wrote %s (%s, %d markers)", p, sig.spec.name, len(markers))
    return p


# --------------------------------------------------------------------------- helpers
def _code(value: str, codes: Mapping[str, int] | None, path: Path) -> int:
    if codes is not None and value in codes:
        return int(codes[value])
    try:
        return int(value)
    except ValueError:
        raise RecordingError(
            f"{path}: marker {value!r} is not an integer and codes= does not give it one; "
            f"{path.suffix} files store integer event codes."
        ) from None


def _microvolts(sig: Signal) -> bool:
    """Samples are microvolts (also where the stream gives no unit, as the readers assume)."""
    return all(not u.strip() or u.strip().lower() in _MICRO for u in sig.spec.units)


# --------------------------------------------------------------------------- XDF
def _write_xdf(recording: Recording, path: Path) -> None:
    from bci._recorder import RecorderXDF
    from bci._types import StreamSpec

    with RecorderXDF(path) as rec:
        for sig in recording.signals:
            sid = rec.add_stream(sig.spec)
            step = int(sig.spec.sfreq) if sig.spec.sfreq >= 1 else 64  # ~1-s chunks, as recorded
            for k in range(0, sig.data.shape[1], step):
                rec.write(sid, np.asarray(sig.data[:, k : k + step]), sig.timestamps[k : k + step])
        streams: dict[str, list[Marker]] = {}
        for m in recording.markers:
            streams.setdefault(m.stream or "markers", []).append(m)
        for name, items in streams.items():
            spec = StreamSpec(name, "Markers", name, 0.0, ("marker",), dtype="string")
            sid = rec.add_stream(spec)
            rec.write(sid, [m.value for m in items], [m.timestamp for m in items])


# --------------------------------------------------------------------------- EDF / BDF
def _physical_range(row: np.ndarray) -> tuple[float, float]:
    lo, hi = (float(row.min()), float(row.max())) if row.size else (-1.0, 1.0)
    if hi - lo < 1e-6:
        lo, hi = lo - 1.0, hi + 1.0
    return lo, hi


def _write_edf(
    sig: Signal, markers: list[Marker], path: Path, codes: Mapping[str, int] | None
) -> None:
    import edfio

    bdf = path.suffix.lower() == ".bdf"
    if bdf and sig.spec.sfreq != int(sig.spec.sfreq):
        raise RecordingError(f"{path}: BDF needs an integer sampling rate, got {sig.spec.sfreq}.")
    signal_cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    unit = "uV" if _microvolts(sig) else ""
    data = np.asarray(sig.data, dtype=np.float64)
    signals = [
        signal_cls(
            data[k],
            sig.spec.sfreq,
            label=name,
            physical_dimension=unit,
            physical_range=_physical_range(data[k]),
        )
        for k, name in enumerate(sig.spec.ch_names)
    ]
    annotations = None
    idx = np.round(sample_index(sig, [m.timestamp for m in markers])).astype(np.int64)
    if bdf:
        status = _marker_column(sig, markers, path, codes).astype(np.float64)
        full = (-8388608, 8388607)
        signals.append(
            edfio.BdfSignal(
                status, sig.spec.sfreq, label="Status", physical_range=full, digital_range=full
            )
        )
    else:
        annotations = [
            edfio.EdfAnnotation(float(i) / sig.spec.sfreq, None, m.value)
            for i, m in zip(idx, markers, strict=True)
        ]
    cls = edfio.Bdf if bdf else edfio.Edf
    record = _record_duration(data.shape[1], sig.spec.sfreq, path)
    cls(signals, annotations=annotations, data_record_duration=record).write(path)


def _record_duration(n_times: int, sfreq: float, path: Path) -> float:
    """Longest data record of at most 1 s that holds a whole number of samples, divides the
    signal into whole records and fits the 8-character header field."""
    for n in range(max(1, int(sfreq)), 0, -1):
        duration = n / sfreq
        text = str(int(duration)) if duration.is_integer() else str(duration)
        if n_times % n == 0 and len(text) <= 8 and float(text) * sfreq == n:
            return duration
    raise RecordingError(
        f"{path}: {n_times} samples at {sfreq} Hz do not split into EDF data records; crop the "
        "signal to a whole number of seconds."
    )


# --------------------------------------------------------------------------- BrainVision
def _write_brainvision(sig: Signal, markers: list[Marker], path: Path) -> None:
    import pybv

    idx = np.round(sample_index(sig, [m.timestamp for m in markers])).astype(np.int64)
    events = []
    for i, m in zip(idx, markers, strict=True):
        try:
            code, kind = int(m.value), "Stimulus"
        except ValueError:
            code, kind = None, "Comment"
        events.append(
            {
                "onset": int(i),
                "duration": 1,
                "description": m.value if code is None else code,
                "type": kind,
            }
        )
    scale = 1e-6 if _microvolts(sig) else 1.0  # pybv takes volts
    pybv.write_brainvision(
        data=np.asarray(sig.data, dtype=np.float64) * scale,
        sfreq=sig.spec.sfreq,
        ch_names=list(sig.spec.ch_names),
        fname_base=path.stem,
        folder_out=str(path.parent),
        events=events or None,
        unit="µV" if scale == 1e-6 else "V",
        fmt="binary_float32",
        overwrite=True,
    )


# --------------------------------------------------------------------------- text layouts
def _marker_column(
    sig: Signal, markers: list[Marker], path: Path, codes: Mapping[str, int] | None
) -> np.ndarray:
    col = np.zeros(sig.data.shape[1], dtype=np.int64)
    idx = np.round(sample_index(sig, [m.timestamp for m in markers])).astype(np.int64)
    for i, m in zip(idx, markers, strict=True):
        col[i] = _code(m.value, codes, path)
    if np.unique(idx).size < idx.size:
        logger.warning(
            "%s: %d markers share a sample with another; a code column keeps the last one.",
            path,
            idx.size - np.unique(idx).size,
        )
    return col


def _write_muse_csv(
    sig: Signal, markers: list[Marker], path: Path, codes: Mapping[str, int] | None
) -> None:
    """eeg-notebooks layout: ``timestamps,<channels>,Marker0`` with a header line."""
    col = _marker_column(sig, markers, path, codes)
    header = ",".join(["timestamps", *sig.spec.ch_names, "Marker0"])
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(header + "\n")
        for k in range(sig.data.shape[1]):
            values = ",".join(f"{float(v):.9g}" for v in sig.data[:, k])
            f.write(f"{sig.timestamps[k]:.6f},{values},{col[k]}\n")


def _write_myo_txt(
    sig: Signal, markers: list[Marker], path: Path, codes: Mapping[str, int] | None
) -> None:
    """Myo layout: headerless ``e1,...,eN,label``; each marker's code holds until the next."""
    onsets = _marker_column(sig, markers, path, codes)
    label = np.zeros(sig.data.shape[1], dtype=np.int64)
    idx = np.round(sample_index(sig, [m.timestamp for m in markers])).astype(np.int64)
    for i in idx:
        label[i:] = onsets[i]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for k in range(sig.data.shape[1]):
            values = ",".join(f"{float(v):.9g}" for v in sig.data[:, k])
            f.write(f"{values},{label[k]}\n")
