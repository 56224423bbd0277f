"""Read recordings into :class:`bci.Recording`: XDF, EDF/BDF, FIF, BrainVision, CSV layouts.

:func:`read_recording` picks the format from the extension and, for text files, from
the content. Numeric streams become :class:`bci.Signal` (EEG/EMG in microvolts where
the file says volts), marker streams, annotations, status/stim channels and label
columns become :class:`bci.Marker` events. Files without their own clock get
timestamps ``sample_index / sfreq`` starting at 0.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bci._errors import RecordingError
from bci._types import Marker, Recording, Signal, StreamSpec

if TYPE_CHECKING:
    from ._readers_mapping import CSVMapping

logger = logging.getLogger(__name__)

XDF_SUFFIXES = (".xdf", ".xdfz")
MNE_SUFFIXES = {".edf": "edf", ".bdf": "bdf", ".fif": "fif", ".vhdr": "brainvision"}
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def read_recording(
    path: str | os.PathLike,
    *,
    mapping: CSVMapping | dict | str | os.PathLike | None = None,
    sfreq: float | None = None,
    strict: bool = True,
    stim_channel: str | list[str] | bool | None = None,
) -> Recording:
    """Read a recording file.

    Parameters
    ----------
    path : path-like
        ``.xdf``/``.xdfz``, ``.edf``, ``.bdf``, ``.fif`` (``.fif.gz``), ``.vhdr``
        (BrainVision), or a text file: eeg-notebooks Muse CSV (header
        ``timestamps,TP9,...,Marker0``), Myo txt (headerless ``e1..e8,label``), BrainFlow
        CSV (tab-separated, no header) or any CSV described by ``mapping``.
    mapping : CSVMapping | dict | path-like | None
        Column layout for text files (a model, its dict, or a YAML file such as
        ``configs/replay_myo.yaml``). ``None`` detects the layout from the content.
    sfreq : float | None
        Sampling rate for files that do not store one (Myo: default 200 Hz).
    strict : bool
        A truncated XDF file (a chunk cut short) is an error; ``False`` reads the
        complete part, as pyxdf does (``bci replay --partial``).
    stim_channel : str | list of str | bool | None
        EDF/BDF/FIF/BrainVision trigger channels whose value changes become markers.
        ``None`` detects them: a channel typed or named as a trigger counts only when its
        values are integers and mostly constant (a continuous signal named "Trigger" stays
        a signal); the log says which channel was used and why. A name or list of names
        forces those channels; ``False`` reads every channel as a signal.

    Returns
    -------
    recording : bci.Recording

    Raises
    ------
    RecordingError
        The file is missing, of unknown format, truncated or corrupt; the message
        names the file and the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise RecordingError(f"{p}: no such file.")
    if p.stat().st_size == 0:
        raise RecordingError(f"{p}: the file is empty (0 bytes); nothing to read.")
    name = p.name.lower()
    try:
        if name.endswith(XDF_SUFFIXES):
            return _read_xdf(p, strict=strict)
        if name.endswith(".fif.gz") or p.suffix.lower() in MNE_SUFFIXES:
            return _read_mne(p, stim_channel)
        if p.suffix.lower() in TEXT_SUFFIXES or mapping is not None:
            from ._readers_csv import read_text

            return read_text(p, mapping=mapping, sfreq=sfreq)
    except RecordingError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        RuntimeError,
        TypeError,
        AttributeError,
        OverflowError,
        MemoryError,
        UnicodeError,
        struct.error,
    ) as exc:
        raise RecordingError(f"{p}: cannot read it ({type(exc).__name__}: {exc}).") from exc
    raise RecordingError(
        f"{p}: unknown recording format {p.suffix!r}; expected one of .xdf, .edf, .bdf, "
        ".fif, .vhdr, .csv, .txt (or pass mapping= for a custom CSV layout)."
    )


# --------------------------------------------------------------------------- XDF
def scan_xdf(path: Path) -> list[tuple[int, int, int]]:
    """Walk the chunk structure of an XDF file without reading the samples.

    Returns
    -------
    chunks : list of (offset, length, tag)

    Raises
    ------
    RecordingError
        Not an XDF file, or a chunk runs past the end of the file (truncated).
    """
    size = path.stat().st_size
    chunks = []
    with open(path, "rb") as f:
        if f.read(4) != b"XDF:":
            raise RecordingError(f"{path}: not an XDF file (it does not start with 'XDF:').")
        pos = 4
        while pos < size:
            nb = f.read(1)
            width = nb[0] if nb else 0
            if width not in (1, 4, 8) or pos + 1 + width + 2 > size:
                raise RecordingError(
                    f"{path}: truncated or corrupt XDF: chunk #{len(chunks)} at byte {pos} has an "
                    f"invalid or incomplete length field (file size {size} bytes). Replay the "
                    "complete part with `bci replay --partial` (or read_recording(..., "
                    "strict=False))."
                )
            length = int.from_bytes(f.read(width), "little")
            tag = int.from_bytes(f.read(2), "little")
            end = pos + 1 + width + length
            if length < 2 or end > size:
                raise RecordingError(
                    f"{path}: truncated XDF: chunk #{len(chunks)} (tag {tag}) at byte {pos} needs "
                    f"{length} bytes but the file ends {size - pos - 1 - width} bytes later. "
                    "Replay the complete part with `bci replay --partial` (or read it with "
                    "read_recording(..., strict=False))."
                )
            chunks.append((pos, length, tag))
            pos = end
            f.seek(pos)
    if not any(tag == 1 for _, _, tag in chunks[:1]):
        raise RecordingError(f"{path}: corrupt XDF: the first chunk is not a file header.")
    return chunks


def _xdf_spec(info: dict[str, Any], n_channels: int) -> StreamSpec:
    def first(key: str, default: str = "") -> str:
        v = info.get(key)
        return (v[0] if isinstance(v, list) and v else v) or default

    desc = info.get("desc")
    desc = desc[0] if isinstance(desc, list) and desc and isinstance(desc[0], dict) else {}
    names, types, units = [], [], []
    try:
        for ch in desc["channels"][0]["channel"]:
            names.append((ch.get("label") or [""])[0] or f"ch{len(names) + 1}")
            types.append((ch.get("type") or [""])[0] or "")
            units.append((ch.get("unit") or [""])[0] or "")
    except (KeyError, IndexError, TypeError):
        pass
    if len(names) != n_channels:
        names = [f"ch{k + 1}" for k in range(n_channels)]
        types, units = [""] * n_channels, [""] * n_channels
    manufacturer = desc.get("manufacturer", [""])
    fmt = first("channel_format", "float32")
    return StreamSpec(
        name=first("name", "stream"),
        stype=first("type"),
        source_id=first("source_id"),
        sfreq=float(first("nominal_srate", "0") or 0),
        ch_names=tuple(names),
        ch_types=tuple(types),
        units=tuple(units),
        dtype="float64" if fmt == "double64" else fmt,
        manufacturer=(manufacturer[0] if isinstance(manufacturer, list) else manufacturer) or "",
    )


def read_xdf_streams(
    path: Path, strict: bool = True
) -> tuple[list[Signal], list[tuple[StreamSpec, np.ndarray, list]]]:
    """Read every stream of an XDF file with pyxdf (clocks synchronized, no dejitter).

    Returns the numeric streams as signals and the string streams as
    ``(spec, timestamps, values)``.
    """
    import pyxdf

    if path.suffix.lower() == ".xdf":
        scan = scan_xdf(path) if strict else []
        if strict and not any(tag == 6 for _, _, tag in scan):
            logger.warning("%s has no stream footers (the recorder did not close it).", path)
    try:
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=False)
    except Exception as exc:  # pyxdf raises bare Exceptions on malformed XML
        raise RecordingError(
            f"{path}: pyxdf cannot read it ({type(exc).__name__}: {exc})."
        ) from exc
    signals, string_streams = [], []
    for s in streams:
        info = s["info"]
        n_ch = int(info["channel_count"][0])
        spec = _xdf_spec(info, n_ch)
        ts = np.asarray(s["time_stamps"], dtype=np.float64)
        if spec.dtype == "string":
            values = [list(v) for v in s["time_series"]]
            string_streams.append((spec, ts, values))
            continue
        data = np.asarray(s["time_series"]).reshape(-1, n_ch).T
        signals.append(Signal(spec=spec, data=np.ascontiguousarray(data), timestamps=ts))
    return signals, string_streams


def xdf_recording(path: Path, strict: bool = True) -> tuple[Recording, dict[str, StreamSpec]]:
    """Read an XDF file; also return the specs of its string (marker) streams by name."""
    signals, string_streams = read_xdf_streams(path, strict=strict)
    markers = [
        Marker(timestamp=float(t), value=v[0] if len(v) == 1 else "\t".join(v), stream=spec.name)
        for spec, ts, values in string_streams
        for t, v in zip(ts, values, strict=True)
    ]
    markers.sort(key=lambda m: m.timestamp)
    specs = {spec.name: spec for spec, _, _ in string_streams}
    return Recording(path=str(path), signals=signals, markers=markers), specs


def _read_xdf(path: Path, strict: bool) -> Recording:
    return xdf_recording(path, strict)[0]


# --------------------------------------------------------------------------- MNE formats
_MNE_TYPES = {
    "eeg": "EEG",
    "emg": "EMG",
    "ecg": "ECG",
    "eog": "EOG",
    "seeg": "sEEG",
    "ecog": "ECoG",
    "misc": "Misc",
    "resp": "Misc",
    "bio": "Misc",
    "temperature": "Misc",
    "gsr": "Misc",
}
_VOLT_TYPES = {"eeg", "emg", "ecg", "eog", "seeg", "ecog"}


def _read_mne(path: Path, stim_channel: str | list[str] | bool | None = None) -> Recording:
    import mne

    kind = "fif" if path.name.lower().endswith(".fif.gz") else MNE_SUFFIXES[path.suffix.lower()]
    readers = {
        "edf": mne.io.read_raw_edf,
        "bdf": mne.io.read_raw_bdf,
        "fif": mne.io.read_raw_fif,
        "brainvision": mne.io.read_raw_brainvision,
    }
    try:
        raw = readers[kind](path, preload=True, verbose="error")
    except Exception as exc:  # MNE raises ValueError/RuntimeError/struct errors on bad headers
        raise RecordingError(
            f"{path}: cannot read this {kind.upper()} file ({type(exc).__name__}: {exc}). "
            "The header is probably broken or the file truncated."
        ) from exc
    return recording_from_raw(raw, path, stim_channel)


#: A trigger channel changes value at events only: at most this fraction of its samples differ
#: from the previous one (a 10 Hz train of 1-sample pulses at 256 Hz is ~8 %).
STIM_MAX_CHANGES = 0.1


def _trigger_values(name: str, values: np.ndarray) -> np.ndarray:
    if name.lower() == "status":  # BDF status: trigger in the low 16 bits
        return np.asarray(values, dtype=np.int64) & 0xFFFF
    return np.round(values).astype(np.int64)


def check_stim_channel(name: str, values: np.ndarray) -> tuple[bool, str]:
    """Whether a channel looks like a trigger channel, and why (for the log).

    A trigger channel holds finite integer codes (in the low 16 bits for a BDF ``Status``)
    that stay constant between events: at most :data:`STIM_MAX_CHANGES` of its samples
    differ from the previous one.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return False, "it is empty"
    if not np.isfinite(v).all():
        return False, "it has non-finite values"
    if name.lower() != "status" and not np.allclose(v, np.round(v), atol=1e-6):
        frac = float(np.mean(np.abs(v - np.round(v)) > 1e-6))
        return False, f"{frac:.0%} of its values are not integers"
    codes = _trigger_values(name, v)
    changes = float(np.mean(np.diff(codes) != 0)) if codes.size > 1 else 0.0
    if changes > STIM_MAX_CHANGES:
        return False, f"its value changes at {changes:.0%} of samples (a continuous signal)"
    n_events = int(np.count_nonzero((np.diff(codes, prepend=0) != 0) & (codes != 0)))
    return True, f"integer codes, constant between {n_events} events ({changes:.2%} changes)"


def _stim_picks(raw: Any, stim_channel: str | list[str] | bool | None, base: str) -> list[int]:
    """Indices of the channels read as triggers (see :func:`read_recording`)."""
    names = list(raw.ch_names)
    if stim_channel is False:
        return []
    if stim_channel is not None and stim_channel is not True:
        wanted = [stim_channel] if isinstance(stim_channel, str) else list(stim_channel)
        missing = [w for w in wanted if w not in names]
        if missing:
            raise RecordingError(
                f"{base}: stim_channel {missing} not in the file; its channels are {names}."
            )
        return [names.index(w) for w in wanted]
    types = raw.get_channel_types()
    candidates = [
        k
        for k, (n, t) in enumerate(zip(names, types, strict=True))
        if t == "stim" or n.lower().rstrip(".") in ("status", "trigger", "triggers", "sti 014")
    ]
    picks = []
    for k in candidates:
        ok, why = check_stim_channel(names[k], raw.get_data(picks=[k])[0])
        if ok:
            logger.info("%s: channel %r read as trigger channel: %s", base, names[k], why)
            picks.append(k)
        else:
            logger.info(
                "%s: channel %r is named or typed like a trigger channel but %s; kept as a "
                "signal (stim_channel= or --stim-channel forces it)",
                base,
                names[k],
                why,
            )
    return picks


def recording_from_raw(
    raw: Any, path: Path | str, stim_channel: str | list[str] | bool | None = None
) -> Recording:
    """Convert an ``mne.io.Raw`` into a :class:`bci.Recording`.

    Data channels are grouped into one signal per channel kind (EEG, EMG...),
    volts are converted to microvolts, trailing dots of EDF labels are stripped,
    annotations and trigger channels (``stim_channel``, see :func:`read_recording`) become
    markers.
    """
    path = Path(path)
    sfreq = float(raw.info["sfreq"])
    ts = np.arange(raw.n_times) / sfreq
    base = path.name.split(".")[0]
    types = list(raw.get_channel_types())
    markers: list[Marker] = []
    stim_idx = _stim_picks(raw, stim_channel, path.name)
    for k, t in enumerate(types):
        if t == "stim" and k not in stim_idx:
            types[k] = "misc"  # typed stim by the file or MNE, but not a trigger: a signal
    if stim_idx:
        for k in stim_idx:
            types[k] = "stim"
            ch = raw.ch_names[k]
            values = _trigger_values(ch, raw.get_data(picks=[k])[0])
            onsets = np.flatnonzero(np.diff(values, prepend=0) != 0)
            markers += [
                Marker(float(ts[i]), str(int(values[i])), f"{base}-{ch}")
                for i in onsets
                if values[i] != 0
            ]
    first_time = raw.first_samp / sfreq
    for ann in raw.annotations:
        if ann["description"].upper().startswith(("BAD", "EDGE")):
            continue
        markers.append(
            Marker(float(ann["onset"] - first_time), str(ann["description"]), f"{base}-annotations")
        )
    signals = []
    groups: dict[str, list[int]] = {}
    for k, t in enumerate(types):
        if t != "stim":
            groups.setdefault(_MNE_TYPES.get(t, "Misc"), []).append(k)
    data = raw.get_data()
    for stype, idx in groups.items():
        names = [raw.ch_names[k] for k in idx]
        stripped = [n.rstrip(".") or n for n in names]
        if len(set(stripped)) == len(stripped):
            names = stripped
        ch_types = [types[k] for k in idx]
        scale = np.array([1e6 if t in _VOLT_TYPES else 1.0 for t in ch_types])
        units = tuple("microvolts" if t in _VOLT_TYPES else "" for t in ch_types)
        spec = StreamSpec(
            name=base if len(groups) == 1 else f"{base}-{stype}",
            stype=stype,
            source_id=path.name,
            sfreq=sfreq,
            ch_names=tuple(names),
            ch_types=tuple(ch_types),
            units=units,
            dtype="float32",
            manufacturer="",
        )
        sig = (data[idx] * scale[:, None]).astype(np.float32)
        signals.append(Signal(spec=spec, data=sig, timestamps=ts.copy()))
    markers.sort(key=lambda m: m.timestamp)
    return Recording(path=str(path), signals=signals, markers=markers)
