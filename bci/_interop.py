"""Conversion of a :class:`bci.Recording` to MNE (imported lazily: the hot path never loads MNE).

One regularly sampled signal becomes an ``mne.io.RawArray`` in SI units (volts for
EEG/EMG/ECG/EOG); markers become annotations whose onsets are the marker times mapped onto
the signal's own timestamps, so jitter and gaps in the stamps do not shift events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import RecordingError

if TYPE_CHECKING:
    from ._types import Marker, Recording, Signal

logger = logging.getLogger(__name__)

#: Stream types the runtime writes next to the signals (never picked as "the" signal).
RUNTIME_STREAM_TYPES = ("Decision", "LatencyStamps", "Events", "Metrics")
_VOLT_TYPES = ("eeg", "emg", "ecg", "eog", "seeg", "ecog", "dbs")
_UNIT_SCALE = {
    "microvolts": 1e-6,
    "microvolt": 1e-6,
    "uv": 1e-6,
    "µv": 1e-6,
    "μv": 1e-6,
    "millivolts": 1e-3,
    "millivolt": 1e-3,
    "mv": 1e-3,
    "volts": 1.0,
    "volt": 1.0,
    "v": 1.0,
    "nanovolts": 1e-9,
    "nv": 1e-9,
}
_STYPE_TO_TYPE = {"EEG": "eeg", "EMG": "emg", "ECG": "ecg", "EOG": "eog", "SEEG": "seeg"}


def pick_signal(recording: Recording, signal: str | int | None = None) -> Signal:
    """The signal that single-signal formats and :meth:`bci.Recording.to_mne` use.

    Parameters
    ----------
    recording : bci.Recording
    signal : str | int | None
        Stream name or index; ``None`` takes the first non-empty signal with a sampling
        rate above zero (decisions and latency stamps are irregular and never picked).

    Raises
    ------
    RecordingError
        No such signal; the message lists the signals there are.
    """
    if isinstance(signal, int) and not isinstance(signal, bool):
        if not 0 <= signal < len(recording.signals):
            raise RecordingError(
                f"{recording.path}: signal={signal} but it has {len(recording.signals)} signals."
            )
        return recording.signals[signal]
    for sig in recording.signals:
        if signal is not None and sig.spec.name == signal:
            return sig
        if (
            signal is None
            and sig.spec.sfreq > 0
            and sig.data.shape[1] > 0
            and sig.spec.stype not in RUNTIME_STREAM_TYPES
        ):
            return sig
    names = [s.spec.name for s in recording.signals]
    what = f"no signal named {signal!r}" if signal is not None else "no regularly sampled signal"
    raise RecordingError(f"{recording.path}: {what}; its signals are {names}.")


def sample_index(sig: Signal, t: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Fractional sample index of LSL-clock time(s) ``t`` on ``sig``'s timestamps.

    Interpolated over the recorded stamps (jitter and gaps do not shift events); times
    outside the signal are extrapolated at the nominal rate.
    """
    t = np.asarray(t, dtype=np.float64)
    ts = sig.timestamps
    if ts.size < 2 or sig.spec.sfreq <= 0:
        t0 = float(ts[0]) if ts.size else 0.0
        return (t - t0) * max(sig.spec.sfreq, 0.0)
    idx = np.interp(t, ts, np.arange(ts.size, dtype=np.float64))
    idx = np.where(t < ts[0], (t - ts[0]) * sig.spec.sfreq, idx)
    return np.where(t > ts[-1], ts.size - 1 + (t - ts[-1]) * sig.spec.sfreq, idx)


def markers_within(markers: Sequence[Marker], sig: Signal) -> list[Marker]:
    """The markers that fall on the signal (within half a sample of its first/last stamp)."""
    if not sig.timestamps.size:
        return []
    idx = sample_index(sig, [m.timestamp for m in markers])
    n = sig.timestamps.size
    keep = [m for m, i in zip(markers, idx, strict=True) if -0.5 <= i <= n - 0.5]
    if len(keep) < len(markers):
        logger.debug("%d markers outside %s left out", len(markers) - len(keep), sig.spec.name)
    return keep


def mne_channel_types(sig: Signal) -> list[str]:
    """MNE channel type of every channel (``misc`` for types MNE does not know)."""
    from mne.io import get_channel_type_constants

    known = set(get_channel_type_constants())
    default = _STYPE_TO_TYPE.get(sig.spec.stype.upper(), "misc")
    types = list(sig.spec.ch_types) if len(sig.spec.ch_types) == sig.spec.n_channels else []
    out = []
    for k in range(sig.spec.n_channels):
        t = types[k].lower() if types and types[k] else default
        out.append(t if t in known else "misc")
    return out


def si_scale(sig: Signal, ch_types: Sequence[str]) -> np.ndarray:
    """Factor from the stored unit to SI per channel.

    Voltage channels without a known unit are taken as microvolts (the unit of every
    reader and of the runtime); other channels keep their values.
    """
    units = list(sig.spec.units) if len(sig.spec.units) == sig.spec.n_channels else []
    scale = np.ones(sig.spec.n_channels)
    for k, t in enumerate(ch_types):
        unit = units[k].strip().lower() if units else ""
        if unit in _UNIT_SCALE:
            scale[k] = _UNIT_SCALE[unit]
        elif t in _VOLT_TYPES:
            scale[k] = 1e-6
    return scale


def recording_to_mne(
    recording: Recording,
    signal: str | int | None = None,
    markers: Sequence[str] | None = None,
) -> Any:  # noqa: ANN401 (mne.io.RawArray; MNE is imported lazily)
    """Implementation of :meth:`bci.Recording.to_mne`."""
    import mne

    sig = pick_signal(recording, signal)
    if sig.spec.sfreq <= 0:
        raise RecordingError(
            f"{recording.path}: signal {sig.spec.name!r} has no sampling rate (irregular "
            "stream); pick a regularly sampled one with signal=."
        )
    if len(set(sig.spec.ch_names)) != sig.spec.n_channels:
        raise RecordingError(
            f"{recording.path}: signal {sig.spec.name!r} has duplicate channel names "
            f"{list(sig.spec.ch_names)}; MNE needs unique names."
        )
    ch_types = mne_channel_types(sig)
    data = np.asarray(sig.data, dtype=np.float64) * si_scale(sig, ch_types)[:, None]
    info = mne.create_info(list(sig.spec.ch_names), sig.spec.sfreq, ch_types, verbose="error")
    t0 = float(sig.timestamps[0]) if sig.timestamps.size else 0.0
    info["description"] = (
        f"{sig.spec.name} ({sig.spec.stype}) from {recording.path}; "
        f"first sample at {t0!r} s on the recording clock"
    )
    raw = mne.io.RawArray(data, info, verbose="error")
    chosen = [m for m in recording.markers if markers is None or m.stream in set(markers)]
    chosen = markers_within(chosen, sig)
    if chosen:
        onsets = sample_index(sig, [m.timestamp for m in chosen]) / sig.spec.sfreq
        raw.set_annotations(
            mne.Annotations(
                onset=np.clip(onsets, 0.0, None),
                duration=np.zeros(len(chosen)),
                description=[m.value for m in chosen],
            )
        )
    return raw
