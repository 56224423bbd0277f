"""Paradigm logic that needs no window: trial plans, layout, drawn levels, timing analysis.

Everything here is pure and deterministic (a seed gives the same plan), so it is tested
without a display; :mod:`._paradigm_show` draws it.

Drawn levels are pixel intensities in [0, 1] (0 black, 1 white) on a black background:

- SSVEP targets: ``0.5 * (1 + depth * sin(2 pi f k / R + phase))`` at frame ``k`` after
  onset, with ``R`` the *measured* refresh rate (frame-locked sampled sinusoid, so any
  frequency below R / 2 is drawn exactly on average);
- P300 boxes: ``DIM`` between flashes, 1.0 while flashed;
- cue paradigms: no luminance modulation (the levels stay at ``DIM``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bci.config._paradigm import ParadigmConfig

#: Intensity of a P300 box between flashes and of static targets.
DIM = 0.25
#: Marker values (prefixes) the presenter pushes; see :func:`marker_values`.
CUE, START, END = "cue_", "s", "e"


@dataclass(frozen=True)
class Trial:
    """One cued trial: which target, how long the rest after it, the flash order (P300)."""

    index: int
    target: int
    rest: float
    flashes: tuple[int, ...] = ()


def plan_trials(cfg: ParadigmConfig, n: int | None = None) -> list[Trial]:
    """Cued trials in balanced, shuffled blocks (every target once per block).

    P300 trials also get their flash order: ``timing.repetitions`` rounds, each a shuffled
    permutation of the targets in which the first flash of a round never repeats the last
    flash of the previous one (a double flash hides the second P300).
    """
    n = cfg.trials if n is None else n
    rng = np.random.default_rng([cfg.seed, 16])
    k = len(cfg.targets)
    order: list[int] = []
    while len(order) < n:
        order.extend(int(i) for i in rng.permutation(k))
    out = []
    for i, target in enumerate(order[:n]):
        rest = cfg.timing.rest + (
            float(rng.uniform(-cfg.timing.jitter, cfg.timing.jitter)) if cfg.timing.jitter else 0.0
        )
        flashes: list[int] = []
        if cfg.task == "p300":
            for _ in range(cfg.timing.repetitions):
                perm = [int(j) for j in rng.permutation(k)]
                if flashes and perm[0] == flashes[-1]:
                    perm[0], perm[-1] = perm[-1], perm[0]
                flashes.extend(perm)
        out.append(Trial(i, target, max(0.0, rest), tuple(flashes)))
    return out


def layout_deg(cfg: ParadigmConfig) -> list[tuple[float, float]]:
    """Target centres in degrees (x right, y up): given positions, else a circle."""
    n = len(cfg.targets)
    out = []
    for i, t in enumerate(cfg.targets):
        if t.position_deg is not None:
            out.append((float(t.position_deg[0]), float(t.position_deg[1])))
            continue
        r = cfg.layout_radius_deg
        a = math.pi / 2 - 2 * math.pi * i / n  # first target on top, clockwise
        out.append((round(r * math.cos(a), 6), round(r * math.sin(a), 6)))
    return out


def ssvep_level(frequency: float, phase: float, depth: float, k: int, refresh: float) -> float:
    """Drawn intensity of an SSVEP target ``k`` frames after onset at ``refresh`` Hz."""
    return 0.5 * (1.0 + depth * math.sin(2 * math.pi * frequency * k / refresh + phase))


def achieved_frequency(times: np.ndarray, levels: np.ndarray) -> float:
    """Flicker frequency actually drawn, from the flip times and the drawn levels.

    A first estimate counts rising mid-level crossings; the result is the peak of the
    periodogram of the drawn levels at their flip times (a dropped frame is a missing
    sample, not a delay) within +- 0.5 Hz of it, on a 1-mHz grid.

    Parameters
    ----------
    times : ndarray
        Flip times (s) of the frames of one trial.
    levels : ndarray
        The target's drawn intensity at each of those flips.

    Returns
    -------
    float
        Hz (NaN with fewer than two rising crossings).
    """
    t = np.asarray(times, float)
    x = np.asarray(levels, float)
    x = x - x.mean()
    mid = np.asarray(levels, float) - (np.max(levels) + np.min(levels)) / 2.0
    up = np.flatnonzero((mid[:-1] < 0) & (mid[1:] >= 0))
    if len(up) < 2:
        return float("nan")
    frac = -mid[up] / (mid[up + 1] - mid[up])
    tc = t[up] + frac * (t[up + 1] - t[up])
    coarse = (len(tc) - 1) / (tc[-1] - tc[0])
    grid = coarse + np.arange(-0.5, 0.5, 0.001)
    power = np.abs(np.exp(-2j * np.pi * np.outer(grid, t - t[0])) @ x)
    return float(grid[int(np.argmax(power))])


def flip_stats(times: np.ndarray, period: float) -> dict:
    """Interval statistics of a run of flips: dropped frames, median/max interval (ms)."""
    d = np.diff(np.asarray(times, float))
    if d.size == 0:
        return {"dropped": 0, "median_ms": float("nan"), "max_ms": float("nan")}
    dropped = int(np.sum(np.maximum(0, np.round(d / period) - 1)))
    return {
        "dropped": dropped,
        "median_ms": float(np.median(d) * 1e3),
        "max_ms": float(d.max() * 1e3),
    }


def start_marker(label: str) -> str:
    """Marker value at stimulus onset (``<label>s``; calibration's ``start_end`` pairs)."""
    return f"{label}{START}"


def end_marker(label: str) -> str:
    """Marker value at stimulus offset (``<label>e``)."""
    return f"{label}{END}"


def cue_marker(label: str) -> str:
    """Marker value when a target is cued (``cue_<label>``)."""
    return f"{CUE}{label}"
