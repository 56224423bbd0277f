"""Timing machinery without a window: refresh measurement, pacing, drops, achieved frequency."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bci import StimulusError
from bci.stimuli._paradigm import achieved_frequency, flip_stats, ssvep_level
from bci.stimuli._presenter import FlipClock, frame_period


class _Unpaced:
    """A window whose flip returns at once (Xvfb has no vsync)."""

    def __init__(self) -> None:
        self.flips = 0

    def flip(self) -> None:
        self.flips += 1


def test_unpaced_display_is_detected_and_paced_by_the_clock(caplog) -> None:
    win = _Unpaced()
    clock = FlipClock(win, 60.0)
    with caplog.at_level(logging.WARNING):
        hz = clock.measure(40)
    assert clock.paced_by_clock
    assert "does not pace flips" in caplog.text
    assert hz == pytest.approx(60.0, rel=2e-3)
    t = np.array([clock.flip() for _ in range(20)])
    # emulated vsync: every flip lands on the 60-Hz grid (a late one skips a whole slot)
    slots = np.diff(t) * 60.0
    assert np.allclose(slots, np.round(slots), atol=1e-6)
    assert clock.check(0.01, allow=False) is None


def test_a_display_at_the_wrong_rate_is_refused_unless_overridden(caplog) -> None:
    clock = FlipClock(_Unpaced(), 60.0, pace_hz=57.0)  # a 57-Hz display, configured 60
    assert clock.measure(40) == pytest.approx(57.0, rel=2e-3)
    with pytest.raises(
        StimulusError, match=r"57\.\d+ Hz differs .* 60 Hz .*display.allow_mismatch"
    ):
        clock.check(0.01, allow=False)
    with caplog.at_level(logging.WARNING):
        msg = clock.check(0.01, allow=True)
    assert msg and "running anyway" in caplog.text


def test_frame_period_ignores_late_flips_and_counts_dropped_slots() -> None:
    rng = np.random.default_rng(0)
    slots = np.cumsum(np.r_[0, np.where(rng.random(299) < 0.05, 2, 1)])
    t = 100 + slots / 60.0 + rng.exponential(0.002, slots.size)  # late wake-ups
    assert 1 / frame_period(t) == pytest.approx(60.0, rel=2e-3)
    stats = flip_stats(slots / 60.0, 1 / 60.0)
    assert stats["dropped"] == int(slots[-1] - (len(slots) - 1))


@pytest.mark.parametrize("f", [8.0, 10.0, 12.0, 14.0, 13.3])
def test_achieved_frequency_from_flip_times_even_with_dropped_frames(f: float) -> None:
    t = np.arange(180) / 60.0
    lv = np.array([ssvep_level(f, 1.0, 0.8, k, 60.0) for k in range(180)])
    keep = np.ones(180, bool)
    keep[[10, 50, 51, 120]] = False  # dropped frames: missing samples, not delays
    assert achieved_frequency(t[keep], lv[keep]) == pytest.approx(f, abs=0.01)
    # the same levels shown on a 50-Hz display are a different flicker
    assert achieved_frequency(np.arange(180) / 50.0, lv) == pytest.approx(f * 50 / 60, abs=0.01)


class _Busy:
    """No vsync on a busy machine: every flip costs 3-9 ms of rendering, irregularly."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def flip(self) -> None:
        import time

        time.sleep(float(self.rng.uniform(0.003, 0.009)))


def test_slow_irregular_flips_are_not_taken_for_a_fast_display() -> None:
    clock = FlipClock(_Busy(), 60.0)
    clock.measure(30)
    assert clock.paced_by_clock and clock.refresh_hz == pytest.approx(60.0, rel=5e-3)
