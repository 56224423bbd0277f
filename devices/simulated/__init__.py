"""The simulated participant: a virtual EEG headset / EMG armband whose signals respond to
what is actually shown (docs/design.md#simulated).

- :func:`simulate`: offline, deterministic ``(Recording, truth)`` for training and tests;
- :class:`SimulatedParticipant`: the same participant live on LSL, listening to
  ``bci-markers`` / ``bci-stimuli`` and publishing ground truth on ``bci-sim-truth``;
- :class:`ScheduleLSL`: a headless stimulus schedule publisher (default SSVEP paradigm).

Physiology: see ``_background`` (1/f, alpha, line noise, blinks, saccades, muscle, drift,
pops), ``_eeg`` (how each stimulus kind becomes EEG), ``_emg`` (armband) and
``_participant`` (what differs between seeds).

SNR calibration against real data
---------------------------------
The SSVEP gain was set so that the simulated SNR matches the eeg-notebooks Muse SSVEP
recordings (NeuroTechX eeg-notebooks, subject1, electrode at POz, 192 trials of 20/30 Hz
pattern reversal, 3 s). :func:`ssvep_snr` measures both the same way: amplitude spectrum
(Welch, 2 s Hann, 0.5-3 s after onset) at the stimulus frequency divided by the mean of the
10 neighbouring bins (skipping the adjacent ones). Real: median 5.5 at 20 Hz, 3.9 at 30 Hz
(control frequency ~1.0). Simulated POz, same protocol, seeds 0/1/4: 5.8/4.5/5.4 at 20 Hz,
5.5/3.7/6.4 at 30 Hz. Our wet-electrode noise floor is lower than the dry Muse's (POz
amplitude density at 15 Hz 0.8 vs 2.0 uV/sqrt(Hz)), so the simulated SSVEP amplitudes are
smaller in uV (about 4 uV at 20 Hz) for the same SNR. ``tests/simulated/test_real_data.py``
re-measures both when the real recordings are available. The 8-15 Hz default frequencies get larger
responses (resonance near the individual alpha frequency) but sit on more background.

The hidden visual model (``_visual``) is private: ``stimuli/`` must not import it.
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
