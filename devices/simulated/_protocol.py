"""Stimulus protocol (docs/design.md#stimulus-protocol): descriptions, marker labels, and headless paradigms.

A *description* is the JSON object pushed on ``bci-stimuli`` for every shown stimulus::

    {"v": 1, "id": int, "kind": "flicker"|"flash"|"image"|"cue"|"off", "label": str,
     "duration": s, "frequency": Hz|null, "phase": rad|null, "depth": 0..1|null,
     "target": bool|null, "gesture": int|null, "image": {...}|null, "safety": {...}|null}

A marker alone (``bci-markers``, value = label) is turned into the same kind of
description by :func:`describe_marker`, so a presenter that only sends markers still drives
the participant.
"""

from __future__ import annotations

import re

import numpy as np

from bci._errors import ConfigError

#: Default SSVEP paradigm (docs/design.md#simulated): frequencies, on and rest durations.
SSVEP_FREQUENCIES: tuple[float, ...] = (8.0, 10.0, 12.0, 15.0)
SSVEP_ON: float = 2.0
SSVEP_REST: float = 1.0
#: The eight armband gestures (0 = rest), as in the public Myo wrist-gesture data set.
GESTURES: tuple[str, ...] = (
    "rest", "flexion", "extension", "radial", "ulnar", "pronation", "supination", "fist",
)  # fmt: skip

_KEYS = ("frequency", "phase", "depth", "target", "gesture", "image", "safety")


def description(kind: str, label: str, duration: float, id: int = 0, **fields: object) -> dict:
    """Build a complete stimulus description (docs/design.md#stimulus-protocol) (missing optional fields are ``None``)."""
    desc: dict = {"v": 1, "id": int(id), "kind": kind, "label": label, "duration": float(duration)}
    for key in _KEYS:
        desc[key] = fields.pop(key, None)
    if fields:
        raise ConfigError(f"description: unknown field(s) {sorted(fields)}; allowed: {_KEYS}")
    return desc


_SSVEP = re.compile(r"^ssvep_(\d+(?:\.\d*)?)$")
_GESTURE = re.compile(r"^gesture_(\d+)$")


def describe_marker(label: str, id: int = 0) -> dict:
    """Turn a bare marker label into a description.

    ``ssvep_<f>`` -> 2 s flicker at ``f`` Hz; ``target``/``nontarget`` -> 0.2 s flash;
    ``face``/``house`` -> 0.2 s flash with that label; ``gesture_<k>`` -> 2 s gesture cue;
    ``rest``/``off`` -> off; ``eyes_closed``/``eyes_open`` -> cue; anything else -> a 0.2 s
    generic flash (a visual onset with no task meaning).
    """
    if m := _SSVEP.match(label):
        return description(
            "flicker", label, SSVEP_ON, id, frequency=float(m.group(1)), depth=1.0, phase=0.0
        )
    if m := _GESTURE.match(label):
        return description("cue", label, 2.0, id, gesture=int(m.group(1)))
    if label in ("target", "nontarget"):
        return description("flash", label, 0.2, id, target=label == "target")
    if label in ("face", "house"):
        return description("flash", label, 0.2, id)
    if label in ("rest", "off"):
        return description("off", label, 0.0, id)
    if label in ("eyes_closed", "eyes_open") or label.startswith("cue"):
        return description("cue", label, 0.0, id)
    return description("flash", label, 0.2, id)


def paradigm_schedule(
    paradigm: str,
    duration: float,
    seed: int = 0,
    start: float = 1.0,
) -> list[tuple[float, dict]]:
    """A headless stimulus schedule: ``[(onset_s, description), ...]`` within ``duration``.

    Parameters
    ----------
    paradigm : str
        ``"ssvep"`` (8/10/12/15 Hz, 2 s on, 1 s rest labelled ``rest``, frequencies in
        shuffled blocks), ``"p300"`` (0.2 s flashes every 0.6 s +- 0.1, one target in six),
        ``"n170"`` (faces/houses, 0.2 s, 0.6 s +- 0.1), ``"gestures"`` (gesture cues 0-7,
        3 s hold, 2 s rest), or ``"none"`` (empty).
    duration : float
        Seconds; stimuli that would end after it are left out.
    seed : int
        Order of the trials.
    start : float
        Onset of the first stimulus.
    """
    rng = np.random.default_rng([seed, 101])
    out: list[tuple[float, dict]] = []
    t, k = float(start), 0
    if paradigm == "none":
        return out
    if paradigm == "ssvep":
        order: list[float] = []
        while t + SSVEP_ON <= duration:
            if not order:
                order = list(rng.permutation(SSVEP_FREQUENCIES))
            f = float(order.pop())
            out.append(
                (
                    t,
                    description(
                        "flicker", f"ssvep_{f}", SSVEP_ON, k, frequency=f, phase=0.0, depth=1.0
                    ),
                )
            )
            out.append((t + SSVEP_ON, description("off", "rest", SSVEP_REST, k + 1)))
            t += SSVEP_ON + SSVEP_REST
            k += 2
    elif paradigm in ("p300", "n170"):
        while t + 0.2 <= duration:
            if paradigm == "p300":
                target = bool(rng.random() < 1 / 6)
                desc = description(
                    "flash", "target" if target else "nontarget", 0.2, k, target=target
                )
            else:
                desc = description("flash", str(rng.choice(["face", "house"])), 0.2, k)
            out.append((t, desc))
            t += 0.6 + rng.uniform(-0.1, 0.1)
            k += 1
    elif paradigm == "gestures":
        order_g: list[int] = []
        while t + 3.0 <= duration:
            if not order_g:
                order_g = list(rng.permutation(len(GESTURES)))
            g = int(order_g.pop())
            out.append((t, description("cue", f"gesture_{g}", 3.0, k, gesture=g)))
            t += 5.0
            k += 1
    else:
        raise ConfigError(
            f"paradigm={paradigm!r} is unknown; use ssvep, p300, n170, gestures or none",
            [("paradigm", paradigm, "ssvep | p300 | n170 | gestures | none")],
        )
    return out
