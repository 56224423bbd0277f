"""EMG armband mode: 8-16 electrodes around the forearm at 1-2 kHz.

Six muscle groups (wrist flexors, extensors, radial and ulnar deviators, pronator,
supinator) sit at fixed angles around the forearm; electrode ``c`` at angle
``2 pi c / n + rotation`` sees muscle ``m`` with a von Mises gain
``g_m exp(kappa (cos(theta_c - theta_m) - 1))`` (rotation, selectivity ``kappa`` and muscle
gains drawn per participant). Each gesture (0 rest, 1 flexion, 2 extension, 3 radial,
4 ulnar deviation, 5 pronation, 6 supination, 7 fist) is a muscle-activation pattern. A cue
(``gesture_<k>`` marker or a description with ``"gesture": k``) starts the pattern after a
reaction time (200-350 ms +- 50 ms), at 30-60 % of maximum with a slow tremor, and releases it
at the end of the cue.

Signal per electrode: the shared muscle signal (crosstalk, 60 %) plus a local motor-unit
component (80 %), both band-limited Gaussian noise, scaled by activation and gain; plus
white sensor noise, 50 Hz line noise and a low-frequency movement artifact at each onset.

Fatigue: per muscle, a leaky integral of activation (rate drawn per participant, recovery
time constant 100 s). It mixes the "fresh" spectrum (band 30-300 Hz, median ~95 Hz) with a
"fatigued" one (20-120 Hz) and raises the amplitude by up to 40 %: the median frequency
drops and the RMS grows over a long session, as in sustained submaximal contractions.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ._background import Transient
from ._participant import Participant

_MUSCLE_ANGLES = np.array([np.pi, 0.0, np.pi / 2, 3 * np.pi / 2, 3 * np.pi / 4, np.pi / 4])
_PATTERNS = np.array(
    [
        [0.02, 0.02, 0.02, 0.02, 0.02, 0.02],  # rest
        [1.00, 0.10, 0.30, 0.30, 0.10, 0.05],  # flexion
        [0.10, 1.00, 0.30, 0.30, 0.05, 0.10],  # extension
        [0.30, 0.30, 1.00, 0.10, 0.10, 0.20],  # radial deviation
        [0.30, 0.30, 0.10, 1.00, 0.10, 0.10],  # ulnar deviation
        [0.20, 0.10, 0.20, 0.10, 1.00, 0.10],  # pronation
        [0.10, 0.20, 0.10, 0.20, 0.10, 1.00],  # supination
        [0.90, 0.50, 0.40, 0.40, 0.30, 0.30],  # fist
    ]
)


class EngineEMG:
    """Sample-accurate armband EMG of one participant (same interface as ``EngineEEG``)."""

    def __init__(
        self,
        participant: Participant,
        n_channels: int,
        sfreq: float,
        snr: float = 1.0,
        line_freq: float = 50.0,
    ) -> None:
        seeds = np.random.SeedSequence([participant.seed, 5]).spawn(2)
        self.p = participant
        self.sfreq = float(sfreq)
        self.snr = float(snr)
        self.line_freq = float(line_freq)
        self.ch_names = tuple(f"EMG{c + 1}" for c in range(n_channels))
        self.block = max(1, round(sfreq / 10))
        self.rng_bg = np.random.default_rng(seeds[0])
        self.rng = np.random.default_rng(seeds[1])
        theta = 2 * np.pi * np.arange(n_channels) / n_channels + participant.emg_rotation
        gains = np.array(participant.muscle_gains)
        self.gain = gains[None, :] * np.exp(
            participant.emg_kappa * (np.cos(theta[:, None] - _MUSCLE_ANGLES[None, :]) - 1)
        )
        hi = min(300.0, 0.45 * sfreq)
        self.sos_fresh = signal.butter(2, [30.0, hi], "bandpass", fs=sfreq, output="sos")
        self.sos_tired = signal.butter(2, [20.0, 120.0], "bandpass", fs=sfreq, output="sos")
        n_src = len(_MUSCLE_ANGLES) + n_channels
        self.zi = [np.zeros((s.shape[0], n_src, 2)) for s in (self.sos_fresh, self.sos_tired)]
        # Unit-RMS normalisation of both filters for white input.
        self.norm = [
            1.0
            / np.sqrt(
                np.mean(signal.sosfilt(s, np.random.default_rng(0).standard_normal(20000)) ** 2)
            )
            for s in (self.sos_fresh, self.sos_tired)
        ]
        rec = 1.0 / 100.0
        self.fat_b = np.array([participant.emg_fatigue_rate / sfreq])
        self.fat_a = np.array([1.0, -(1.0 - rec / sfreq)])
        self.fat_zi = np.zeros((len(_MUSCLE_ANGLES), 1))
        self.line_phase = self.rng_bg.uniform(-np.pi, np.pi, n_channels)
        self.line_amp = self.rng_bg.uniform(1.0, 6.0, n_channels)
        self._buf = np.zeros((2, n_src, 0))
        self.activations: list[Transient] = []
        self.transients: list[Transient] = []
        self.index = 0

    @property
    def n_channels(self) -> int:
        """Number of electrodes."""
        return len(self.ch_names)

    def _block(self) -> np.ndarray:
        n_src = self._buf.shape[1]
        white = self.rng_bg.standard_normal((n_src, self.block))
        out = []
        for k, sos in enumerate((self.sos_fresh, self.sos_tired)):
            y, self.zi[k] = signal.sosfilt(sos, white, axis=1, zi=self.zi[k])
            out.append(y * self.norm[k])
        return np.stack(out)

    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape ``(n_channels, n)``, microvolts."""
        while self._buf.shape[2] < n:
            self._buf = np.concatenate([self._buf, self._block()], axis=2)
        src, self._buf = self._buf[:, :, :n], self._buf[:, :, n:]
        i0, stop = self.index, self.index + n
        n_m = len(_MUSCLE_ANGLES)
        act = np.full((n_m, n), 0.01)
        keep = []
        for tr in self.activations:
            a, b = max(tr.start, i0), min(tr.stop, stop)
            if a < b:
                act[:, a - i0 : b - i0] += tr.data[:, a - tr.start : b - tr.start]
            if tr.stop > stop:
                keep.append(tr)
        self.activations = keep
        fatigue, self.fat_zi = signal.lfilter(self.fat_b, self.fat_a, act, axis=1, zi=self.fat_zi)
        w = np.clip(fatigue, 0.0, 0.8)
        mixed = np.sqrt(1 - w) * src[0, :n_m] + np.sqrt(w) * src[1, :n_m]  # (n_m, n)
        amp = act * (1.0 + 0.5 * w) * self.p.emg_gain * self.snr
        shared = self.gain @ (amp * mixed)
        drive = self.gain @ amp / np.maximum(self.gain.sum(axis=1, keepdims=True), 1e-9) * 2.0
        wc = (self.gain @ w) / np.maximum(self.gain.sum(axis=1, keepdims=True), 1e-9)
        local = np.sqrt(1 - wc) * src[0, n_m:] + np.sqrt(wc) * src[1, n_m:]
        out = 0.6 * shared + 0.8 * drive * local
        out += self.rng_bg.standard_normal(out.shape) * self.p.emg_noise
        if self.line_freq > 0:
            t = (i0 + np.arange(n)) / self.sfreq
            out += self.line_amp[:, None] * np.sin(
                2 * np.pi * self.line_freq * t[None, :] + self.line_phase[:, None]
            )
        keep = []
        for tr in self.transients:
            a, b = max(tr.start, i0), min(tr.stop, stop)
            if a < b:
                out[:, a - i0 : b - i0] += tr.data[:, a - tr.start : b - tr.start]
            if tr.stop > stop:
                keep.append(tr)
        self.transients = keep
        self.fatigue = fatigue[:, -1].copy()
        self.index = stop
        return out

    def stimulate(self, onset: float, desc: dict) -> dict:
        """Register a gesture cue shown at ``onset`` (s); return its ground truth."""
        label = str(desc.get("label", ""))
        truth: dict = {
            "onset": onset,
            "id": desc.get("id"),
            "label": label,
            "kind": desc.get("kind"),
            "response": None,
        }
        k = desc.get("gesture")
        if k is None and label.startswith("gesture_"):
            k = int(label.split("_", 1)[1])
        if k is None:
            return truth
        k = int(k)
        if not 0 <= k < len(_PATTERNS):
            truth["response"] = f"unknown gesture {k}"
            return truth
        fs, rng = self.sfreq, self.rng
        dur = float(desc.get("duration") or 2.0)
        rt = max(0.12, self.p.emg_reaction + float(rng.normal(0.0, 0.05)))
        level = float(np.clip(rng.lognormal(np.log(0.45), 0.2), 0.2, 0.9))
        hold = max(dur - 0.1, 0.2)
        t = np.arange(int((hold + 0.4) * fs)) / fs
        env = np.clip(t / 0.1, 0, 1) * np.clip((hold + 0.15 - t) / 0.15, 0, 1)
        tremor = signal.sosfiltfilt(
            signal.butter(1, 3.0, fs=fs, output="sos"), rng.standard_normal(t.size + 200)
        )[100:-100]
        tremor = 1.0 + 0.15 * tremor / (tremor.std() + 1e-12)
        pattern = _PATTERNS[k] * np.exp(rng.normal(0.0, 0.3, len(_MUSCLE_ANGLES)))
        data = (
            np.outer(pattern, level * env * tremor) if k != 0 else np.zeros((len(pattern), t.size))
        )
        start = int(np.ceil((onset + rt) * fs))
        self.activations.append(Transient(start, data, f"gesture_{k}"))
        if k != 0:  # movement artifact at the onset of the movement
            tm = np.arange(int(0.4 * fs)) / fs
            art = np.sin(2 * np.pi * rng.uniform(3, 8) * tm) * np.exp(-tm / 0.1)
            self.transients.append(
                Transient(start, np.outer(rng.normal(0, 15.0, self.n_channels), art), "motion")
            )
        truth.update(
            response="gesture",
            gesture=k,
            activation=level,
            reaction=rt,
            fatigue=float(np.mean(getattr(self, "fatigue", np.zeros(1)))),
        )
        return truth
