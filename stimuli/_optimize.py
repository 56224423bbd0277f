"""Stimulus parametrizations, objectives and optimizers (Adam through the model, CMA-ES on measurements).

A parametrization is a ``torch.nn.Module`` whose ``raw()`` returns an unconstrained image;
:func:`constrain` turns it into a displayable image with a fixed RMS contrast (the L2 norm of
the zero-mean image) around mid-gray and the [0, 1] range. The safety limiter runs *after* the
optimizer, on what it returns; the optimizer has no way around it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)


def constrain(raw: torch.Tensor, contrast: float, mean: float = 0.5) -> torch.Tensor:
    """Zero-mean, RMS contrast ``contrast``, offset ``mean``, clipped to [0, 1]."""
    z = raw - raw.mean(dim=(-2, -1), keepdim=True)
    z = z / (z.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt() + 1e-8) * contrast
    return (mean + z).clamp(0.0, 1.0)


class PixelParam(nn.Module):
    """One free parameter per pixel."""

    def __init__(self, size: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.p = nn.Parameter(torch.randn(size, size, generator=g) * 0.1)

    def raw(self) -> torch.Tensor:
        """The unconstrained image."""
        return self.p


class FourierParam(nn.Module):
    """Complex Fourier coefficients scaled by ``1 / f**decay`` (natural-image 1/f spectrum).

    Parameters
    ----------
    size : int
        Image side.
    decay : float
        Spectral slope of the scaling (1.0: 1/f amplitude).
    max_freq : float | None
        Keep only frequencies below this many cycles per image (small search spaces for CMA-ES).
    """

    def __init__(self, size: int, seed: int = 0, decay: float = 1.0, max_freq: float | None = None):
        super().__init__()
        fy = torch.fft.fftfreq(size, d=1.0 / size)[:, None]
        fx = torch.fft.rfftfreq(size, d=1.0 / size)[None, :]
        r = torch.sqrt(fx**2 + fy**2)
        scale = 1.0 / r.clamp_min(1.0) ** decay
        mask = torch.ones_like(r) if max_freq is None else (r <= max_freq).float()
        mask[0, 0] = 0.0
        self.register_buffer("scale", scale * mask)
        self.register_buffer("mask", mask.bool())
        self.size = size
        g = torch.Generator().manual_seed(seed)
        self.coef = nn.Parameter(torch.randn(2, size, size // 2 + 1, generator=g) * 0.1)

    def raw(self) -> torch.Tensor:
        """The unconstrained image."""
        spec = torch.complex(self.coef[0], self.coef[1]) * self.scale
        return torch.fft.irfft2(spec, s=(self.size, self.size)) * self.size

    def get_vector(self) -> np.ndarray:
        """The free coefficients as a flat vector (for CMA-ES)."""
        return self.coef.detach()[:, self.mask].flatten().numpy().astype(np.float64)

    def set_vector(self, v: np.ndarray) -> None:
        """Set the free coefficients from a flat vector."""
        with torch.no_grad():
            c = self.coef.clone()
            c[:, self.mask] = torch.as_tensor(v, dtype=c.dtype).reshape(2, -1)
            self.coef.copy_(c)


class GaborParam(nn.Module):
    """A sum of ``n`` Gabor patches with free position, orientation, frequency, phase, size, weight."""

    def __init__(self, size: int, seed: int = 0, n: int = 8):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.size = size
        self.p = nn.Parameter(torch.randn(n, 7, generator=g) * 0.5)
        yy, xx = torch.meshgrid(
            torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij"
        )
        self.register_buffer("xx", xx)
        self.register_buffer("yy", yy)

    def raw(self) -> torch.Tensor:
        """The unconstrained image."""
        p = self.p
        x0, y0 = torch.tanh(p[:, 0])[:, None, None], torch.tanh(p[:, 1])[:, None, None]
        theta = p[:, 2][:, None, None] * math.pi
        sf = (2.0 + 10.0 * torch.sigmoid(p[:, 3]))[:, None, None]  # cycles per half-image
        phase = p[:, 4][:, None, None] * math.pi
        sigma = (0.1 + 0.5 * torch.sigmoid(p[:, 5]))[:, None, None]
        amp = p[:, 6][:, None, None]
        dx, dy = self.xx[None] - x0, self.yy[None] - y0
        u = dx * torch.cos(theta) + dy * torch.sin(theta)
        env = torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))
        return (amp * env * torch.cos(math.pi * sf * u + phase)).sum(0)

    def get_vector(self) -> np.ndarray:
        """All parameters as a flat vector."""
        return self.p.detach().flatten().numpy().astype(np.float64)

    def set_vector(self, v: np.ndarray) -> None:
        """Set all parameters from a flat vector."""
        with torch.no_grad():
            self.p.copy_(torch.as_tensor(v, dtype=self.p.dtype).reshape(self.p.shape))


def make_param(
    kind: str, size: int, seed: int = 0, n_gabors: int = 8, max_freq: float | None = None
) -> nn.Module:
    """A parametrization by name: ``fourier``, ``pixel`` or ``gabor``."""
    if kind == "fourier":
        return FourierParam(size, seed, max_freq=max_freq)
    if kind == "pixel":
        return PixelParam(size, seed)
    if kind == "gabor":
        return GaborParam(size, seed, n_gabors)
    raise ValueError(f"unknown parametrization {kind!r}; use fourier, pixel or gabor")


class FlickerParam(nn.Module):
    """Temporal flicker of an image: frequency (fixed or free), phase and modulation depth.

    ``frames(img)`` returns ``(n_frames, h, w) = bg + (img - bg) * (1 - depth (1 - cos(2 pi f t + phase)) / 2)``,
    the same formula the presenter and :meth:`bci.stimuli.Stimulus.render` use.
    """

    def __init__(
        self,
        frequency: float,
        depth: float = 1.0,
        phase: float = 0.0,
        n_frames: int = 60,
        frame_rate: float = 60.0,
        learn_frequency: bool = False,
        background: float = 0.5,
    ):
        super().__init__()
        self.log_f = nn.Parameter(torch.tensor(math.log(frequency)), requires_grad=learn_frequency)
        d = min(max(depth, 1e-3), 1 - 1e-3)
        self.depth_logit = nn.Parameter(torch.tensor(math.log(d / (1 - d))))
        self.phase = nn.Parameter(torch.tensor(float(phase)))
        self.register_buffer("t", torch.arange(n_frames) / frame_rate)
        self.background = background

    @property
    def values(self) -> dict:
        """Current ``frequency``, ``depth``, ``phase`` as floats."""
        return {
            "frequency": float(self.log_f.detach().exp()),
            "depth": float(torch.sigmoid(self.depth_logit.detach())),
            "phase": float(self.phase.detach()),
        }

    def frames(self, img: torch.Tensor) -> torch.Tensor:
        """The frame sequence of ``img`` (h, w) under this flicker."""
        depth = torch.sigmoid(self.depth_logit)
        m = 1 - depth * (1 - torch.cos(2 * math.pi * self.log_f.exp() * self.t + self.phase)) / 2
        return self.background + (img[None] - self.background) * m[:, None, None]


def make_objective(
    kind: str, target: list[float] | None = None, index: int = 0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Objective on predicted responses ``(batch, n_outputs) -> (batch,)``, to maximize.

    ``maximize``: the mean response; ``target``: minus the squared distance to ``target``;
    ``decoder``: output ``index`` (e.g. a decoder's class probability modelled by the readout).
    """
    if kind == "maximize":
        return lambda y: y.mean(dim=1)
    if kind == "target":
        if not target:
            raise ValueError("objective 'target' needs a target vector")
        tgt = torch.as_tensor(target, dtype=torch.float32)
        return lambda y: -((y - tgt.to(y.device)) ** 2).mean(dim=1)
    if kind == "decoder":
        return lambda y: y[:, index]
    raise ValueError(f"unknown objective {kind!r}; use maximize, target or decoder")


@dataclass
class OptimizeResult:
    """One optimized stimulus."""

    image: np.ndarray
    value: float
    steps: int
    seconds: float
    history: list[float] = field(default_factory=list)
    flicker: dict | None = None
    param: nn.Module | None = None

    @property
    def steps_per_s(self) -> float:
        """Optimizer throughput."""
        return self.steps / self.seconds if self.seconds > 0 else float("inf")


class GradientOptimizer:
    """Adam gradient ascent on a parametrization through a differentiable model.

    Parameters
    ----------
    model : nn.Module
        Stimulus ``(batch, h, w)`` (or ``(batch, t, h, w)`` with ``flicker``) -> ``(batch, n_outputs)``.
    objective : callable
        ``(batch, n_outputs) -> (batch,)`` to maximize.
    size : int
        Image side.
    parametrization : str
        ``fourier``, ``pixel`` or ``gabor``.
    steps, lr : int, float
        Adam steps and learning rate.
    jitter : int
        Random circular shift of up to ``jitter`` px per step (robustness to fixation error).
    contrast : float
        Fixed RMS contrast.
    flicker : dict | None
        ``{"frequency", "depth", "phase", "n_frames", "frame_rate"}`` to optimize a flickering
        sequence (depth and phase are free parameters).
    device : str
        torch device.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Callable,
        size: int,
        parametrization: str = "fourier",
        steps: int = 150,
        lr: float = 0.05,
        jitter: int = 2,
        contrast: float = 0.2,
        n_gabors: int = 8,
        flicker: dict | None = None,
        device: str = "cpu",
    ):
        self.model = model.to(device)
        self.objective = objective
        self.size = size
        self.parametrization = parametrization
        self.steps = steps
        self.lr = lr
        self.jitter = jitter
        self.contrast = contrast
        self.n_gabors = n_gabors
        self.flicker = flicker
        self.device = device

    def __call__(
        self,
        seed: int = 0,
        steps: int | None = None,
        deadline: float | None = None,
        init: nn.Module | None = None,
    ) -> OptimizeResult:
        """Optimize one stimulus from a seeded random start (or warm-start from ``init``).

        ``deadline`` (a ``time.perf_counter()`` value) stops the steps early when it passes
        (live mode: the next stimulus must be ready in time); the result says how many ran.
        ``init`` is the ``param`` of an earlier result: optimization continues from it (in place),
        so successive stimuli change smoothly (control to a target).
        """
        steps = self.steps if steps is None else steps
        param = (
            init
            if init is not None
            else make_param(self.parametrization, self.size, seed, self.n_gabors).to(self.device)
        )
        params = list(param.parameters())
        flick = None
        if self.flicker:
            flick = FlickerParam(**self.flicker).to(self.device)
            params += [p for p in flick.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.lr)
        rng = np.random.default_rng(seed)
        history: list[float] = []
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        t0 = time.perf_counter()
        done = 0
        for _ in range(steps):
            if deadline is not None and done and time.perf_counter() >= deadline:
                break
            done += 1
            img = constrain(param.raw(), self.contrast)
            if self.jitter:
                dy, dx = (int(v) for v in rng.integers(-self.jitter, self.jitter + 1, 2))
                img = torch.roll(img, shifts=(dy, dx), dims=(0, 1))
            x = flick.frames(img)[None] if flick is not None else img[None]
            value = self.objective(self.model(x))[0]
            opt.zero_grad(set_to_none=True)
            (-value).backward()
            opt.step()
            history.append(float(value.detach()))
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            img = constrain(param.raw(), self.contrast)
            x = flick.frames(img)[None] if flick is not None else img[None]
            final = float(self.objective(self.model(x))[0])
        return OptimizeResult(
            img.cpu().numpy().astype(np.float64),
            final,
            done,
            seconds,
            history,
            flick.values if flick is not None else None,
            param,
        )


class CMAESOptimizer:
    """CMA-ES on a low-dimensional parametrization, driven by *measured* responses only.

    ``ask()`` returns candidate images to present; ``tell(values)`` gives their measured
    objective (to maximize). Uses the ``cma`` package.
    """

    def __init__(
        self,
        size: int,
        parametrization: str = "fourier",
        contrast: float = 0.2,
        sigma: float = 0.5,
        popsize: int = 6,
        seed: int = 0,
        n_gabors: int = 8,
        max_freq: float = 6.0,
    ):
        import cma

        kind = (
            "fourier" if parametrization == "pixel" else parametrization
        )  # pixel space is too big for CMA-ES
        self.param = make_param(kind, size, seed, n_gabors, max_freq=max_freq)
        self.contrast = contrast
        x0 = self.param.get_vector()
        self.es = cma.CMAEvolutionStrategy(
            x0, sigma, {"popsize": popsize, "seed": seed + 1, "verbose": -9}
        )
        self._asked: list[np.ndarray] = []

    def image(self, vector: np.ndarray) -> np.ndarray:
        """The constrained image of a parameter vector."""
        self.param.set_vector(vector)
        with torch.no_grad():
            return constrain(self.param.raw(), self.contrast).numpy().astype(np.float64)

    def ask(self) -> list[np.ndarray]:
        """Candidate images for the next generation."""
        self._asked = self.es.ask()
        return [self.image(v) for v in self._asked]

    def tell(self, values: list[float]) -> None:
        """Measured objective of each asked candidate (higher is better)."""
        if len(values) != len(self._asked):
            raise ValueError(f"tell() needs {len(self._asked)} values, got {len(values)}")
        self.es.tell(self._asked, [-float(v) for v in values])

    def best(self) -> np.ndarray:
        """Image of the current distribution mean."""
        return self.image(self.es.mean)
