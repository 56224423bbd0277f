"""Offline, deterministic simulation (docs/design.md#simulated): no LSL, as fast as numpy goes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from bci._errors import ConfigError
from bci._types import Marker, Recording, Signal, StreamSpec
from bci.config import SimulatedSourceConfig

from ._montage import eeg_montage
from ._participant import Participant
from ._protocol import describe_marker, paradigm_schedule

logger = logging.getLogger(__name__)


def make_engine(config: SimulatedSourceConfig):  # noqa: ANN201 (EngineEEG | EngineEMG)
    """Build the EEG or EMG engine a config describes."""
    participant = Participant.from_seed(config.seed)
    if config.mode == "emg":
        from ._emg import EngineEMG

        return EngineEMG(
            participant, config.n_channels, config.sfreq, snr=config.snr, line_freq=config.line_freq
        )
    from ._eeg import EngineEEG

    ch_names = eeg_montage(config.n_channels, config.ch_names)
    return EngineEEG(
        participant,
        ch_names,
        config.sfreq,
        snr=config.snr,
        artifacts=config.artifacts,
        line_freq=config.line_freq,
    )


def signal_spec(config: SimulatedSourceConfig, ch_names: Sequence[str]) -> StreamSpec:
    """The :class:`~bci.StreamSpec` of the participant's signal stream."""
    ctype = "eeg" if config.mode == "eeg" else "emg"
    return StreamSpec(
        name=config.name,
        stype=config.mode.upper(),
        source_id=f"bci-sim-{config.mode}-seed{config.seed}",
        sfreq=float(config.sfreq),
        ch_names=tuple(ch_names),
        ch_types=(ctype,) * len(ch_names),
        units=("microvolts",) * len(ch_names),
        dtype="float32",
        manufacturer="bci-runtime simulated participant",
    )


def resolve_paradigm(config: SimulatedSourceConfig) -> str:
    """``auto`` -> ``ssvep`` (EEG) or ``gestures`` (EMG)."""
    if config.paradigm != "auto":
        return config.paradigm
    return "ssvep" if config.mode == "eeg" else "gestures"


def simulate(
    config: SimulatedSourceConfig | None = None,
    duration: float = 60.0,
    stimuli: Sequence[tuple[float, dict | str]] | None = None,
) -> tuple[Recording, list[dict]]:
    """Simulate a recording of the participant offline.

    Parameters
    ----------
    config : SimulatedSourceConfig | None
        Participant (``seed``), mode, montage, rate, ``snr``, ``artifacts``; default config
        when ``None``.
    duration : float
        Seconds of signal.
    stimuli : list of (onset_s, description dict | marker label) | None
        What was shown and when (seconds from the first sample; descriptions follow
        docs/design.md#stimulus-protocol, a bare label is converted with :func:`describe_marker`). ``None`` uses
        the config's headless paradigm (:func:`paradigm_schedule`); ``[]`` shows nothing.

    Returns
    -------
    recording : bci.Recording
        One signal (timestamps ``arange(n) / sfreq``) and one marker per stimulus
        (``stream="bci-markers"``, value = label, timestamp = onset).
    truth : list of dict
        Ground truth per stimulus, in onset order: ``onset``, ``id``, ``label``, ``kind``,
        and what the participant really produced (``frequency``, ``amplitude`` (uV, SSVEP
        fundamental at the best channel), ``latency``, ``vep_amplitude``,
        ``p300_amplitude``/``p300_latency``, ``n170_amplitude``, ``model_gain``/
        ``adaptation`` for images, ``gesture``/``activation``/``fatigue`` in EMG mode).

    Notes
    -----
    Deterministic: the same config, duration and stimuli give identical samples.
    """
    config = config or SimulatedSourceConfig()
    if duration <= 0:
        raise ConfigError(f"simulate: duration={duration}; use a positive number of seconds")
    if stimuli is None:
        stimuli = paradigm_schedule(resolve_paradigm(config), duration, seed=config.seed)
    items = []
    for k, (onset, desc) in enumerate(stimuli):
        if isinstance(desc, str):
            desc = describe_marker(desc, id=k)
        items.append((float(onset), desc))
    items.sort(key=lambda it: it[0])
    engine = make_engine(config)
    n_total = int(round(duration * config.sfreq))
    parts, truth, markers = [], [], []
    done = 0
    for onset, desc in items:
        first = min(n_total, int(np.ceil(onset * config.sfreq)))
        if first > done:
            parts.append(engine.render(first - done))
            done = first
        if onset < duration:
            truth.append(engine.stimulate(onset, desc))
            markers.append(Marker(onset, str(desc.get("label", "")), "bci-markers"))
    if n_total > done:
        parts.append(engine.render(n_total - done))
    data = np.concatenate(parts, axis=1).astype(np.float32)
    spec = signal_spec(config, engine.ch_names)
    timestamps = np.arange(n_total) / config.sfreq
    rec = Recording(
        path=f"<simulated seed={config.seed}>",
        signals=[Signal(spec, data, timestamps)],
        markers=markers,
    )
    logger.debug("simulated %.1f s, %d stimuli, seed %d", duration, len(truth), config.seed)
    return rec, truth
