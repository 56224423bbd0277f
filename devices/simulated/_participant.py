"""Per-participant parameters, all drawn from the seed.

Two seeds give two different "people": individual alpha frequency, SSVEP gains per
frequency and harmonic, response latencies, P300/N170 amplitudes, noise and artifact
levels, EMG armband rotation and muscle gains. The same seed always gives the same person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Participant:
    """Physiological parameters of one simulated participant (drawn by :meth:`from_seed`).

    Amplitudes are in microvolts, times in seconds, frequencies in Hz.
    """

    seed: int
    iaf: float  # individual alpha frequency
    alpha_amp: float  # alpha amplitude density at POz, eyes open
    alpha_closed_gain: float  # eyes closed / eyes open alpha ratio
    bg_amp: float  # broadband (1/f) background scale
    bg_beta: float  # spectral exponent of the 1/f background (power ~ 1/f**beta)
    line_amp: float  # 50 Hz amplitude (typical channel)
    blink_rate: float  # per second
    blink_amp: float
    saccade_rate: float
    muscle_rate: float
    muscle_amp: float
    pop_rate: float
    drift_amp: float
    # SSVEP
    ssvep_amp: float  # fundamental amplitude at 10 Hz on the best channel
    ssvep_fc: float  # low-pass corner of the SSVEP transfer function
    ssvep_harmonics: tuple[float, ...]  # amplitude of harmonics 2, 3 relative to fundamental
    ssvep_phases: tuple[float, ...]  # per-harmonic phase offsets
    ssvep_latency: float  # onset latency (also sets the phase lag)
    ssvep_tau: float  # build-up time constant after the latency
    ssvep_center: tuple[float, float]  # topography centre (layout units)
    ssvep_c50: float  # contrast (depth) at half response
    # transient VEP / ERP
    vep_amp: float
    p1_latency: float
    p300_amp: float
    p300_latency: float
    p300_jitter: float  # trial-to-trial latency SD
    p300_amp_sd: float  # trial-to-trial relative amplitude SD
    n170_face: float
    n170_house: float
    n170_latency: float
    # visual adaptation to repeated/similar images
    adapt_strength: float
    adapt_tau: float
    # EMG
    emg_rotation: float  # armband rotation (rad)
    emg_kappa: float  # spatial selectivity of the electrodes
    emg_gain: float  # RMS at full activation (uV)
    emg_noise: float  # sensor noise RMS (uV)
    emg_reaction: float  # reaction time to a cue
    emg_fatigue_rate: float  # fatigue gained per second of full activation
    muscle_gains: tuple[float, ...] = field(default=())

    @classmethod
    def from_seed(cls, seed: int) -> Participant:
        """Draw a participant from ``np.random.default_rng(seed)``."""
        rng = np.random.default_rng([seed, 17])
        u = rng.uniform
        ln = rng.lognormal
        return cls(
            seed=int(seed),
            iaf=float(u(9.0, 11.5)),
            alpha_amp=float(ln(np.log(3.0), 0.25)),
            alpha_closed_gain=float(u(2.0, 4.0)),
            bg_amp=float(ln(np.log(1.0), 0.15)),
            bg_beta=float(u(1.2, 1.6)),
            line_amp=float(ln(np.log(1.5), 0.5)),
            blink_rate=float(u(0.1, 0.3)),
            blink_amp=float(u(80.0, 180.0)),
            saccade_rate=float(u(0.1, 0.3)),
            muscle_rate=float(u(0.02, 0.08)),
            muscle_amp=float(u(8.0, 25.0)),
            pop_rate=float(u(0.002, 0.01)),
            drift_amp=float(u(10.0, 40.0)),
            ssvep_amp=float(ln(np.log(5.0), 0.2)),
            ssvep_fc=float(u(22.0, 28.0)),
            ssvep_harmonics=(float(u(0.3, 0.6)), float(u(0.1, 0.3))),
            ssvep_phases=tuple(float(x) for x in u(-np.pi, np.pi, 3)),
            ssvep_latency=float(u(0.10, 0.15)),
            ssvep_tau=float(u(0.15, 0.35)),
            ssvep_center=(float(u(-0.12, 0.12)), float(u(-0.95, -0.8))),
            ssvep_c50=float(u(0.15, 0.35)),
            vep_amp=float(ln(np.log(4.0), 0.2)),
            p1_latency=float(u(0.09, 0.12)),
            p300_amp=float(u(14.0, 20.0)),
            p300_latency=float(u(0.30, 0.42)),
            p300_jitter=float(u(0.025, 0.05)),
            p300_amp_sd=float(u(0.25, 0.4)),
            n170_face=float(u(9.0, 13.0)),
            n170_house=float(u(1.5, 3.0)),
            n170_latency=float(u(0.155, 0.185)),
            adapt_strength=float(u(0.25, 0.5)),
            adapt_tau=float(u(4.0, 15.0)),
            emg_rotation=float(u(-0.4, 0.4)),
            emg_kappa=float(u(1.5, 3.0)),
            emg_gain=float(ln(np.log(120.0), 0.2)),
            emg_noise=float(u(2.0, 5.0)),
            emg_reaction=float(u(0.2, 0.35)),
            emg_fatigue_rate=float(u(0.004, 0.01)),
            muscle_gains=tuple(float(x) for x in ln(0.0, 0.2, 6)),
        )

    def ssvep_gain(self, freq: float) -> float:
        """Amplitude of the fundamental at ``freq`` (uV at the best channel, full depth).

        A low-pass transfer function with a bump near the individual alpha frequency
        (resonance), so 8-15 Hz responses are larger than 20-30 Hz ones, as in real data.
        """
        lowpass = 1.0 / np.sqrt(1.0 + (freq / self.ssvep_fc) ** 4)
        bump = 1.0 + 0.5 * np.exp(-((freq - self.iaf) ** 2) / 30.0)
        return float(
            self.ssvep_amp * lowpass * bump / (1.0 / np.sqrt(1 + (10 / self.ssvep_fc) ** 4))
        )
