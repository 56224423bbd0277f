"""EEG engine: background + responses to shown stimuli, rendered sample-accurately.

How a shown stimulus becomes EEG (times relative to its flip time, amplitudes in uV):

- ``flicker`` at ``f`` Hz (``depth`` d, ``phase`` ph, ``duration`` D): SSVEP
  ``sum_h a_h sin(2 pi h f (t - L) + h ph + phi_h + spatial lag)`` for harmonics h = 1..3,
  with ``a_1 = snr * gain(f) * C(d) * trial factor`` (``gain``: per-participant low-pass
  transfer function with a bump at the individual alpha frequency; ``C``: Naka-Rushton
  contrast response ``d^2 / (d^2 + c50^2)`` normalised to 1 at d = 1; trial factor:
  lognormal, SD 15 %), onset latency ``L`` = 100-150 ms, build-up time constant 150-350 ms,
  decay 100 ms after ``D + L``, on an occipital topography (peak near Oz/POz). A transient
  VEP marks the onset. Alpha is attenuated (x0.6) while any visual stimulus is on.
- ``flash``: VEP (P1 ~100 ms occipital, N1 ~170 ms, P2 ~220 ms fronto-central) with 10 ms
  latency jitter; ``target: true`` adds N2 and a parietal P3b (3-6 uV, 300-420 ms, trial
  latency jitter 40-70 ms, amplitude SD 40-60 %); nontargets get a P3 at 15 %.
- label ``face`` / ``house``: a lateral occipito-temporal N170 (4-7 / 1.5-3 uV, ~170 ms).
- ``image``: the hidden visual model (:mod:`._visual`) gives ``gain * adaptation``; with a
  ``frequency`` it scales the SSVEP, without one it scales the onset VEP (P1/N1).
- ``cue`` ``eyes_closed`` / ``eyes_open``: alpha x2-4 while closed (and no visual response).
- ``off``: ends every visual stimulus on screen. A new flicker/image replaces the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ._background import BackgroundEEG, Transient
from ._montage import topography
from ._participant import Participant
from ._visual import VisualModel, decode_image


@dataclass
class Flicker:
    """An ongoing SSVEP, evaluated analytically so it can last any time."""

    onset: float
    stop: float
    freq: float
    phase: float
    amps: np.ndarray  # (n_harmonics,)
    phases: np.ndarray  # (n_harmonics,)
    topo: np.ndarray  # (n_channels, n_harmonics)
    lag: np.ndarray  # (n_channels,) spatial phase lag (rad at the fundamental)
    latency: float
    tau_on: float
    tau_off: float = 0.1

    def end_sample(self, sfreq: float) -> int:
        """Last sample index with a non-negligible response."""
        return int((self.stop + self.latency + 6 * self.tau_off) * sfreq) + 1

    def render(self, i0: int, n: int, sfreq: float) -> np.ndarray | None:
        """Response on samples ``i0 .. i0+n-1`` (or ``None`` when none falls there)."""
        t = (i0 + np.arange(n)) / sfreq - self.onset - self.latency
        if t[-1] < 0 or t[0] > self.stop - self.onset + 6 * self.tau_off:
            return None
        dur = self.stop - self.onset
        env = np.where(t >= 0, 1.0 - np.exp(-np.maximum(t, 0) / self.tau_on), 0.0)
        env = np.where(
            t > dur, (1.0 - np.exp(-dur / self.tau_on)) * np.exp(-(t - dur) / self.tau_off), env
        )
        out = np.zeros((self.topo.shape[0], n))
        for h, (a, ph) in enumerate(zip(self.amps, self.phases, strict=True)):
            arg = 2 * np.pi * (h + 1) * self.freq * t + (h + 1) * self.phase + ph
            wave = np.sin(arg[None, :] + (h + 1) * self.lag[:, None])
            out += (a * self.topo[:, h])[:, None] * wave
        return out * env


class EngineEEG:
    """Sample-accurate EEG of one participant: ``render(n)`` and ``stimulate(onset, desc)``.

    Parameters
    ----------
    participant : Participant
    ch_names : tuple of str
    sfreq : float
    snr : float
        Scale of every stimulus-evoked response (1.0 = default, realistic SNR).
    artifacts : float
        Scale of artifact rates (0 disables blinks/saccades/muscle/pops).
    line_freq : float
        Mains frequency (50 or 60 Hz); 0 disables line noise.
    """

    def __init__(
        self,
        participant: Participant,
        ch_names: tuple[str, ...],
        sfreq: float,
        snr: float = 1.0,
        artifacts: float = 1.0,
        line_freq: float = 50.0,
    ) -> None:
        seeds = np.random.SeedSequence([participant.seed, 3]).spawn(3)
        self.p = participant
        self.ch_names = tuple(ch_names)
        self.sfreq = float(sfreq)
        self.snr = float(snr)
        self.line_freq = float(line_freq)
        self.block = max(1, round(sfreq / 10))
        self.bg = BackgroundEEG(
            participant,
            self.ch_names,
            sfreq,
            np.random.default_rng(seeds[0]),
            self.block,
            artifacts,
        )
        self.rng = np.random.default_rng(seeds[1])  # trial-to-trial variability
        rng_static = np.random.default_rng(seeds[2])
        n = len(self.ch_names)
        self.line_amp = participant.line_amp * rng_static.lognormal(0.0, 0.4, n)
        self.line_phase = rng_static.uniform(-np.pi, np.pi, n)
        c = participant.ssvep_center
        self.ssvep_topo = np.column_stack(
            [topography(self.ch_names, c, w) for w in (0.38, 0.42, 0.46)]
        )
        # Phase lag grows with distance from the occipital pole (travelling wave, ~0.4 rad).
        self.ssvep_lag = 0.4 * (1.0 - topography(self.ch_names, c, 0.6))
        self.topo_p1 = topography(self.ch_names, (0.0, -0.9), 0.4)
        self.topo_n1 = topography(self.ch_names, (0.0, -0.7), 0.5)
        self.topo_p2 = topography(self.ch_names, (0.0, 0.2), 0.6)
        self.topo_p3 = topography(self.ch_names, (0.0, -0.35), 0.55)
        self.topo_n170 = topography(self.ch_names, (-0.75, -0.6), 0.35) + topography(
            self.ch_names, (0.75, -0.6), 0.35
        )
        self.visual = VisualModel(participant)
        self._buf = np.zeros((n, 0))
        self._alpha = np.zeros((n, 0))
        self._pending: list[Transient] = []
        self.transients: list[Transient] = []
        self.flickers: list[Flicker] = []
        self.visual_on: list[tuple[float, float]] = []  # (onset, stop) of visual stimuli
        self.eyes: list[tuple[float, bool]] = [(-np.inf, False)]  # (time, closed)
        self.index = 0  # next sample to render
        self._gain_zi = np.array([1.0])
        self._gain_b, self._gain_a = signal.butter(1, 2.0, fs=self.sfreq)
        self._gain_zi = signal.lfilter_zi(self._gain_b, self._gain_a)

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.ch_names)

    # ---------------------------------------------------------------- rendering
    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape ``(n_channels, n)``, float64 microvolts."""
        while self._buf.shape[1] < n:
            base, alpha, trans = self.bg.next_block()
            self._buf = np.concatenate([self._buf, base], axis=1)
            self._alpha = np.concatenate([self._alpha, alpha], axis=1)
            self._pending.extend(trans)
        i0 = self.index
        out = self._buf[:, :n].copy()
        out += self._alpha[:, :n] * self._alpha_gain(i0, n)
        self._buf, self._alpha = self._buf[:, n:], self._alpha[:, n:]
        if self.line_freq > 0:
            t = (i0 + np.arange(n)) / self.sfreq
            for h, rel in ((1, 1.0), (3, 0.2)):
                if h * self.line_freq < self.sfreq / 2:
                    arg = 2 * np.pi * h * self.line_freq * t[None, :] + h * self.line_phase[:, None]
                    out += rel * self.line_amp[:, None] * np.sin(arg)
        # Artifacts are applied at render time so events added for this range are included.
        self.transients.extend(self._pending)
        self._pending = []
        stop = i0 + n
        keep = []
        for tr in self.transients:
            a, b = max(tr.start, i0), min(tr.stop, stop)
            if a < b:
                out[:, a - i0 : b - i0] += tr.data[:, a - tr.start : b - tr.start]
            if tr.stop > stop:
                keep.append(tr)
        self.transients = keep
        live = []
        for fl in self.flickers:
            resp = fl.render(i0, n, self.sfreq)
            if resp is not None:
                out += resp
            if fl.end_sample(self.sfreq) > stop:
                live.append(fl)
        self.flickers = live
        self.index = stop
        return out

    def _alpha_gain(self, i0: int, n: int) -> np.ndarray:
        t = (i0 + np.arange(n)) / self.sfreq
        target = np.ones(n)
        for t_ev, closed in self.eyes:
            target[t >= t_ev] = self.p.alpha_closed_gain if closed else 1.0
        self.visual_on = [(a, b) for a, b in self.visual_on if b > t[0] - 1.0]
        for a, b in self.visual_on:
            target[(t >= a + 0.2) & (t < b + 0.3)] *= 0.6
        self.eyes = self.eyes[-1:] if self.eyes[-1][0] <= t[-1] else self.eyes
        gain, self._gain_zi = signal.lfilter(
            self._gain_b, self._gain_a, target, zi=self._gain_zi * 1.0
        )
        return gain

    # ---------------------------------------------------------------- stimuli
    def eyes_closed_at(self, t: float) -> bool:
        """Eyes state at time ``t`` (s)."""
        closed = False
        for t_ev, c in self.eyes:
            if t_ev <= t:
                closed = c
        return closed

    def _end_visual(self, t: float) -> None:
        for fl in self.flickers:
            if fl.stop > t:
                fl.stop = max(t, fl.onset)
        self.visual_on = [(a, min(b, t) if b > t else b) for a, b in self.visual_on]

    def stimulate(self, onset: float, desc: dict) -> dict:
        """Register a stimulus shown at ``onset`` (s since sample 0); return its ground truth."""
        kind = desc.get("kind")
        label = str(desc.get("label", ""))
        dur = float(desc.get("duration") or 0.0)
        truth: dict = {
            "onset": onset,
            "id": desc.get("id"),
            "label": label,
            "kind": kind,
            "response": None,
        }
        if kind == "cue":
            if label in ("eyes_closed", "eyes_open"):
                self.eyes.append((onset, label == "eyes_closed"))
                truth["response"] = "alpha"
            return truth
        if kind == "off":
            self._end_visual(onset)
            truth["response"] = "off"
            return truth
        if kind not in ("flicker", "flash", "image"):
            return truth
        if self.eyes_closed_at(onset):
            truth["response"] = "eyes_closed"
            return truth
        gain = 1.0
        if kind == "image" and desc.get("image"):
            g, adapt = self.visual(decode_image(desc), onset)
            gain = g * adapt
            truth.update(model_gain=g, adaptation=adapt)
        if kind in ("flicker", "image"):
            self._end_visual(onset)
        self.visual_on.append((onset, onset + max(dur, 0.2)))
        freq = desc.get("frequency")
        depth = desc.get("depth")
        depth = 1.0 if depth is None else float(np.clip(depth, 0.0, 1.0))
        if freq and dur > 0 and 0 < float(freq) < self.sfreq / 2:
            truth.update(
                self._flicker(onset, dur, float(freq), float(desc.get("phase") or 0.0), depth, gain)
            )
            vep_gain = 0.5 * gain * self._contrast(depth)
        else:
            vep_gain = gain * (self._contrast(depth) if kind != "flash" else 1.0)
        target = desc.get("target")
        if target is None and label in ("target", "nontarget"):
            target = label == "target"
        truth.update(self._erp(onset, vep_gain, target, label))
        truth["target"] = target
        return truth

    def _contrast(self, depth: float) -> float:
        c50 = self.p.ssvep_c50
        return (depth**2 / (depth**2 + c50**2)) / (1.0 / (1.0 + c50**2))

    def _flicker(
        self, onset: float, dur: float, freq: float, phase: float, depth: float, gain: float
    ) -> dict:
        p = self.p
        trial = float(self.rng.lognormal(0.0, 0.15))
        a1 = self.snr * p.ssvep_gain(freq) * self._contrast(depth) * gain * trial
        amps = np.array([1.0, *p.ssvep_harmonics]) * a1
        latency = p.ssvep_latency + float(self.rng.normal(0.0, 0.005))
        self.flickers.append(
            Flicker(
                onset,
                onset + dur,
                freq,
                phase,
                amps,
                np.array(p.ssvep_phases),
                self.ssvep_topo,
                self.ssvep_lag,
                latency,
                p.ssvep_tau,
            )
        )
        return {
            "frequency": freq,
            "amplitude": float(a1),
            "harmonics": amps.tolist(),
            "latency": latency,
        }

    def _erp(self, onset: float, vep_gain: float, target: bool | None, label: str) -> dict:
        p, rng, fs = self.p, self.rng, self.sfreq
        jit = float(rng.normal(0.0, 0.01))
        vg = self.snr * p.vep_amp * vep_gain * float(rng.lognormal(0.0, 0.2))
        comps = [
            (p.p1_latency + jit, 0.02, 0.8 * vg, self.topo_p1),
            (p.p1_latency + 0.07 + jit, 0.03, -vg, self.topo_n1),
            (0.22 + jit, 0.04, 0.5 * vg, self.topo_p2),
        ]
        out: dict = {"vep_amplitude": vg}
        if target is not None:
            lat = p.p300_latency + float(rng.normal(0.0, p.p300_jitter))
            amp = self.snr * p.p300_amp * max(0.0, float(rng.normal(1.0, p.p300_amp_sd)))
            if target:
                comps.append((0.25 + jit, 0.04, -0.3 * amp, self.topo_p2))
            else:
                amp *= 0.15
            comps.append((lat, 0.1, amp, self.topo_p3))
            out.update(p300_amplitude=amp, p300_latency=lat)
        if label in ("face", "house"):
            amp = (
                self.snr
                * (p.n170_face if label == "face" else p.n170_house)
                * float(rng.lognormal(0.0, 0.2))
            )
            comps.append((p.n170_latency + jit, 0.025, -amp, self.topo_n170))
            out.update(n170_amplitude=amp)
        start = int(np.ceil(onset * fs))
        t = (start + np.arange(int(0.9 * fs))) / fs - onset
        data = np.zeros((self.n_channels, t.size))
        for lat, width, amp, topo in comps:
            data += np.outer(topo, amp * np.exp(-((t - lat) ** 2) / (2 * width**2)))
        self.transients.append(Transient(start, data, "erp"))
        return out
