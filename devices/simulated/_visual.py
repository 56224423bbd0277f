"""The participant's hidden "true" visual model: image -> response gain.

PRIVATE to the simulator (docs/design.md#simulated): ``stimuli/`` must never import it; the optimizer only
sees measured EEG. It is deliberately different from the in-silico model the optimizer uses
(Gabor quadrature energy + linear readout):

1. the image (uint8 grayscale, any size) is resampled to 64 x 64 and turned into contrast
   ``(L - mean) / 128``;
2. a multi-scale *phase-sensitive* filter bank: second-derivative-of-Gaussian (G2) filters at
   3 scales x 4 orientations plus difference-of-Gaussians centre-surround filters at
   3 scales, applied in the Fourier domain;
3. half-wave rectification then squaring (simple cells, not energy), followed by divisive
   normalisation by the pooled activity of all channels at that scale (contrast gain control);
4. spatial pooling with a per-participant Gaussian receptive field (random position and
   size), log-compression;
5. a per-participant nonlinear readout ``sqrt(mean f) * (softplus(w2 . tanh(W1 u + b1)) + 0.1)``
   (``u``: the normalised feature pattern; a blank screen drives nothing),
   normalised so that the median gain over random 1/f noise images is 1.

Repeated or similar images adapt: the gain is multiplied by
``max(0.3, 1 - A * sum_i exp(-dt_i / tau) * cos_sim(f, f_i)**2)`` over previously shown
images (``A``, ``tau`` drawn per participant).
"""

from __future__ import annotations

import base64
from collections import deque

import numpy as np

from bci._errors import StimulusError

from ._participant import Participant

_SIZE = 64


def decode_image(desc: dict) -> np.ndarray:
    """Return the description's image as float contrast in [-1, 1], shape (64, 64)."""
    img = desc.get("image") or {}
    try:
        h, w = int(img["h"]), int(img["w"])
        pix = np.frombuffer(base64.b64decode(img["b64"]), dtype=np.uint8)
        arr = pix.reshape(h, w).astype(float)
    except (KeyError, TypeError, ValueError) as exc:
        raise StimulusError(
            f"stimulus description id={desc.get('id')}: bad 'image' field ({exc}); expected "
            '{"h": int, "w": int, "b64": base64 of h*w uint8 grayscale pixels}'
        ) from exc
    # Nearest-neighbour resampling to 64 x 64 (cheap and dependency-free).
    rows = (np.arange(_SIZE) * h / _SIZE).astype(int)
    cols = (np.arange(_SIZE) * w / _SIZE).astype(int)
    arr = arr[np.ix_(rows, cols)]
    return (arr - arr.mean()) / 128.0


def _filter_bank() -> np.ndarray:
    fy = np.fft.fftfreq(_SIZE)[:, None]
    fx = np.fft.fftfreq(_SIZE)[None, :]
    rad = np.hypot(fx, fy)
    ang = np.arctan2(fy, fx)
    bank = []
    for f0 in (0.05, 0.1, 0.2):
        sigma = f0 / 1.5
        radial = (rad / f0) ** 2 * np.exp(-(rad**2) / (2 * sigma**2) + 0.5)  # G2-like band
        for k in range(4):
            th = k * np.pi / 4
            bank.append(radial * np.cos(ang - th) ** 2)
        dog = np.exp(-(rad**2) / (2 * (f0 / 2) ** 2)) - np.exp(-(rad**2) / (2 * f0**2))
        bank.append(np.abs(dog))
    return np.array(bank)  # (15, 64, 64)


class VisualModel:
    """Hidden image -> gain model of one participant (see the module docstring)."""

    def __init__(self, participant: Participant) -> None:
        rng = np.random.default_rng([participant.seed, 29])
        self.p = participant
        self.bank = _filter_bank()
        n_feat = self.bank.shape[0]
        yy, xx = np.mgrid[0:_SIZE, 0:_SIZE] / _SIZE - 0.5
        pools = []
        for _ in range(n_feat):
            cx, cy = rng.normal(0.0, 0.12, 2)
            s = rng.uniform(0.1, 0.3)
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s**2))
            pools.append(g / g.sum())
        self.pools = np.array(pools)
        self.w1 = rng.normal(0.0, 1.0, (8, n_feat)) / np.sqrt(n_feat)
        self.b1 = rng.normal(0.0, 0.5, 8)
        self.w2 = rng.normal(0.0, 1.0, 8)
        self.b2 = 0.0
        self.norm = 1.0
        self.history: deque[tuple[float, np.ndarray]] = deque(maxlen=64)
        # Normalise on random 1/f noise images so typical gains are ~1.
        ref = []
        for _ in range(24):
            spec = np.fft.fft2(rng.standard_normal((_SIZE, _SIZE)))
            rad = np.hypot(np.fft.fftfreq(_SIZE)[:, None], np.fft.fftfreq(_SIZE)[None, :])
            img = np.real(np.fft.ifft2(spec / np.maximum(rad, 1.0 / _SIZE)))
            img = img / (np.abs(img).max() + 1e-12) * 0.8
            ref.append(self._raw(self.features(img)))
        self.norm = float(np.median(ref)) or 1.0

    def features(self, contrast: np.ndarray) -> np.ndarray:
        """Pooled, normalised filter-bank features of a (64, 64) contrast image."""
        spec = np.fft.fft2(contrast)
        resp = np.real(np.fft.ifft2(spec[None] * self.bank))  # phase-sensitive responses
        simple = np.maximum(resp, 0.0) ** 2
        # Divisive normalisation within each scale (5 channels per scale, Heeger-style).
        pooled = simple.reshape(3, 5, _SIZE, _SIZE)
        local = pooled.mean(axis=1, keepdims=True)
        simple = (pooled**1.5 / (0.003 + local) ** 0.5).reshape(15, _SIZE, _SIZE)
        feats = (simple * self.pools).sum(axis=(1, 2))
        return np.log1p(100.0 * feats)

    def _raw(self, f: np.ndarray) -> float:
        # Drive: overall (compressed) filter energy, 0 for a blank screen; modulation: a
        # random per-participant nonlinear function of the feature *pattern*.
        drive = float(np.sqrt(f.mean()))
        u = f / (np.linalg.norm(f) + 1e-12) * np.sqrt(f.size)
        z = float(self.w2 @ np.tanh(self.w1 @ (u - 1.0) + self.b1) + self.b2)
        return drive * float(np.logaddexp(0.0, 2.0 * z) / 2.0 + 0.1) + 0.02

    def __call__(self, contrast: np.ndarray, t: float) -> tuple[float, float]:
        """Gain of an image shown at time ``t`` (s) and its adaptation factor.

        Returns
        -------
        gain : float
            Response gain before adaptation (~1 for a typical natural-like image).
        adaptation : float
            Multiplicative adaptation factor in [0.3, 1]; the image is added to the history.
        """
        f = self.features(contrast)
        gain = self._raw(f) / self.norm
        fn = f / (np.linalg.norm(f) + 1e-12)
        load = sum(
            np.exp(-(t - ti) / self.p.adapt_tau) * float(fn @ fi) ** 2
            for ti, fi in self.history
            if t >= ti
        )
        adaptation = max(0.3, 1.0 - self.p.adapt_strength * load)
        self.history.append((t, fn))
        return float(gain), float(adaptation)
