"""Messages that flow through the runtime: chunks of samples, markers and decisions.

Arrays are ``(n_channels, n_times)``; timestamps are float64 seconds on the LSL clock
(``pylsl.local_clock()``), never wall time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import mne


@dataclass(frozen=True)
class StreamSpec:
    """Description of one stream, as carried in its LSL ``StreamInfo``.

    Parameters
    ----------
    name, stype, source_id : str
        LSL name, type (``"EEG"``, ``"EMG"``, ``"Markers"``...) and source id.
    sfreq : float
        Nominal sampling rate in Hz; ``0.0`` for irregular streams such as markers.
    ch_names, ch_types, units : tuple of str
        Per-channel label, type (``"eeg"``, ``"emg"``, ``"misc"``...) and unit.
    dtype : str
        Sample format: ``"float32"``, ``"float64"``, ``"int32"``, ``"string"``...
    manufacturer : str
        Free text stored in the stream description.
    """

    name: str
    stype: str
    source_id: str
    sfreq: float
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    dtype: str = "float32"
    manufacturer: str = ""

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.ch_names)


@dataclass(frozen=True)
class Chunk:
    """A block of samples from one stream.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times), float32
    timestamps : ndarray, shape (n_times,), float64
        LSL-clock time of every sample.
    spec : StreamSpec
        The stream the samples came from.
    seq : int
        Index of the first sample since the stream started; ``seq + n_times`` is
        the next chunk's ``seq`` unless samples were lost.
    t_pull : float
        LSL-clock time at which the runtime had the chunk in hand.
    """

    data: np.ndarray
    timestamps: np.ndarray
    spec: StreamSpec
    seq: int = 0
    t_pull: float = float("nan")

    @property
    def n_times(self) -> int:
        """Number of samples in the chunk."""
        return int(self.data.shape[1])


@dataclass(frozen=True)
class Marker:
    """A timestamped event: a stimulus onset, a cue, a gap, a clamp by the safety limiter."""

    timestamp: float
    value: str
    stream: str = ""


@dataclass
class Decision:
    """One decoder output with the stage stamps of docs/design.md#latency.

    Parameters
    ----------
    values : ndarray
        Class probabilities or continuous outputs.
    label : str | None
        The emitted label after post-processing, or ``None`` when nothing passed the
        threshold/dwell rules.
    window : tuple of float
        LSL-clock timestamps of the first and last sample of the decoded window.
    model_id : str
        Identifier of the decoder that produced it.
    stamps : dict of str to float
        ``t_sample``, ``t_pull``, ``t_decoded``, ``t_published`` (LSL clock).
    seq : int
        Running decision counter.
    """

    values: np.ndarray
    label: str | None
    window: tuple[float, float]
    model_id: str
    stamps: dict[str, float] = field(default_factory=dict)
    seq: int = 0

    @property
    def latency(self) -> float:
        """Decision latency ``t_published - t_sample`` in seconds (NaN until published)."""
        return self.stamps.get("t_published", float("nan")) - self.stamps.get(
            "t_sample", float("nan")
        )


@dataclass
class Signal:
    """A whole recorded stream held in memory.

    Parameters
    ----------
    spec : StreamSpec
        What the stream is (name, type, channels, rate).
    data : ndarray, shape (n_channels, n_times)
        Samples (microvolts for EEG/EMG wherever the source says so).
    timestamps : ndarray, shape (n_times,), float64
        LSL-clock (or file-clock) time of every sample.
    """

    spec: StreamSpec
    data: np.ndarray
    timestamps: np.ndarray


@dataclass
class Recording:
    """Every stream of one file: the result of ``bci.devices.read_recording``.

    Parameters
    ----------
    path : str
        The file it was read from.
    signals : list of Signal
        Numeric streams (EEG, EMG, ACC...).
    markers : list of Marker
        Events of every marker stream, annotation or status channel, sorted by time;
        ``Marker.stream`` names the stream they came from.
    """

    path: str
    signals: list[Signal] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    def to_mne(
        self, signal: str | int | None = None, markers: Sequence[str] | None = None
    ) -> mne.io.RawArray:
        """One signal as an MNE raw object, with the markers as annotations.

        Parameters
        ----------
        signal : str | int | None
            Stream name or index of the signal; ``None`` takes the first regularly
            sampled one (never the runtime's decisions or latency stamps).
        markers : sequence of str | None
            Names of the marker streams to turn into annotations; ``None`` takes all.

        Returns
        -------
        raw : mne.io.RawArray
            Channel names and rate of the signal; channel types from the stream
            (``eeg``, ``emg``..., ``misc`` where MNE has no such type); EEG/EMG/ECG/EOG in
            volts (converted from the stream's unit, microvolts where it has none).
            Annotations: one per marker on the signal, onset in seconds from the first
            sample (the marker time mapped onto the sample timestamps, so within one
            sample), duration 0, description the marker value. The first sample's time
            on the recording clock is kept in ``raw.info["description"]``.

        Raises
        ------
        bci.RecordingError
            No such signal, an irregular signal, or duplicate channel names.
        """
        from ._interop import recording_to_mne

        return recording_to_mne(self, signal=signal, markers=markers)
