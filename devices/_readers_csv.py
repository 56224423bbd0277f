"""Text recordings: eeg-notebooks Muse CSV, Myo txt, BrainFlow CSV, any CSV by mapping."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci._errors import RecordingError
from bci._types import Marker, Recording, Signal, StreamSpec

from ._readers_mapping import PRESETS, CSVMapping, load_mapping

if TYPE_CHECKING:
    import os

logger = logging.getLogger(__name__)


COMMON_RATES = (100, 128, 160, 200, 250, 256, 300, 500, 512, 1000, 1024, 2000, 2048, 4096)


def infer_sfreq(ts: np.ndarray, path: Path) -> float:
    """Nominal rate from timestamps.

    Uses the mean step over the file (stamps rounded to 1 ms make the median step
    useless: 256 Hz shows as steps of 3 and 4 ms), then snaps to a common rate within
    1 %, else rounds to 0.01 Hz.
    """
    ts = ts[np.isfinite(ts)]
    if ts.size < 3 or ts[-1] <= ts[0]:
        raise RecordingError(f"{path}: too few timestamps to infer the sampling rate; pass sfreq=.")
    steps = np.diff(ts)
    median = float(np.median(steps[steps > 0]))
    regular = steps[steps < 5 * median]  # ignore pauses when averaging
    sfreq = 1.0 / float(regular.mean())
    for rate in COMMON_RATES:
        if abs(sfreq - rate) < 0.01 * rate:
            return float(rate)
    return round(sfreq, 2)


def detect_layout(path: Path) -> str:
    """Guess the layout of a text file from its first line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline().strip()
    cols = [c.strip() for c in first.split(",")]
    if cols and cols[0].lower() == "timestamps" and any(c.startswith("Marker") for c in cols):
        return "muse"
    if "\t" in first:
        return "brainflow"
    try:
        values = [float(c) for c in cols]
    except ValueError:
        values = []
    if len(values) == 9 and float(values[-1]).is_integer():
        return "myo"
    raise RecordingError(
        f"{path}: unknown text layout (first line {first[:80]!r}). Pass mapping= (a "
        "configs/replay_*.yaml file or a dict with time_column/channels/marker_columns)."
    )


def read_text(
    path: Path,
    mapping: CSVMapping | dict | str | os.PathLike | None = None,
    sfreq: float | None = None,
) -> Recording:
    """Read a delimited text recording (see :func:`bci.devices.read_recording`)."""
    m = load_mapping(mapping)
    if m is None or m.layout == "auto":
        layout = detect_layout(path)
        base = CSVMapping(**PRESETS[layout])
        m = (
            base
            if m is None
            else base.model_copy(update=m.model_dump(exclude_unset=True, exclude={"layout"}))
        )
    if sfreq is not None:
        m = m.model_copy(update={"sfreq": float(sfreq)})
    if m.layout == "brainflow":
        return _read_brainflow(path, m)
    return _read_columns(path, m)


def _column(frame, col, path: Path):  # noqa: ANN001
    if isinstance(col, int) and col not in frame.columns:
        if col >= frame.shape[1]:
            raise RecordingError(f"{path}: column {col} does not exist ({frame.shape[1]} columns).")
        return frame.columns[col]
    if col not in frame.columns:
        raise RecordingError(f"{path}: no column {col!r}; columns are {list(frame.columns)}.")
    return col


def _read_columns(path: Path, m: CSVMapping) -> Recording:
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            sep=m.delimiter if m.delimiter else None,
            header=0 if m.header else None,
            engine="c" if m.delimiter else "python",
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise RecordingError(f"{path}: cannot parse as CSV ({exc}).") from exc
    if frame.empty:
        raise RecordingError(f"{path}: no samples.")
    used = set()
    time_col = _column(frame, m.time_column, path) if m.time_column is not None else None
    if time_col is not None:
        used.add(time_col)
    marker_cols = [c for c in m.marker_columns if c in frame.columns or isinstance(c, int)]
    marker_cols = [_column(frame, c, path) for c in marker_cols]
    used.update(marker_cols)
    label_col = _column(frame, m.label_column, path) if m.label_column is not None else None
    if label_col is not None:
        used.add(label_col)
    if m.channels is not None:
        chans = [
            _column(frame, c, path)
            for c in m.channels
            if not (m.layout == "muse" and c not in frame.columns)
        ]
        if not chans and m.layout == "muse":  # eeg-notebooks layout written by another headset
            chans = [c for c in frame.columns if c not in used]
    else:
        chans = [c for c in frame.columns if c not in used]
    if not chans:
        raise RecordingError(f"{path}: no signal columns left after time/marker/label columns.")
    try:
        data = frame[chans].to_numpy(dtype=np.float64).T
    except ValueError as exc:
        raise RecordingError(f"{path}: non-numeric values in the signal columns ({exc}).") from exc
    n = data.shape[1]
    if time_col is not None:
        ts = frame[time_col].to_numpy(dtype=np.float64) * m.time_scale
        sfreq = m.sfreq or infer_sfreq(ts, path)
    else:
        if m.sfreq is None:
            raise RecordingError(f"{path}: no time column and no sampling rate; pass sfreq=.")
        sfreq = float(m.sfreq)
        ts = np.arange(n) / sfreq
    name = m.name or path.stem
    ch_names = tuple(m.ch_names) if m.ch_names else tuple(str(c) for c in chans)
    if len(ch_names) != len(chans):
        raise RecordingError(
            f"{path}: {len(ch_names)} ch_names for {len(chans)} channels in the mapping."
        )
    spec = StreamSpec(
        name=name,
        stype=m.stype,
        source_id=path.name,
        sfreq=float(sfreq),
        ch_names=ch_names,
        ch_types=(m.ch_type,) * len(chans),
        units=(m.unit,) * len(chans),
        dtype="float32",
    )
    markers: list[Marker] = []
    for col in marker_cols:
        values = frame[col].to_numpy()
        for i in np.flatnonzero(values != 0):
            markers.append(Marker(float(ts[i]), _label(values[i]), f"{name}-markers"))
    if label_col is not None:
        labels = frame[label_col].to_numpy()
        change = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        markers += [Marker(float(ts[i]), _label(labels[i]), f"{name}-labels") for i in change]
    markers.sort(key=lambda mk: mk.timestamp)
    signal = Signal(spec=spec, data=data.astype(np.float32), timestamps=ts)
    return Recording(path=str(path), signals=[signal], markers=markers)


def _label(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _read_brainflow(path: Path, m: CSVMapping) -> Recording:
    from ._brainflow import board_id, board_streams

    # Parsed here, not with BrainFlow's DataFilter.read_file: its C++ parser aborts the whole
    # process (std::out_of_range) on a value such as 1e400 in a damaged file.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file: numpy warns, we raise below
            raw = np.loadtxt(path, delimiter=m.delimiter or "\t", dtype=np.float64, ndmin=2).T
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: not a BrainFlow CSV file ({exc}).") from exc
    if raw.size == 0:
        raise RecordingError(f"{path}: no samples in this BrainFlow CSV file.")
    n_rows = raw.shape[0]
    if m.board is None:
        from brainflow.board_shim import BoardIds, BoardShim

        if n_rows != BoardShim.get_num_rows(BoardIds.SYNTHETIC_BOARD.value):
            raise RecordingError(
                f"{path}: BrainFlow CSV with {n_rows} rows per sample; say which board wrote it "
                "with mapping={'layout': 'brainflow', 'board': 'cyton'} (name or id)."
            )
        logger.info("%s: no board given; %d rows match the synthetic board.", path, n_rows)
        bid = BoardIds.SYNTHETIC_BOARD.value
    else:
        bid = board_id(m.board)
    groups, ts_row, marker_row, sfreq = board_streams(
        bid, name=m.name or path.stem, source_id=path.name
    )
    if max(max(r) for _, r in groups) >= n_rows:
        raise RecordingError(f"{path}: {n_rows} rows per sample do not fit board {m.board!r}.")
    ts = raw[ts_row].astype(np.float64) if ts_row is not None else np.arange(raw.shape[1]) / sfreq
    signals = [
        Signal(spec=spec, data=raw[rows].astype(np.float32), timestamps=ts.copy())
        for spec, rows in groups
    ]
    markers = []
    if marker_row is not None:
        values = raw[marker_row]
        markers = [
            Marker(float(ts[i]), _label(values[i]), f"{m.name or path.stem}-markers")
            for i in np.flatnonzero(values != 0)
        ]
    return Recording(path=str(path), signals=signals, markers=markers)
