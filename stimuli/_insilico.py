"""The in-silico visual model: a differentiable map from stimulus to predicted response features.

Default: a weight-free V1 front end (a bank of quadrature filters applied in the Fourier
domain, squared and summed into energy, pooled on a coarse grid) followed by a per-user linear
readout fitted by ridge regression on (stimulus, measured response) pairs. Two front ends are
built in:

- :class:`GaborEnergy`: Gabor quadrature pairs (one-sided Gaussians in the frequency domain,
  1-octave bandwidth), 8 orientations x 4 spatial frequencies;
- :class:`SteerablePyramid`: a steerable pyramid (log-radial raised-cosine bands x one-sided
  ``cos^(K-1)`` angular masks, Simoncelli & Freeman 1995), same orientations and scales.

Both are one FFT, one filter-bank multiply and one batched inverse FFT per image; the benchmark
in ``tools/bench_optimizer.py`` measures both and the default is the faster one (see the
README section). Any ``torch.nn.Module`` mapping ``(batch, h, w)`` in [0, 1] to
``(batch, n_features)`` can replace the front end (``model.front_end: pkg.module:Class``).

A frame sequence ``(batch, n_frames, h, w)`` is reduced over time: with a flicker frequency the
model takes the amplitude of each feature's time course at that frequency (what an SSVEP
measures), otherwise the mean.
"""

from __future__ import annotations

import importlib
import logging
import math

import numpy as np
import torch
from torch import nn

from bci import ConfigError

logger = logging.getLogger(__name__)


def _freq_grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    fy = torch.fft.fftfreq(h, d=1.0 / h)  # cycles per image height
    fx = torch.fft.fftfreq(w, d=1.0 / w)
    return torch.meshgrid(fy, fx, indexing="ij")


class _FourierBank(nn.Module):
    """Shared machinery: filter bank in the Fourier domain -> energy -> pooled features."""

    def __init__(self, bank: torch.Tensor, grid: int, n_orient: int, n_scales: int):
        super().__init__()
        self.grid = grid
        self.n_orient = n_orient
        self.n_scales = n_scales
        self.size = tuple(bank.shape[1:])
        self.n_filters = int(bank.shape[0])
        # Each scale is computed on the smallest centred crop of the spectrum that holds its
        # support (no aliasing of the complex response), so low frequencies cost little.
        h, w = self.size
        fy, fx = _freq_grid(h, w)
        self.crops: list[int] = []
        for s in range(n_scales):
            sub = bank[s * n_orient : (s + 1) * n_orient]
            support = sub.abs().amax(0) > 1e-3
            rmax = (
                int(max(fy[support].abs().max(), fx[support].abs().max())) if support.any() else 1
            )
            c = max(2 * grid, 1 << int(math.ceil(math.log2(2 * (rmax + 1)))))
            c = min(c, h, w)
            iy = (
                torch.cat([torch.arange(0, c // 2), torch.arange(h - c // 2, h)])
                if c < h
                else torch.arange(h)
            )
            ix = (
                torch.cat([torch.arange(0, c // 2), torch.arange(w - c // 2, w)])
                if c < w
                else torch.arange(w)
            )
            self.register_buffer(f"iy{s}", iy)
            self.register_buffer(f"ix{s}", ix)
            self.register_buffer(f"bank{s}", sub[:, iy][:, :, ix].to(torch.complex64))
            self.crops.append(c)

    @property
    def n_features(self) -> int:
        """Length of the feature vector."""
        return self.n_filters * self.grid * self.grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, h, w)`` in [0, 1] -> ``(batch, n_features)`` pooled quadrature energy."""
        if tuple(x.shape[-2:]) != self.size:
            x = nn.functional.interpolate(
                x[:, None], size=self.size, mode="bilinear", align_corners=False
            )[:, 0]
        h, w = self.size
        spec = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True))
        out = []
        for s, c in enumerate(self.crops):
            iy, ix, bank = (
                getattr(self, f"iy{s}"),
                getattr(self, f"ix{s}"),
                getattr(self, f"bank{s}"),
            )
            sub = spec.index_select(-2, iy).index_select(-1, ix) if c < h else spec
            resp = torch.fft.ifft2(sub[:, None] * bank[None]) * (float(c * c) / (h * w))
            energy = resp.real**2 + resp.imag**2  # (batch, n_orient, c, c)
            out.append(nn.functional.adaptive_avg_pool2d(energy, self.grid).flatten(1))
        return torch.sqrt(torch.cat(out, dim=1) + 1e-8)


class GaborEnergy(_FourierBank):
    """Gabor quadrature-energy front end (weight-free).

    Parameters
    ----------
    size : int
        Image side in pixels (inputs of another size are resampled).
    n_orient : int
        Orientations in [0, pi).
    frequencies : tuple of float
        Centre spatial frequencies in cycles per image.
    bandwidth : float
        Full bandwidth at half height, in octaves.
    grid : int
        Energy is average-pooled onto a ``grid x grid`` map per filter.
    """

    def __init__(
        self,
        size: int = 64,
        n_orient: int = 8,
        frequencies: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0),
        bandwidth: float = 1.0,
        grid: int = 4,
    ):
        fy, fx = _freq_grid(size, size)
        k = (2**bandwidth - 1) / (2**bandwidth + 1) / math.sqrt(2 * math.log(2))
        filters = []
        for f in frequencies:
            sigma = f * k
            for i in range(n_orient):
                th = math.pi * i / n_orient
                u, v = f * math.cos(th), f * math.sin(th)
                filters.append(torch.exp(-((fx - u) ** 2 + (fy - v) ** 2) / (2 * sigma**2)))
        bank = torch.stack(filters)
        bank = bank / bank.amax(dim=(1, 2), keepdim=True)
        super().__init__(bank, grid, n_orient, len(frequencies))


class SteerablePyramid(_FourierBank):
    """Complex steerable-pyramid front end (weight-free), in the Fourier domain.

    Parameters
    ----------
    size : int
        Image side in pixels.
    n_orient : int
        Orientation bands (angular masks ``cos^(n_orient - 1)``, one-sided: complex outputs).
    frequencies : tuple of float
        Octave-spaced band centres in cycles per image (log-radial raised-cosine bands).
    grid : int
        Pooling grid.
    """

    def __init__(
        self,
        size: int = 64,
        n_orient: int = 8,
        frequencies: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0),
        grid: int = 4,
    ):
        fy, fx = _freq_grid(size, size)
        r = torch.sqrt(fx**2 + fy**2).clamp_min(1e-6)
        theta = torch.atan2(fy, fx)
        order = n_orient - 1
        const = (
            (2 ** (2 * order)) * math.factorial(order) ** 2 / (n_orient * math.factorial(2 * order))
        )
        filters = []
        for f in frequencies:
            lr = torch.log2(r / f)
            radial = torch.where(lr.abs() < 1, torch.cos(lr * math.pi / 2), torch.zeros_like(lr))
            for i in range(n_orient):
                th = math.pi * i / n_orient
                d = torch.remainder(theta - th + math.pi, 2 * math.pi) - math.pi
                ang = torch.where(
                    d.abs() < math.pi / 2,
                    2 * math.sqrt(const) * torch.cos(d) ** order,
                    torch.zeros_like(d),
                )
                filters.append(radial * ang)
        bank = torch.stack(filters)
        bank = bank / bank.amax(dim=(1, 2), keepdim=True)
        super().__init__(bank, grid, n_orient, len(frequencies))


FRONT_ENDS = {"gabor": GaborEnergy, "pyramid": SteerablePyramid}


def load_front_end(name: str, size: int, **kwargs) -> nn.Module:
    """Build a front end by name (``gabor``, ``pyramid``) or dotted path (``pkg.mod:Class``).

    A dotted-path class is called with ``**kwargs`` (and ``size=`` if it accepts it); it must
    map ``(batch, h, w)`` to ``(batch, n_features)``.
    """
    if name in FRONT_ENDS:
        return FRONT_ENDS[name](size=size, **kwargs)
    modname, _, attr = name.replace(":", ".").rpartition(".")
    if not modname:
        raise ConfigError(
            f"closed_loop.model.front_end: {name!r} is neither 'gabor', 'pyramid' nor a dotted path "
            "such as 'mypkg.models:MyNet'",
            [("closed_loop.model.front_end", name, "'gabor', 'pyramid' or 'pkg.module:Class'")],
        )
    try:
        cls = getattr(importlib.import_module(modname), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"closed_loop.model.front_end: cannot import {name!r} ({exc})",
            [("closed_loop.model.front_end", name, "an importable torch.nn.Module class")],
        ) from exc
    try:
        module = cls(size=size, **kwargs)
    except TypeError:
        module = cls(**kwargs)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"closed_loop.model.front_end: {name!r} is not a torch.nn.Module")
    return module


class InSilicoModel(nn.Module):
    """Front end + ridge readout: stimulus -> predicted response features.

    Parameters
    ----------
    front_end : nn.Module
        ``(batch, h, w) -> (batch, n_features)``.
    n_outputs : int
        Response features predicted (e.g. SSVEP amplitude per channel, decoder outputs).
    alpha : float
        Ridge penalty (on standardized features).
    frame_rate : float
        Frame rate of frame-sequence inputs (Hz).
    frequency : float | None
        Flicker frequency whose amplitude the model reads from a frame sequence.
    """

    def __init__(
        self,
        front_end: nn.Module,
        n_outputs: int = 1,
        alpha: float = 1.0,
        frame_rate: float = 60.0,
        frequency: float | None = None,
    ):
        super().__init__()
        self.front_end = front_end
        self.alpha = float(alpha)
        self.frame_rate = float(frame_rate)
        self.frequency = frequency
        self.n_outputs = int(n_outputs)
        self.register_buffer("mu", torch.zeros(0))
        self.register_buffer("sd", torch.zeros(0))
        self.register_buffer("weight", torch.zeros(0))
        self.register_buffer("bias", torch.zeros(n_outputs))
        self.fitted = False

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Front-end features of images ``(b, h, w)`` or frame sequences ``(b, t, h, w)``."""
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            return self.front_end(x)
        b, t = x.shape[:2]
        feats = self.front_end(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        if not self.frequency:
            return feats.mean(dim=1)
        time = torch.arange(t, device=x.device, dtype=feats.dtype) / self.frame_rate
        w = 2 * math.pi * self.frequency * time
        re = (feats * torch.cos(w)[None, :, None]).mean(1)
        im = (feats * torch.sin(w)[None, :, None]).mean(1)
        return 2 * torch.sqrt(re**2 + im**2 + 1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted responses ``(batch, n_outputs)``; before :meth:`fit`, the mean energy."""
        f = self.features(x)
        if not self.fitted:
            return f.mean(dim=1, keepdim=True).expand(-1, self.n_outputs)
        return ((f - self.mu) / self.sd) @ self.weight + self.bias

    @torch.no_grad()
    def fit(
        self, stimuli: np.ndarray | torch.Tensor, responses: np.ndarray | torch.Tensor
    ) -> InSilicoModel:
        """Fit the readout by ridge regression on ``stimuli (n, h, w)`` -> ``responses (n, n_outputs)``.

        Solved in the dual (kernel) form, cheap when there are fewer trials than features.
        """
        x = torch.as_tensor(np.asarray(stimuli), dtype=torch.float32, device=self.bias.device)
        y = torch.as_tensor(np.asarray(responses), dtype=torch.float32, device=self.bias.device)
        if y.ndim == 1:
            y = y[:, None]
        if len(x) != len(y) or len(x) < 2:
            raise ValueError(
                f"ridge readout needs >= 2 paired trials, got {len(x)} stimuli / {len(y)} responses"
            )
        feats = torch.cat([self.features(x[i : i + 32]) for i in range(0, len(x), 32)])
        self.mu = feats.mean(0)
        self.sd = feats.std(0) + 1e-6
        z = (feats - self.mu) / self.sd
        self.bias = y.mean(0)
        yc = y - self.bias
        gram = z @ z.T + self.alpha * torch.eye(len(z), device=z.device)
        self.weight = z.T @ torch.linalg.solve(gram, yc)
        self.n_outputs = int(y.shape[1])
        self.fitted = True
        return self

    @torch.no_grad()
    def fit_untrained(self, stimuli: np.ndarray | torch.Tensor, seed: int = 0) -> InSilicoModel:
        """A fixed random readout (the untrained-readout ablation): no response is used.

        The features are standardized on ``stimuli`` (images only) and read out with weights
        drawn from N(0, 1 / n_features) by ``seed``; the bias is 0.
        """
        x = torch.as_tensor(np.asarray(stimuli), dtype=torch.float32, device=self.bias.device)
        feats = torch.cat([self.features(x[i : i + 32]) for i in range(0, len(x), 32)])
        self.mu = feats.mean(0)
        self.sd = feats.std(0) + 1e-6
        g = torch.Generator().manual_seed(int(seed))
        w = torch.randn(feats.shape[1], self.n_outputs, generator=g) / math.sqrt(feats.shape[1])
        self.weight = w.to(feats.device)
        self.bias = torch.zeros(self.n_outputs, device=feats.device)
        self.fitted = True
        return self

    @torch.no_grad()
    def predict(self, stimuli: np.ndarray) -> np.ndarray:
        """Predicted responses for a stack of images, as numpy."""
        x = torch.as_tensor(np.asarray(stimuli), dtype=torch.float32, device=self.bias.device)
        return self(x).cpu().numpy()


def cross_validate(
    model: InSilicoModel, stimuli: np.ndarray, responses: np.ndarray, folds: int = 5
) -> np.ndarray:
    """Held-out predictions of a fresh readout: ``folds``-fold cross-validation.

    Every stimulus is predicted by a readout fitted on the other folds (contiguous folds in
    presentation order). The model's own readout is refitted on all trials at the end.
    Returns ``(n,)`` predictions of output 0.
    """
    x = np.asarray(stimuli)
    y = np.asarray(responses, dtype=np.float64).reshape(len(x), -1)
    n = len(x)
    folds = int(min(folds, n // 2))
    if folds < 2:
        raise ValueError(f"cross-validation needs >= 4 trials, got {n}")
    fold = np.arange(n) * folds // n
    pred = np.full(n, np.nan)
    for k in range(folds):
        test = fold == k
        model.fit(x[~test], y[~test])
        pred[test] = model.predict(x[test])[:, 0]
    model.fit(x, y)
    return pred


def build_model(
    cfg, n_outputs: int = 1, frequency: float | None = None, frame_rate: float = 60.0
) -> InSilicoModel:
    """The in-silico model described by ``closed_loop.model`` (an :class:`InSilicoConfig`).

    The built-in front ends take their tuning from ``cfg.frequencies`` and ``cfg.n_orient``
    (a mis-specified model is the same front end with other values); a dotted-path front end
    gets ``cfg.front_end_kwargs`` only.
    """
    kwargs = dict(cfg.front_end_kwargs)
    if cfg.front_end in FRONT_ENDS:
        kwargs.setdefault("frequencies", tuple(float(f) for f in cfg.frequencies))
        kwargs.setdefault("n_orient", int(cfg.n_orient))
    front = load_front_end(cfg.front_end, cfg.image_size, **kwargs)
    return InSilicoModel(
        front,
        n_outputs=n_outputs,
        alpha=cfg.ridge_alpha,
        frame_rate=frame_rate,
        frequency=frequency,
    )
