"""The stimulus message: what the presenter shows and what the description stream carries."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from bci import StimulusError

Kind = Literal["flicker", "flash", "image", "cue", "off"]
KINDS = ("flicker", "flash", "image", "cue", "off")


@dataclass(frozen=True)
class Stimulus:
    """One stimulus to show.

    Parameters
    ----------
    kind : str
        ``"flicker"`` (periodic luminance modulation of ``image``), ``"flash"``, ``"image"``
        (static), ``"cue"`` (text) or ``"off"`` (blank).
    label : str
        Marker value pushed at onset (``ssvep_12.0``, ``image``...).
    duration : float
        Seconds on screen.
    image : ndarray | None
        Grayscale ``(h, w)`` or RGB ``(h, w, 3)`` intensities in [0, 1] (pixel values, not
        luminance). ``None`` for a uniform patch of ``level``.
    frames : ndarray | None
        Explicit frame sequence ``(n_frames, h, w[, 3])`` in [0, 1], one per refresh; when set
        it replaces ``image`` x flicker.
    frequency, phase, depth : float | None
        Flicker: ``frame(t) = bg + (image - bg) * (1 - depth * (1 - cos(2 pi f t + phase)) / 2)``.
    size_px : tuple of int | None
        Displayed ``(width, height)`` on the screen; ``None`` shows image pixels 1:1.
    level : float
        Intensity of a uniform patch when ``image`` is None.
    background : float
        Intensity of the background around and "under" the stimulus.
    target, gesture : optional
        Contract-5 fields for oddball and gesture paradigms.
    text : str | None
        Text of a cue.
    """

    kind: Kind = "image"
    label: str = "image"
    duration: float = 1.0
    image: np.ndarray | None = None
    frames: np.ndarray | None = None
    frequency: float | None = None
    phase: float | None = None
    depth: float | None = None
    size_px: tuple[int, int] | None = None
    level: float = 1.0
    background: float = 0.5
    target: bool | None = None
    gesture: int | None = None
    text: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StimulusError(f"stimulus kind {self.kind!r} is not one of {KINDS}")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise StimulusError(
                f"stimulus {self.label!r}: duration must be > 0 s, got {self.duration}"
            )
        for name in ("image", "frames"):
            arr = getattr(self, name)
            if arr is None:
                continue
            arr = np.asarray(arr, dtype=np.float64)
            if not np.all(np.isfinite(arr)):
                raise StimulusError(f"stimulus {self.label!r}: {name} has NaN or inf values")
            object.__setattr__(self, name, arr)
        if self.kind == "flicker" and not (self.frequency and self.frequency > 0):
            raise StimulusError(f"flicker stimulus {self.label!r} needs frequency > 0 Hz")
        if self.depth is not None and not 0 <= self.depth <= 1:
            raise StimulusError(
                f"stimulus {self.label!r}: depth must be in [0, 1], got {self.depth}"
            )

    # -- derived --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(h, w)`` in image pixels (1x1 for a uniform patch)."""
        if self.frames is not None:
            return tuple(self.frames.shape[1:3])  # type: ignore[return-value]
        if self.image is not None:
            return tuple(self.image.shape[:2])  # type: ignore[return-value]
        return (1, 1)

    @property
    def display_px(self) -> tuple[int, int]:
        """Displayed ``(width, height)`` in screen pixels."""
        if self.size_px is not None:
            return (int(self.size_px[0]), int(self.size_px[1]))
        h, w = self.shape
        return (w, h)

    def base_image(self) -> np.ndarray:
        """The static image, ``(h, w)`` or ``(h, w, 3)``."""
        if self.image is not None:
            return self.image
        return np.full((1, 1), float(self.level))

    def render(self, refresh_hz: float, seconds: float | None = None) -> np.ndarray:
        """Frames as shown at ``refresh_hz`` for ``seconds`` (default: the duration).

        The frame before onset and after offset is the background, so onset and offset
        transitions count for the flash rules.
        """
        n = max(1, int(round((seconds or self.duration) * refresh_hz)))
        if self.frames is not None:
            body = self.frames
            reps = int(np.ceil(n / len(body)))
            body = np.concatenate([body] * reps)[:n] if reps > 1 else body[:n]
        else:
            img = self.base_image()
            if self.kind == "off":
                img = np.full_like(img, self.background)
            if self.kind == "flicker" or (self.frequency and self.depth):
                f = float(self.frequency or 0.0)
                t = np.arange(n) / refresh_hz
                m = (
                    1.0
                    - float(self.depth if self.depth is not None else 1.0)
                    * (1.0 - np.cos(2 * np.pi * f * t + float(self.phase or 0.0)))
                    / 2.0
                )
                shape = (n,) + (1,) * img.ndim
                body = self.background + (img[None] - self.background) * m.reshape(shape)
            else:
                body = np.broadcast_to(img, (n,) + img.shape)
        bg = np.full((1,) + body.shape[1:], self.background)
        return np.clip(np.concatenate([bg, body, bg]), 0.0, 1.0)

    def with_(self, **changes) -> Stimulus:
        """A copy with fields replaced."""
        return replace(self, **changes)

    # -- stimulus protocol (docs/design.md#stimulus-protocol) -------------------------------------------------------------
    def description(self, stim_id: int, safety: dict | None = None) -> dict:
        """The stimulus description (docs/design.md#stimulus-protocol) (one JSON object per shown stimulus)."""
        img = None
        if self.image is not None and self.kind in ("image", "flicker", "flash"):
            gray = self.image if self.image.ndim == 2 else self.image.mean(axis=2)
            u8 = np.clip(np.round(gray * 255.0), 0, 255).astype(np.uint8)
            img = {
                "h": int(u8.shape[0]),
                "w": int(u8.shape[1]),
                "b64": base64.b64encode(np.ascontiguousarray(u8).tobytes()).decode("ascii"),
            }
        return {
            "v": 1,
            "id": int(stim_id),
            "kind": self.kind,
            "label": self.label,
            "duration": float(self.duration),
            "frequency": None if self.frequency is None else float(self.frequency),
            "phase": None if self.phase is None else float(self.phase),
            "depth": None if self.depth is None else float(self.depth),
            "target": self.target,
            "gesture": self.gesture,
            "image": img,
            "safety": safety,
        }

    def description_json(self, stim_id: int, safety: dict | None = None) -> str:
        """:meth:`description` as a compact JSON string."""
        return json.dumps(self.description(stim_id, safety), separators=(",", ":"))


def decode_image(desc: dict) -> np.ndarray | None:
    """The grayscale image of a stimulus description as float in [0, 1], or None."""
    img = desc.get("image")
    if not img:
        return None
    raw = np.frombuffer(base64.b64decode(img["b64"]), dtype=np.uint8)
    return raw.reshape(int(img["h"]), int(img["w"])).astype(np.float64) / 255.0
