"""The photosensitivity limiter: a hard limit applied after the optimizer, before the screen.

Rules (all evaluated on the frames exactly as they will be shown at the monitor's refresh
rate, including the onset and offset transitions from the background):

- **WCAG 2.3.1 general flash**: a *flash* is a pair of opposing changes in relative luminance
  (sRGB, WCAG 2.x formula) of at least 0.1 where the darker state is below 0.8. No more than
  3 flashes in any 1-s window over a combined area larger than 25 % of a 10-degree visual
  field (0.006 sr). The field is converted to screen pixels from the monitor's width, resolution
  and viewing distance (:func:`field_area_px`). The flashing area is summed over the whole
  stimulus, which is conservative (it is never smaller than the area within any 10-degree field).
- **WCAG 2.3.1 red flash**: the same count on transitions of a saturated red
  (``R / (R + G + B) >= 0.8``) with a change of ``(R - G - B) * 320`` above 20 (linear RGB).
- **ITU-R BT.1702**: opposing luminance changes of at least 20 cd/m2 with the darker state below
  160 cd/m2 (needs the monitor's black and white luminance); more than 3 per second over more than
  25 % of the screen area is harmful.
- **EFA guidance**: flicker between 15 and 25 Hz is the most provocative; regular patterns with more
  than 5 light-dark stripe pairs at high (Michelson) contrast are harmful.

What happens on a violation:

- Stripes: the spatial contrast is reduced until the pattern is below the contrast limit.
- A periodic flicker (``kind="flicker"``) breaks the flash rules by design (SSVEP). Without the
  opt-in (``screened_participant: true`` and a ``screened_reason``) it raises
  :class:`bci.SafetyError`. With the opt-in (logged at WARNING and recorded with every stimulus)
  the 3-flash rule is waived for it, but its depth is clamped to ``flicker_max_depth`` (and to
  ``flicker_max_depth_15_25hz`` between 15 and 25 Hz) and its size to ``flicker_max_size_deg``.
  Flickers shown at the same time (SSVEP targets) are checked together
  (:meth:`SafetyLimiter.check_simultaneous`): the photosensitivity rules count the flickering
  area in the whole visual field, so their summed area may not exceed
  ``flicker_max_total_deg2``; above it :class:`bci.SafetyError` is raised (nothing is shrunk
  silently: the layout is the experimenter's).
- Any other stimulus that flashes (a frame sequence, a flashing image) has its temporal modulation
  depth reduced; if that would leave less than ``min_depth``, its displayed area is reduced below the
  limit; if that is impossible too, it raises :class:`bci.SafetyError`.

Every clamp is logged at WARNING and returned in the record that goes into the stimulus
``"safety"`` field. There is no switch that disables the limiter.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from bci import SafetyError
from bci.config._closed_loop import MonitorConfig, SafetyConfig

from ._stimulus import Stimulus

logger = logging.getLogger(__name__)

RULES = ("wcag_general_flash", "wcag_red_flash", "itu_bt1702", "efa_15_25hz", "efa_stripes")
MAX_FLASHES_PER_S = 3
_MAX_ANALYSIS_PX = 128 * 128


# -- photometry --------------------------------------------------------------------------
def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded intensity in [0, 1] -> linear light (the WCAG 2.x formula)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def relative_luminance(frames: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of grayscale ``(..., h, w)`` or RGB ``(..., h, w, 3)`` frames."""
    lin = srgb_to_linear(frames)
    if lin.shape[-1] == 3 and lin.ndim >= 4:
        return lin @ np.array([0.2126, 0.7152, 0.0722])
    return lin


def red_level(frames: np.ndarray) -> np.ndarray:
    """WCAG red-flash measure ``max(0, R - G - B) * 320`` where the red is saturated, else 0."""
    if not (frames.ndim >= 4 and frames.shape[-1] == 3):
        return np.zeros(frames.shape)
    lin = srgb_to_linear(frames)
    r, g, b = lin[..., 0], lin[..., 1], lin[..., 2]
    saturated = r / np.maximum(r + g + b, 1e-12) >= 0.8
    return np.where(saturated, np.maximum(0.0, r - g - b) * 320.0, 0.0)


def field_area_px(monitor: MonitorConfig, degrees: float = 10.0) -> float:
    """Area in screen pixels of a circular field of ``degrees`` at the viewing distance."""
    px_per_cm = monitor.width_px / monitor.width_cm
    radius_px = monitor.distance_cm * math.tan(math.radians(degrees / 2.0)) * px_per_cm
    return math.pi * radius_px**2


def px_per_degree(monitor: MonitorConfig) -> float:
    """Screen pixels per degree of visual angle at the screen centre."""
    return monitor.distance_cm * math.tan(math.radians(1.0)) * monitor.width_px / monitor.width_cm


def size_deg(monitor: MonitorConfig, size_px: float) -> float:
    """Visual angle (degrees) of ``size_px`` screen pixels centred on the line of sight."""
    cm = size_px * monitor.width_cm / monitor.width_px
    return math.degrees(2.0 * math.atan(cm / 2.0 / monitor.distance_cm))


# -- flash counting ----------------------------------------------------------------------
def transitions(x: np.ndarray, delta: float, dark_below: float) -> np.ndarray:
    """Opposing transitions in each column of ``x`` (n_frames, n_pixels).

    A transition is a change of at least ``delta`` from the last extreme in the direction
    opposite to the previous transition, with the darker state below ``dark_below``.
    Returns a boolean array marking the frame at which each transition completes.
    """
    n, p = x.shape
    out = np.zeros((n, p), dtype=bool)
    hi = x[0].copy()
    lo = x[0].copy()
    last = np.zeros(p, dtype=np.int8)
    for t in range(1, n):
        v = x[t]
        np.maximum(hi, v, out=hi)
        np.minimum(lo, v, out=lo)
        up = (last != 1) & (v - lo >= delta) & (lo < dark_below)
        down = (last != -1) & (hi - v >= delta) & (v < dark_below) & ~up
        hit = up | down
        out[t] = hit
        last[up] = 1
        last[down] = -1
        hi[hit] = v[hit]
        lo[hit] = v[hit]
    return out


def flashing_area(trans: np.ndarray, frames_per_s: int, px_area: float) -> tuple[float, float]:
    """Largest area (screen px) flashing more than 3 times in any 1-s window, and the most
    flashes any pixel makes in a 1-s window."""
    n = trans.shape[0]
    w = min(n, max(1, frames_per_s))
    c = np.concatenate(
        [np.zeros((1, trans.shape[1]), np.int32), np.cumsum(trans, 0, dtype=np.int32)]
    )
    counts = c[w:] - c[:-w]  # transitions per window, (n - w + 1, p)
    over = counts > 2 * MAX_FLASHES_PER_S
    area = float(over.sum(axis=1).max() * px_area) if over.size else 0.0
    return area, float(counts.max() / 2.0) if counts.size else 0.0


@dataclass(frozen=True)
class Violation:
    """One broken rule: the measured value against the limit."""

    rule: str
    measured: float
    limit: float
    detail: str

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "measured": round(self.measured, 4),
            "limit": round(self.limit, 4),
            "detail": self.detail,
        }


def _subsample(frames: np.ndarray) -> tuple[np.ndarray, float]:
    """Stride-subsample big frames for the analysis; returns frames and image-px multiplicity."""
    h, w = frames.shape[1:3]
    step = max(1, int(math.ceil(math.sqrt(h * w / _MAX_ANALYSIS_PX))))
    if step == 1:
        return frames, 1.0
    return frames[:, ::step, ::step], float(step * step)


def _largest_passing(passes, lo: float = 0.0, hi: float = 1.0, iters: int = 14) -> float:
    """Largest s in [lo, hi] with ``passes(s)`` (assumed monotone, ``passes(lo)`` true)."""
    if passes(hi):
        return hi
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if passes(mid):
            lo = mid
        else:
            hi = mid
    return lo


class SafetyLimiter:
    """Checks and clamps stimuli; ``limiter(stim) -> (safe_stim, record)``.

    Parameters
    ----------
    config : SafetyConfig
        Monitor geometry and luminance, opt-in and limits. There is no "off" setting.
    """

    def __init__(self, config: SafetyConfig | None = None):
        self.config = config or SafetyConfig()
        m = self.config.monitor
        self.field_limit_px = 0.25 * field_area_px(m, 10.0)
        self.screen_limit_px = 0.25 * m.width_px * m.height_px
        self.frames_per_s = int(round(m.refresh_hz))
        if self.config.screened_participant:
            logger.warning(
                "SSVEP opt-in active: periodic flicker above 3 Hz is allowed for a screened "
                "participant (reason: %s); depth <= %.2f, size <= %.1f deg, abort key %r",
                self.config.screened_reason,
                self.config.flicker_max_depth,
                self.config.flicker_max_size_deg,
                self.config.abort_key,
            )

    # -- measurement ----------------------------------------------------------------------
    def flash_violations(self, stim: Stimulus) -> list[Violation]:
        """Violations of the WCAG general/red flash and ITU-R BT.1702 rules."""
        m = self.config.monitor
        seconds = min(stim.duration, 2.0)
        frames, mult = _subsample(stim.render(m.refresh_hz, seconds))
        n = frames.shape[0]
        h, w = frames.shape[1:3]
        dw, dh = stim.display_px
        px_area = mult * (dw * dh) / float(stim.shape[0] * stim.shape[1])
        lum = relative_luminance(frames).reshape(n, h * w)
        out: list[Violation] = []
        area, most = flashing_area(transitions(lum, 0.1, 0.8), self.frames_per_s, px_area)
        if area > self.field_limit_px:
            out.append(
                Violation(
                    "wcag_general_flash",
                    area,
                    self.field_limit_px,
                    f"{most:.1f} flashes/s over {area:.0f} px; at most 3/s over "
                    f"25% of a 10-deg field ({self.field_limit_px:.0f} px)",
                )
            )
        red = red_level(frames).reshape(n, h * w)
        if red.any():
            area_r, most_r = flashing_area(
                transitions(red, 20.0, np.inf), self.frames_per_s, px_area
            )
            if area_r > self.field_limit_px:
                out.append(
                    Violation(
                        "wcag_red_flash",
                        area_r,
                        self.field_limit_px,
                        f"{most_r:.1f} saturated-red flashes/s over {area_r:.0f} px",
                    )
                )
        cd = m.min_luminance + (m.max_luminance - m.min_luminance) * lum
        area_i, most_i = flashing_area(transitions(cd, 20.0, 160.0), self.frames_per_s, px_area)
        if area_i > self.screen_limit_px:
            out.append(
                Violation(
                    "itu_bt1702",
                    area_i,
                    self.screen_limit_px,
                    f"{most_i:.1f} flashes/s (>= 20 cd/m2, darker < 160 cd/m2) over "
                    f"{area_i:.0f} px; at most 3/s over 25% of the screen",
                )
            )
        return out

    def stripe_measure(self, image: np.ndarray) -> tuple[float, float, float]:
        """``(pairs, fraction, contrast)`` of the dominant regular pattern of a static image.

        pairs: light-dark pairs across the stimulus at the spectral peak; fraction: share of
        the contrast energy in the peak; contrast: its Michelson contrast in luminance.
        """
        lum = relative_luminance(image if image.ndim == 2 else image[None])
        lum = lum if image.ndim == 2 else lum[0]
        h, w = lum.shape
        if h < 4 or w < 4:
            return 0.0, 0.0, 0.0
        mean = float(lum.mean())
        ac = lum - mean
        power = np.abs(np.fft.fft2(ac)) ** 2
        total = float(power.sum())
        if total <= 1e-12 or mean <= 0:
            return 0.0, 0.0, 0.0
        ky, kx = np.unravel_index(int(np.argmax(power)), power.shape)
        fy = ky if ky <= h // 2 else ky - h
        fx = kx if kx <= w // 2 else kx - w
        pairs = math.hypot(fy, fx)
        ys = (np.arange(ky - 1, ky + 2) % h)[:, None]
        xs = (np.arange(kx - 1, kx + 2) % w)[None, :]
        peak = float(power[ys, xs].sum())
        amplitude = 2.0 * math.sqrt(peak) / (h * w)
        return pairs, 2.0 * peak / total, min(1.0, amplitude / mean)

    def stripe_violation(self, image: np.ndarray) -> Violation | None:
        """EFA stripes: more than ``stripe_max_pairs`` regular pairs at high contrast."""
        pairs, frac, contrast = self.stripe_measure(image)
        cfg = self.config
        if (
            pairs > cfg.stripe_max_pairs + 0.5
            and frac >= 0.25
            and contrast > cfg.stripe_max_contrast
        ):
            return Violation(
                "efa_stripes",
                contrast,
                cfg.stripe_max_contrast,
                f"{pairs:.1f} light-dark stripe pairs (max {cfg.stripe_max_pairs}) at "
                f"Michelson contrast {contrast:.2f} (max {cfg.stripe_max_contrast})",
            )
        return None

    # -- the limiter ----------------------------------------------------------------------
    def __call__(self, stim: Stimulus) -> tuple[Stimulus, dict]:
        """Check ``stim``; return the (possibly clamped) stimulus and the safety record.

        Raises
        ------
        bci.SafetyError
            When the stimulus breaks a rule and no permitted clamp fixes it, or when it is a
            periodic flicker and the SSVEP opt-in is not set.
        """
        record: dict = {"rules": list(RULES), "clamps": [], "waived": [], "opt_in": None}
        out = stim
        if out.kind in ("cue", "off"):
            return out, record

        out = self._clamp_range(out, record)
        out = self._clamp_stripes(out, record)
        periodic = (
            out.frames is None and bool(out.frequency) and (out.depth is None or out.depth > 0)
        )
        if out.kind == "flicker" or periodic:
            out = self._flicker(out, record)
        else:
            out = self._flashes(out, record)
        return out, record

    def _clamp(self, record: dict, rule: str, param: str, old, new, why: str) -> None:
        entry = {"rule": rule, "param": param, "from": old, "to": new, "why": why}
        record["clamps"].append(entry)
        logger.warning("safety clamp [%s] %s: %s -> %s (%s)", rule, param, old, new, why)

    def _clamp_range(self, stim: Stimulus, record: dict) -> Stimulus:
        changes = {}
        for name in ("image", "frames"):
            arr = getattr(stim, name)
            if arr is not None and (arr.min() < 0 or arr.max() > 1):
                changes[name] = np.clip(arr, 0.0, 1.0)
                self._clamp(
                    record,
                    "range",
                    name,
                    [float(arr.min()), float(arr.max())],
                    [0.0, 1.0],
                    "intensities outside [0, 1] clipped",
                )
        return stim.with_(**changes) if changes else stim

    def _clamp_stripes(self, stim: Stimulus, record: dict) -> Stimulus:
        base = stim.frames[0] if stim.frames is not None else stim.image
        if base is None:
            return stim
        v = self.stripe_violation(base)
        if v is None:
            return stim
        centre = float(base.mean())

        def scaled(s: float) -> np.ndarray:
            return centre + s * (base - centre)

        s = _largest_passing(lambda s: self.stripe_violation(scaled(s)) is None) * 0.98
        self._clamp(record, "efa_stripes", "contrast_scale", 1.0, round(s, 4), v.detail)
        if stim.frames is not None:
            return stim.with_(frames=centre + s * (stim.frames - centre))
        return stim.with_(image=scaled(s))

    def _flicker(self, stim: Stimulus, record: dict) -> Stimulus:
        cfg = self.config
        f = float(stim.frequency or 0.0)
        depth = float(stim.depth if stim.depth is not None else 1.0)
        violations = self.flash_violations(stim)
        provocative = 15.0 <= f <= 25.0 and self._flashes_anywhere(stim)
        if not violations and not provocative:
            return stim
        if not cfg.screened_participant:
            why = "; ".join(v.detail for v in violations) or "visible flicker"
            rules = [v.rule for v in violations] + (["efa_15_25hz"] if provocative else [])
            raise SafetyError(
                f"unsafe flicker {stim.label!r} at {f:g} Hz, depth {depth:g} breaks {rules}: {why}. "
                "Periodic flicker (SSVEP) is only allowed for a participant screened for "
                "photosensitive epilepsy: set closed_loop.safety.screened_participant: true and "
                "closed_loop.safety.screened_reason, or lower the depth/size."
            )
        record["opt_in"] = cfg.screened_reason
        logger.info("SSVEP opt-in used for %r (%g Hz): %s", stim.label, f, cfg.screened_reason)
        limit = cfg.flicker_max_depth_15_25hz if 15.0 <= f <= 25.0 else cfg.flicker_max_depth
        if depth > limit:
            rule = "efa_15_25hz" if 15.0 <= f <= 25.0 else "opt_in_depth"
            self._clamp(
                record, rule, "depth", depth, limit, f"opt-in flicker depth limit at {f:g} Hz"
            )
            stim = stim.with_(depth=limit)
        mon = cfg.monitor
        dw, dh = stim.display_px
        deg = size_deg(mon, max(dw, dh))
        if deg > cfg.flicker_max_size_deg:
            scale = cfg.flicker_max_size_deg / deg * 0.999
            new = (max(1, int(dw * scale)), max(1, int(dh * scale)))
            self._clamp(
                record,
                "opt_in_size",
                "size_px",
                [dw, dh],
                list(new),
                f"{deg:.1f} deg > {cfg.flicker_max_size_deg} deg",
            )
            stim = stim.with_(size_px=new)
        record["waived"] = [v.as_dict() for v in self.flash_violations(stim)]
        return stim

    def check_simultaneous(self, stims: list[Stimulus]) -> dict:
        """Check stimuli that flicker at the same time against the summed-area limit.

        Parameters
        ----------
        stims : list of Stimulus
            Everything on screen at once, after the per-stimulus limiter (:meth:`__call__`).
            Periodic flickers above 3 Hz count, with their displayed area.

        Returns
        -------
        dict
            ``flickering`` (how many), ``total_deg2`` and ``limit_deg2``.

        Raises
        ------
        SafetyError
            When the summed area exceeds ``flicker_max_total_deg2`` (names the key).
        """
        cfg = self.config
        ppd = px_per_degree(cfg.monitor)
        flick = [
            s
            for s in stims
            if s.kind == "flicker" and float(s.frequency or 0.0) > MAX_FLASHES_PER_S
        ]
        areas = [s.display_px[0] * s.display_px[1] / ppd**2 for s in flick]
        total = float(sum(areas))
        record = {
            "flickering": len(flick),
            "total_deg2": round(total, 3),
            "limit_deg2": cfg.flicker_max_total_deg2,
        }
        if total > cfg.flicker_max_total_deg2:
            raise SafetyError(
                f"{len(flick)} stimuli flicker at once over {total:.1f} deg2 in all "
                f"({', '.join(f'{s.label} {a:.1f}' for s, a in zip(flick, areas, strict=True))}"
                f" deg2), above safety.flicker_max_total_deg2 = "
                f"{cfg.flicker_max_total_deg2:g} deg2: make them smaller (size_deg) or fewer"
            )
        return record

    def _flashes_anywhere(self, stim: Stimulus) -> bool:
        frames, _ = _subsample(stim.render(self.config.monitor.refresh_hz, min(stim.duration, 1.0)))
        n = frames.shape[0]
        lum = relative_luminance(frames).reshape(n, -1)
        return bool(transitions(lum, 0.1, 0.8).sum(axis=0).max() > 2 * MAX_FLASHES_PER_S)

    def _flashes(self, stim: Stimulus, record: dict) -> Stimulus:
        cfg = self.config
        violations = self.flash_violations(stim)
        if not violations:
            return stim
        why = "; ".join(v.detail for v in violations)

        def with_depth(s: float) -> Stimulus:
            if stim.frames is not None:
                mean = stim.frames.mean(axis=0, keepdims=True)
                return stim.with_(frames=mean + s * (stim.frames - mean))
            return stim.with_(depth=float(stim.depth if stim.depth is not None else 1.0) * s)

        s = _largest_passing(lambda s: not self.flash_violations(with_depth(s)))
        if s >= cfg.min_depth:
            self._clamp(record, violations[0].rule, "depth_scale", 1.0, round(s, 4), why)
            return with_depth(s)
        # Depth would go too low: shrink the flashing area instead.
        area = max(v.measured for v in violations)
        limit = min(self.field_limit_px, self.screen_limit_px)
        scale = math.sqrt(limit / area) * 0.95
        dw, dh = stim.display_px
        new = (int(dw * scale), int(dh * scale))
        smaller = stim.with_(size_px=new)
        if min(new) >= 8 and not self.flash_violations(smaller):
            self._clamp(record, violations[0].rule, "size_px", [dw, dh], list(new), why)
            return smaller
        raise SafetyError(
            f"stimulus {stim.label!r} breaks {[v.rule for v in violations]} ({why}); reducing its "
            f"depth would leave {s:.3f} < min_depth {cfg.min_depth} and shrinking it would leave "
            f"{new} px. Show fewer than 3 flashes per second or a smaller stimulus."
        )


class SequenceGuard:
    """Flash rules across consecutive stimuli (used by the presenter).

    Each stimulus is checked alone by :class:`SafetyLimiter`; a rapid series of individually
    safe stimuli (one-frame images alternating dark and bright) could still flash. The guard
    keeps the last second of shown frames on a coarse grid of the window (nearest-neighbour
    samples, so fine patterns keep their contrast) and refuses a stimulus that would make the
    WCAG general-flash or ITU-R BT.1702 count exceed 3 per second over the area limit.

    Parameters
    ----------
    limiter : SafetyLimiter
        Supplies the monitor, refresh rate and area limits.
    window_px : tuple of int
        Window ``(width, height)`` in pixels; stimuli are drawn centred.
    grid : tuple of int
        Cells ``(nx, ny)`` of the coarse window grid.
    """

    def __init__(
        self, limiter: SafetyLimiter, window_px: tuple[int, int], grid: tuple[int, int] = (64, 48)
    ):
        self.limiter = limiter
        self.window_px = (int(window_px[0]), int(window_px[1]))
        self.grid = grid
        self.cell_px = self.window_px[0] * self.window_px[1] / float(grid[0] * grid[1])
        self.history = np.zeros((0, grid[1] * grid[0]))

    def _frames_on_grid(self, stim: Stimulus) -> np.ndarray:
        m = self.limiter.config.monitor
        frames = stim.render(m.refresh_hz, stim.duration)[1:-1]
        lum = relative_luminance(frames)  # (n, h, w)
        nx, ny = self.grid
        W, H = self.window_px
        dw, dh = stim.display_px
        xs = (np.arange(nx) + 0.5) * W / nx - (W - dw) / 2.0  # cell centres in stimulus px
        ys = (np.arange(ny) + 0.5) * H / ny - (H - dh) / 2.0
        inside = ((xs >= 0) & (xs < dw))[None, :] & ((ys >= 0) & (ys < dh))[:, None]
        h, w = lum.shape[1:3]
        ix = np.clip((xs * w / max(dw, 1)).astype(int), 0, w - 1)
        iy = np.clip((ys * h / max(dh, 1)).astype(int), 0, h - 1)
        bg = float(relative_luminance(np.array([[stim.background]]))[0, 0])
        out = np.where(inside[None], lum[:, iy][:, :, ix], bg)
        return out.reshape(len(out), -1)

    def check(self, stim: Stimulus) -> list[Violation]:
        """Violations the stimulus would cause after what was shown; does not record it."""
        if stim.kind == "cue":
            return []
        n = int(round(self.limiter.config.monitor.refresh_hz))
        seq = np.concatenate([self.history, self._frames_on_grid(stim)])
        if len(seq) < 2:
            return []
        m = self.limiter.config.monitor
        out = []
        area, most = flashing_area(transitions(seq, 0.1, 0.8), n, self.cell_px)
        if area > self.limiter.field_limit_px:
            out.append(
                Violation(
                    "wcag_general_flash",
                    area,
                    self.limiter.field_limit_px,
                    f"sequence: {most:.1f} flashes/s over {area:.0f} px across consecutive stimuli",
                )
            )
        cd = m.min_luminance + (m.max_luminance - m.min_luminance) * seq
        area_i, most_i = flashing_area(transitions(cd, 20.0, 160.0), n, self.cell_px)
        if area_i > self.limiter.screen_limit_px:
            out.append(
                Violation(
                    "itu_bt1702",
                    area_i,
                    self.limiter.screen_limit_px,
                    f"sequence: {most_i:.1f} flashes/s over {area_i:.0f} px across consecutive stimuli",
                )
            )
        return out

    def shown(self, stim: Stimulus, periodic_ok: bool = False) -> None:
        """Record a shown stimulus (keep the last second). An opted-in flicker is recorded as
        its mean frame so that it does not make every following stimulus fail."""
        n = int(round(self.limiter.config.monitor.refresh_hz))
        frames = self._frames_on_grid(stim)
        if periodic_ok:
            frames = np.repeat(frames.mean(axis=0, keepdims=True), min(len(frames), n), axis=0)
        self.history = np.concatenate([self.history, frames])[-n:]
