"""The photosensitivity limiter: every rule is broken once and must be blocked or clamped."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pydantic import ValidationError

from bci import SafetyError
from bci.config import ClosedLoopConfig
from bci.config._closed_loop import MonitorConfig, SafetyConfig
from bci.stimuli import SafetyLimiter, Stimulus, field_area_px
from bci.stimuli._safety import transitions

BIG = (400, 400)  # 400 x 400 px on the default 24" 1920 px monitor at 60 cm: > 25% of 10 deg


def _opt_in(**kw) -> SafetyLimiter:
    return SafetyLimiter(
        SafetyConfig(
            screened_participant=True, screened_reason="screened by Dr X, EEG 2026-01-02", **kw
        )
    )


def test_field_area_matches_wcag_reference():
    # WCAG: a 341 x 256 px rectangle at 1024 x 768 approximates a 10-degree field for a
    # 15-17" monitor at 22-26 inches.
    mon = MonitorConfig(width_cm=34.5, width_px=1024, height_px=768, distance_cm=61.0)
    assert 0.8 < field_area_px(mon) / (341 * 256) < 1.2
    # Closer viewing -> a 10-degree field covers fewer pixels.
    near = MonitorConfig(width_cm=34.5, width_px=1024, height_px=768, distance_cm=30.0)
    assert field_area_px(near) < 0.5 * field_area_px(mon)


def test_transition_counter():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.95, 1.0, 0.0])[:, None]
    assert transitions(x, 0.1, 0.8)[:, 0].tolist() == [False, True, True, True, False, False, True]
    # Changes below 0.1 and changes between two bright states do not count.
    assert not transitions(np.array([0.5, 0.55, 0.5, 0.55])[:, None], 0.1, 0.8).any()
    assert not transitions(np.array([0.85, 1.0, 0.85, 1.0])[:, None], 0.1, 0.8).any()


def test_general_flash_frame_sequence_is_clamped_and_recorded(caplog):
    limiter = SafetyLimiter()
    frames = np.zeros((100, 32, 32))
    frames[::2] = 1.0  # black/white every frame: 30 flashes/s
    stim = Stimulus(kind="image", label="seq", duration=100 / 60, frames=frames, size_px=BIG)
    assert [v.rule for v in limiter.flash_violations(stim)][0] == "wcag_general_flash"
    with caplog.at_level(logging.WARNING, logger="bci.stimuli._safety"):
        safe, record = limiter(stim)
    assert record["clamps"] and record["clamps"][0]["rule"] == "wcag_general_flash"
    assert record["clamps"][0]["param"] == "depth_scale" and record["clamps"][0]["to"] < 1.0
    assert "safety clamp [wcag_general_flash]" in caplog.text
    assert not limiter.flash_violations(safe)
    # The clamp reduced the temporal modulation, it did not blank the stimulus.
    assert np.ptp(safe.frames, axis=0).max() > 0.05


def test_slow_flashing_is_allowed_fast_is_not():
    limiter = SafetyLimiter()
    img = np.ones((16, 16))
    slow = Stimulus(
        kind="image", label="slow", duration=2.0, image=img, frequency=2.0, depth=1.0, size_px=BIG
    )
    fast = slow.with_(frequency=5.0)
    assert limiter.flash_violations(slow) == []
    assert limiter.flash_violations(fast)
    assert limiter(slow)[1]["clamps"] == []
    # A periodic modulation is an SSVEP flicker whatever its kind: it needs the opt-in.
    with pytest.raises(SafetyError, match="screened_participant"):
        limiter(fast)


def test_area_rule_small_flashing_patch_passes_large_one_does_not():
    limiter = SafetyLimiter()
    frames = np.zeros((60, 8, 8))
    frames[::2] = 1.0
    small = Stimulus(kind="image", label="small", duration=1.0, frames=frames, size_px=(100, 100))
    assert small.display_px[0] * small.display_px[1] < limiter.field_limit_px
    assert limiter.flash_violations(small) == []
    assert limiter(small)[1]["clamps"] == []
    large = small.with_(size_px=(200, 200))
    assert 200 * 200 > limiter.field_limit_px
    assert [v.rule for v in limiter.flash_violations(large)] == ["wcag_general_flash"]


def test_area_clamp_when_depth_cannot_be_reduced_enough():
    limiter = SafetyLimiter(SafetyConfig(min_depth=0.9))  # forbid deep depth cuts
    frames = np.zeros((60, 8, 8))
    frames[::2] = 1.0
    stim = Stimulus(kind="image", label="area", duration=1.0, frames=frames, size_px=BIG)
    safe, record = limiter(stim)
    clamp = record["clamps"][-1]
    assert clamp["param"] == "size_px"
    w, h = safe.display_px
    assert w * h <= limiter.field_limit_px and not limiter.flash_violations(safe)


def test_red_flash_rule():
    limiter = SafetyLimiter()
    frames = np.zeros((60, 16, 16, 3))
    frames[::2, ..., 0] = 1.0  # saturated red on/off
    stim = Stimulus(kind="image", label="red", duration=1.0, frames=frames, size_px=BIG)
    rules = [v.rule for v in limiter.flash_violations(stim)]
    assert "wcag_red_flash" in rules
    safe, record = limiter(stim)
    assert record["clamps"]
    assert not limiter.flash_violations(safe)
    # A dark red (R-G-B)*320 change below 20 is not a red flash; a green one never is.
    green = frames[..., [1, 0, 2]]
    assert "wcag_red_flash" not in [
        v.rule for v in limiter.flash_violations(stim.with_(frames=green))
    ]


def test_itu_bt1702_uses_monitor_luminance():
    # Small luminance steps (0.10 -> 0.16 relative, under WCAG's 0.1 delta) on a bright
    # monitor are > 20 cd/m2: only ITU-R BT.1702 flags them.
    frames = np.full((60, 16, 16), 0.35)
    frames[::2] = 0.44
    stim = Stimulus(kind="image", label="itu", duration=1.0, frames=frames, size_px=(1600, 900))
    bright = SafetyLimiter(SafetyConfig(monitor=MonitorConfig(max_luminance=600.0)))
    dim = SafetyLimiter(SafetyConfig(monitor=MonitorConfig(max_luminance=150.0)))
    assert [v.rule for v in bright.flash_violations(stim)] == ["itu_bt1702"]
    assert dim.flash_violations(stim) == []
    safe, record = bright(stim)
    assert record["clamps"][0]["rule"] == "itu_bt1702"


def test_stripes_rule_clamps_contrast():
    limiter = SafetyLimiter()
    x = np.arange(128)
    many = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 8.25 * x / 128))[None, :].repeat(128, 0)
    few = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * x / 128)[None, :].repeat(128, 0)
    assert limiter.stripe_violation(many) is not None
    assert limiter.stripe_violation(few) is None
    safe, record = limiter(Stimulus(kind="image", label="stripes", image=many))
    assert record["clamps"][0]["rule"] == "efa_stripes"
    assert limiter.stripe_violation(safe.image) is None
    assert limiter.stripe_measure(safe.image)[2] <= 0.5
    # Low-contrast stripes and noise are left alone.
    low = 0.5 + 0.05 * np.sin(2 * np.pi * 10 * x / 128)[None, :].repeat(128, 0)
    assert limiter(Stimulus(kind="image", image=low))[1]["clamps"] == []
    noise = np.random.default_rng(0).random((128, 128))
    assert limiter.stripe_violation(noise) is None


def test_unsafe_flicker_without_opt_in_fails_loudly():
    limiter = SafetyLimiter()
    stim = Stimulus(
        kind="flicker",
        label="ssvep_10.0",
        duration=2.0,
        image=np.ones((16, 16)),
        frequency=10.0,
        depth=1.0,
        size_px=BIG,
    )
    with pytest.raises(SafetyError, match="screened_participant"):
        limiter(stim)
    # A 20 Hz flicker is refused even when it is too small for the area rule (EFA 15-25 Hz).
    tiny = stim.with_(frequency=20.0, size_px=(60, 60))
    with pytest.raises(SafetyError, match="efa_15_25hz"):
        limiter(tiny)


def test_opt_in_flicker_is_logged_clamped_and_recorded(caplog):
    with caplog.at_level(logging.WARNING, logger="bci.stimuli._safety"):
        limiter = _opt_in()
        stim = Stimulus(
            kind="flicker",
            label="ssvep_10.0",
            duration=2.0,
            image=np.ones((16, 16)),
            frequency=10.0,
            depth=1.0,
            size_px=(600, 600),
        )
        safe, record = limiter(stim)
    assert "SSVEP opt-in" in caplog.text and "Dr X" in caplog.text
    assert record["opt_in"].startswith("screened by")
    params = {c["param"]: c for c in record["clamps"]}
    assert params["depth"]["to"] == 0.8 and safe.depth == 0.8
    assert safe.display_px[0] < 600
    assert record["waived"] and record["waived"][0]["rule"] == "wcag_general_flash"
    # 15-25 Hz keeps the stricter depth limit even with the opt-in.
    safe20, record20 = limiter(stim.with_(frequency=20.0))
    assert safe20.depth == 0.3 and record20["clamps"][0]["rule"] == "efa_15_25hz"
    # The record is what goes into the contract-5 description.
    desc = safe.description(7, record)
    assert desc["safety"]["opt_in"] and desc["depth"] == 0.8 and desc["image"]["h"] == 16


def test_limiter_cannot_be_switched_off_silently():
    with pytest.raises(ValidationError):
        SafetyConfig(enabled=False)
    with pytest.raises(ValidationError, match="screened_reason"):
        SafetyConfig(screened_participant=True)
    with pytest.raises(ValidationError):
        ClosedLoopConfig(safety={"disable": True})


def test_out_of_range_intensities_are_clipped_and_recorded():
    img = np.linspace(-0.5, 1.5, 64).reshape(8, 8)
    safe, record = SafetyLimiter()(Stimulus(kind="image", image=img))
    assert record["clamps"][0]["rule"] == "range"
    assert safe.image.min() >= 0 and safe.image.max() <= 1


def test_sequence_guard_catches_flashing_across_stimuli():
    from bci.stimuli._safety import SequenceGuard

    limiter = SafetyLimiter()
    guard = SequenceGuard(limiter, (1024, 768))
    refused = 0
    for k in range(40):  # one-frame full-bright / full-dark stimuli: each alone is safe
        stim = Stimulus(
            kind="image", label="alt", duration=1 / 60, level=float(k % 2), size_px=(600, 600)
        )
        assert limiter(stim)[1]["clamps"] == []
        if guard.check(stim):
            refused += 1
        else:
            guard.shown(stim)
    assert refused >= 10
    # small stimuli (below the area limit) and slow series pass
    small = SequenceGuard(limiter, (1024, 768))
    for k in range(40):
        stim = Stimulus(
            kind="image", label="alt", duration=1 / 60, level=float(k % 2), size_px=(100, 100)
        )
        assert small.check(stim) == []
        small.shown(stim)
    slow = SequenceGuard(limiter, (1024, 768))
    for k in range(6):
        stim = Stimulus(
            kind="image", label="alt", duration=0.5, level=float(k % 2), size_px=(600, 600)
        )
        assert slow.check(stim) == []
        slow.shown(stim)


def _flicker(label: str, side_deg: float, freq: float = 10.0) -> Stimulus:
    from bci.stimuli._safety import px_per_degree

    side = int(round(side_deg * px_per_degree(MonitorConfig())))
    return Stimulus(
        kind="flicker", label=label, duration=2.0, image=np.ones((8, 8)), frequency=freq,
        phase=0.0, depth=0.8, size_px=(side, side), background=0.0,
    )  # fmt: skip


def test_simultaneous_flickers_are_limited_by_their_summed_area():
    lim = _opt_in()
    # four 3-degree targets (the shipped SSVEP layout): 36 deg2, under 78.5
    ok = lim.check_simultaneous([_flicker(f"f{i}", 3.0) for i in range(4)])
    assert ok["flickering"] == 4 and ok["total_deg2"] == pytest.approx(36.0, rel=0.02)
    # each 5-degree target passes alone (<= 8 deg), four together are 100 deg2
    targets = [_flicker(f"f{i}", 5.0) for i in range(4)]
    for t in targets:
        lim(t)
    with pytest.raises(SafetyError, match=r"4 stimuli flicker at once over 10\d\.\d deg2") as e:
        lim.check_simultaneous(targets)
    assert "safety.flicker_max_total_deg2 = 78.5" in str(e.value)
    # the limit is a config key; slow (<= 3 Hz) modulation does not count
    assert _opt_in(flicker_max_total_deg2=120.0).check_simultaneous(targets)["flickering"] == 4
    slow = [_flicker(f"s{i}", 5.0, freq=2.0) for i in range(4)]
    assert lim.check_simultaneous(slow) == {"flickering": 0, "total_deg2": 0.0, "limit_deg2": 78.5}
