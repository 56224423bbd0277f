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
from pathlib import Path

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


def achieved_frequency(times: np.ndarray, levels: np.ndarray, near: float | None = None) -> float:
    """Flicker frequency actually drawn, from the flip times and the drawn levels.

    The peak of the periodogram of the drawn levels at their flip times (a dropped frame
    is a missing sample, not a delay): first on a 0.01-Hz grid from 0.5 Hz to half the
    frame rate (or a 0.02-Hz grid within 2 Hz of ``near``, the requested frequency: fast
    enough between two frames), then on a 0.5-mHz grid around the best.

    Parameters
    ----------
    times : ndarray
        Flip times (s) of the frames of one trial.
    levels : ndarray
        The target's drawn intensity at each of those flips.

    Returns
    -------
    float
        Hz (NaN with fewer than 4 flips or no modulation).
    """
    t = np.asarray(times, float)
    x = np.asarray(levels, float)
    x = x - x.mean()
    if t.size < 4 or not np.any(np.abs(x) > 1e-9):
        return float("nan")
    t = t - t[0]
    nyq = 0.5 / float(np.median(np.diff(t)))

    def peak(grid: np.ndarray) -> float:
        power = np.abs(np.exp(-2j * np.pi * np.outer(grid, t)) @ x)
        return float(grid[int(np.argmax(power))])

    if near is None:
        coarse = peak(np.arange(0.5, nyq, 0.01))
    else:
        coarse = peak(np.arange(max(0.5, near - 2.0), min(nyq, near + 2.0), 0.02))
    return peak(np.arange(coarse - 0.02, coarse + 0.02, 0.0005))


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


def itr_bits_per_min(accuracy: float, n_targets: int, seconds: float) -> float:
    """Wolpaw information transfer rate in bits/min (one selection every ``seconds``)."""
    n, p = n_targets, min(max(accuracy, 0.0), 1.0)
    if n < 2 or seconds <= 0:
        return float("nan")
    bits = math.log2(n)
    if 0 < p < 1:
        bits += p * math.log2(p) + (1 - p) * math.log2((1 - p) / (n - 1))
    elif p == 0:
        bits += math.log2(1 / (n - 1))
    if p <= 1 / n:
        bits = 0.0
    return bits * 60.0 / seconds


def selection_summary(summary: dict, labels: list[str]) -> dict:
    """Online selections of a presenter run: accuracy against the cued targets, ITR, timing.

    Parameters
    ----------
    summary : dict
        The presenter's summary (``logs``: one per trial with ``label``, ``selected_index``).
    labels : list of str
        The paradigm's target labels.

    Returns
    -------
    dict
        ``selections``, ``correct``, ``accuracy``, ``itr_bits_per_min`` (over the mean time
        from one trial onset to the next), ``mean_repetitions`` (flash paradigms),
        ``loop_latency_ms``, ``dropped_frames``, and ``trials`` / ``planned`` / ``aborted``
        (ended by the abort key).
    """
    logs = [g for g in summary.get("logs", []) if g.get("selected_index") is not None]
    n = len(logs)
    correct = sum(labels[g["selected_index"]] == g["label"] for g in logs)
    acc = correct / n if n else float("nan")
    onsets = [g["onset"] for g in summary.get("logs", []) if "onset" in g]
    span = summary.get("t_end", 0.0) - summary.get("t_start", 0.0)
    per = span / max(1, summary.get("trials", 0)) if span > 0 else float("nan")
    if len(onsets) > 1:
        per = float(np.median(np.diff(onsets)))
    out = {
        "selections": n,
        "correct": int(correct),
        "accuracy": acc,
        "seconds_per_selection": per,
        "itr_bits_per_min": itr_bits_per_min(acc, len(labels), per) if n else float("nan"),
        "loop_latency_ms": summary.get("loop_latency_ms"),
        "dropped_frames": summary.get("dropped_frames"),
        "refresh_hz": summary.get("refresh_hz"),
        "trials": summary.get("trials"),
        "planned": summary.get("planned"),
        "aborted": bool(summary.get("aborted")),
    }
    reps = [g["repetitions"] for g in logs if "repetitions" in g]
    if reps:
        out["mean_repetitions"] = float(np.mean(reps))
    return out


def pair_decisions(
    decisions: list, onsets: list, evidence: list, offset: float, target_index: int
) -> tuple[list, float]:
    """Match event-locked decisions to flash onsets (appended to ``evidence``).

    One decision per onset, stamped with its epoch's last sample: the offset from onset to
    stamp is the same for every flash. It is learnt from the first pair (the oldest onset)
    and then a decision matches the unmatched onset closest to it (within 30 ms).

    Parameters
    ----------
    decisions : list of (stamp, values)
        New decisions (values: class probabilities then the label index).
    onsets : list of (time, target index)
        The flashes so far.
    evidence : list of (stamp, target index, p_target, onset)
        Matched so far; extended in place.
    offset : float
        The learnt onset-to-stamp offset (NaN before the first pair).
    target_index : int
        Which output is the "target" class.

    Returns
    -------
    (list, float)
        Decisions that precede every onset (kept for later), and the offset.
    """
    used = {round(e[3], 6) for e in evidence}
    left = []
    for ts, v in decisions:
        cands = [(ts - o, o, f) for o, f in onsets if o < ts and round(o, 6) not in used]
        if not cands:
            left.append((ts, v))
            continue
        if math.isfinite(offset):
            d, o, f = min(cands, key=lambda c: abs(c[0] - offset))
            if abs(d - offset) > 0.03:
                continue  # not a decision on these flashes
        else:
            d, o, f = min(cands, key=lambda c: c[1])
            offset = d
        used.add(round(o, 6))
        evidence.append((ts, f, float(v[target_index]), o))
    return left, offset


def flash_posterior(evidence: list, n_targets: int) -> np.ndarray:
    """Posterior over targets from per-flash target probabilities (naive Bayes, flat prior)."""
    score = np.zeros(n_targets)
    for _, f, p, *_ in evidence:
        p = min(max(p, 0.01), 0.99)
        score[f] += math.log(p / (1 - p))
    e = np.exp(score - score.max())
    return e / e.sum()


def selection_lines(sel: dict) -> list[str]:
    """The online-selection part of a session summary, as plain lines."""

    def fmt(x: float | None, spec: str = ".1f") -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

    lat = sel.get("loop_latency_ms") or {}
    lines = [
        f"  selections {sel['selections']}: {sel['correct']} correct, accuracy "
        f"{fmt(sel['accuracy'], '.3f')}, ITR {fmt(sel['itr_bits_per_min'])} bits/min "
        f"({fmt(sel['seconds_per_selection'], '.2f')} s per selection)",
        f"  loop latency t_flip - t_sample: p50 {fmt(lat.get('p50'))} ms, p99 "
        f"{fmt(lat.get('p99'))} ms over {lat.get('n', 0)} feedback frames; dropped frames "
        f"{sel.get('dropped_frames')} at {fmt(sel.get('refresh_hz'), '.2f')} Hz",
    ]
    if "mean_repetitions" in sel:
        lines.append(f"  mean repetitions per selection {sel['mean_repetitions']:.2f}")
    if sel.get("aborted"):
        lines.append(
            f"  aborted with the abort key after {sel.get('trials')} of {sel.get('planned')} "
            "trials (the recording is complete)"
        )
    return lines


#: File name endings the ``images`` task shows.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def image_files(cfg: ParadigmConfig) -> list[list[Path]]:
    """The pictures of every target of an ``images`` paradigm, sorted by name.

    Raises
    ------
    ConfigError
        When ``images`` is unset, the folder or a target's subfolder does not exist, or a
        subfolder holds no picture (names the key and what was looked for).
    """
    from bci import ConfigError

    fix = (
        "a folder with one subfolder of pictures per target (bci calibrate --live --images "
        "FOLDER; paradigm.images in a session config)"
    )
    if cfg.images is None:
        raise ConfigError(
            f"paradigm {cfg.name!r} shows images but 'images' is not set: set it to {fix}",
            [("images", None, fix)],
        )
    root = Path(cfg.images).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"images: {str(root)!r} is not a folder; set 'images' to {fix}",
            [("images", cfg.images, fix)],
        )
    out = []
    for t in cfg.targets:
        sub = root / (t.folder or t.label)
        files = (
            sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if sub.is_dir()
            else []
        )
        if not files:
            what = "holds no picture" if sub.is_dir() else "does not exist"
            raise ConfigError(
                f"images: {str(sub)!r} (target {t.label!r}) {what}; 'images' needs one "
                f"subfolder per target with {'/'.join(IMAGE_SUFFIXES)} files",
                [("images", cfg.images, f"a subfolder {sub.name!r} with pictures")],
            )
        out.append(files)
    return out


def image_order(cfg: ParadigmConfig, plan: list[Trial], counts: list[int]) -> list[int]:
    """Which picture of its target each trial shows: every picture once before a repeat.

    Each target's pictures are drawn in a seeded shuffled order (``cfg.seed``), reshuffled
    when they are used up, so ``plan`` shows as many different pictures as it can.
    """
    rng = np.random.default_rng([cfg.seed, 170])
    queues: list[list[int]] = [[] for _ in counts]
    out = []
    for trial in plan:
        q = queues[trial.target]
        if not q:
            q.extend(int(i) for i in rng.permutation(counts[trial.target]))
        out.append(q.pop(0))
    return out


def write_placeholder_images(folder: str | Path, n: int = 12, size: int = 128) -> Path:
    """Write simple synthetic faces and houses (PNG) to ``folder/faces`` and ``folder/houses``.

    Greyscale drawings (an oval with eyes and a mouth; a square with a roof, windows and a
    door), varied in position, size and contrast; for rehearsing the N170 paradigm with the
    simulated participant and for tests. Real experiments use real photographs.

    Returns
    -------
    Path
        ``folder`` (for the paradigm's ``images`` key).
    """
    from PIL import Image

    folder = Path(folder)
    rng = np.random.default_rng(170)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for kind in ("faces", "houses"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = np.full((size, size), 0.5)
            cx, cy = 0.5 + rng.uniform(-0.05, 0.05, 2)
            s = rng.uniform(0.85, 1.1)
            c = rng.uniform(0.25, 0.45)
            if kind == "faces":
                head = ((xx - cx) / (0.3 * s)) ** 2 + ((yy - cy) / (0.4 * s)) ** 2 < 1
                img[head] = 0.5 + c
                for ex in (-0.12, 0.12):
                    eye = (xx - cx - ex * s) ** 2 + (yy - cy + 0.1 * s) ** 2 < (0.05 * s) ** 2
                    img[eye] = 0.5 - c
                mouth = (np.abs(xx - cx) < 0.12 * s) & (np.abs(yy - cy - 0.2 * s) < 0.025 * s)
                img[mouth] = 0.5 - c
            else:
                body = (np.abs(xx - cx) < 0.3 * s) & (yy > cy - 0.1 * s) & (yy < cy + 0.35 * s)
                img[body] = 0.5 + c
                roof = (yy <= cy - 0.1 * s) & (yy > cy - 0.4 * s + np.abs(xx - cx))
                img[roof] = 0.5 - 0.6 * c
                for wx in (-0.15, 0.15):
                    win = (np.abs(xx - cx - wx * s) < 0.06 * s) & (np.abs(yy - cy) < 0.06 * s)
                    img[win] = 0.5 - c
                door = (np.abs(xx - cx) < 0.06 * s) & (yy > cy + 0.15 * s) & (yy < cy + 0.35 * s)
                img[door] = 0.5 - c
            pixels = np.clip(img * 255, 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(folder / kind / f"{kind[:-1]}_{i:02d}.png")
    return folder
