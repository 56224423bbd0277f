"""The simulated participant: a virtual EEG headset / EMG armband whose signals respond to
what is actually shown (contract 6).

- :func:`simulate`: offline, deterministic ``(Recording, truth)`` for training and tests;
- :class:`SimulatedParticipant`: the same participant live on LSL, listening to
  ``bci-markers`` / ``bci-stimuli`` and publishing ground truth on ``bci-sim-truth``;
- :class:`ScheduleLSL`: a headless stimulus schedule publisher (default SSVEP paradigm).

The participant's hidden visual model is private (``_visual``): ``stimuli/`` must not import it.
"""

from __future__ import annotations

from ._live import ScheduleLSL, SimulatedParticipant
from ._montage import DEFAULT_EEG_MONTAGE, eeg_montage
from ._offline import simulate
from ._participant import Participant
from ._protocol import (
    GESTURES,
    SSVEP_FREQUENCIES,
    SSVEP_ON,
    SSVEP_REST,
    describe_marker,
    description,
    paradigm_schedule,
)
from ._snr import ssvep_snr

__all__ = [
    "DEFAULT_EEG_MONTAGE",
    "GESTURES",
    "Participant",
    "ScheduleLSL",
    "SimulatedParticipant",
    "SSVEP_FREQUENCIES",
    "SSVEP_ON",
    "SSVEP_REST",
    "describe_marker",
    "description",
    "eeg_montage",
    "paradigm_schedule",
    "simulate",
    "ssvep_snr",
]
