"""Paradigms are validated YAML: shipped files load, bad keys and values are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bci import ConfigError
from bci.config import load_config, parse_config
from bci.config._paradigm import ParadigmConfig
from bci.stimuli._paradigm import layout_deg, plan_trials, ssvep_level

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "configs").glob("paradigm_*.yaml"))


def test_shipped_paradigms_load_with_the_paradigm_schema() -> None:
    kinds = {load_config(p).task for p in SHIPPED}
    assert {"ssvep", "p300", "mi", "gestures"} <= kinds
    for p in SHIPPED:
        cfg = load_config(p)
        assert isinstance(cfg, ParadigmConfig)
        if cfg.calibration:  # the calibration config it names exists and validates
            load_config(ROOT / "configs" / cfg.calibration)


def _ssvep(**kw) -> dict:
    base = {
        "name": "t",
        "task": "ssvep",
        "targets": [{"label": "a", "frequency": 8.0}, {"label": "b", "frequency": 10.0}],
    }
    base.update(kw)
    return base


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_ssvep(flicker_rate=3), ParadigmConfig)
    assert info.value.problems[0][0] == "flicker_rate"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_ssvep(targets=[{"label": "a", "frequency": 8.0}, {"label": "b"}]), "need a frequency"),
        (_ssvep(targets=[{"label": "a", "frequency": 8}, {"label": "b", "frequency": 31}]), "half"),
        (
            _ssvep(targets=[{"label": "a", "frequency": 8}, {"label": "a", "frequency": 9}]),
            "unique",
        ),
        (
            {
                "name": "p",
                "task": "p300",
                "targets": [{"label": "a"}, {"label": "b"}],
                "timing": {"flash": 0.3, "soa": 0.25},
            },
            "shorter than timing.soa",
        ),  # fmt: skip
        ({"name": "g", "task": "gestures", "targets": [{"label": "a"}, {"label": "b"}]}, "gesture"),
    ],
)
def test_invalid_paradigms_are_refused_with_the_reason(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config(data, ParadigmConfig)


def test_trial_plan_is_balanced_seeded_and_p300_never_double_flashes() -> None:
    cfg = load_config(ROOT / "configs" / "paradigm_p300.yaml")
    plan = plan_trials(cfg, 12)
    assert plan == plan_trials(cfg, 12)
    assert plan != plan_trials(cfg.model_copy(update={"seed": 1}), 12)
    counts = np.bincount([t.target for t in plan], minlength=len(cfg.targets))
    assert counts.tolist() == [3, 3, 3, 3]
    for t in plan:
        assert len(t.flashes) == cfg.timing.repetitions * len(cfg.targets)
        assert np.bincount(t.flashes).tolist() == [cfg.timing.repetitions] * len(cfg.targets)
        assert all(a != b for a, b in zip(t.flashes, t.flashes[1:], strict=False))


def test_layout_on_a_circle_and_explicit_positions() -> None:
    cfg = parse_config(_ssvep(layout_radius_deg=5.0), ParadigmConfig)
    (x0, y0), (x1, y1) = layout_deg(cfg)
    assert (x0, y0) == pytest.approx((0.0, 5.0))
    assert (x1, y1) == pytest.approx((0.0, -5.0))
    targets = [
        {"label": "a", "frequency": 8.0, "position_deg": [-3, 1]},
        {"label": "b", "frequency": 9.0, "position_deg": [3, 1]},
    ]
    cfg = parse_config(_ssvep(targets=targets), ParadigmConfig)
    assert layout_deg(cfg) == [(-3.0, 1.0), (3.0, 1.0)]


def test_ssvep_levels_are_a_sampled_sinusoid_within_depth() -> None:
    lv = np.array([ssvep_level(10.0, 0.0, 0.8, k, 60.0) for k in range(60)])
    assert lv.min() >= 0.1 - 1e-9 and lv.max() <= 0.9 + 1e-9
    spec = np.abs(np.fft.rfft(lv - lv.mean()))
    assert int(np.argmax(spec)) == 10  # 10 cycles in 60 frames at 60 Hz


@pytest.mark.parametrize("spec", ["bluetooth", "brainflow", "lsl:", "simulated:x"])
def test_a_bad_source_is_a_config_error_naming_the_flag(spec: str) -> None:
    from bci.models.calibration._live import parse_source

    with pytest.raises(ConfigError, match=r"--source .*simulated, brainflow:<board>"):
        parse_source(spec)


def test_sources_parse_to_the_session_source_configs() -> None:
    from bci.models.calibration._live import parse_source

    assert parse_source("simulated", mode="emg").mode == "emg"
    bf = parse_source("brainflow:cyton:/dev/ttyUSB0")
    assert (bf.kind, bf.board, bf.params) == ("brainflow", "cyton", {"serial_port": "/dev/ttyUSB0"})
    assert parse_source("lsl:MyAmp").name == "MyAmp"


def test_unknown_paradigm_lists_the_shipped_ones() -> None:
    from bci.stimuli._paradigm_show import load_paradigm

    with pytest.raises(ConfigError, match=r"unknown paradigm 'nope'; shipped: .*'ssvep'"):
        load_paradigm("nope")


def test_cli_live_with_a_bad_source_exits_with_the_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    res = CliRunner().invoke(
        app, ["calibrate", "--live", "-p", "ssvep", "--source", "usb", "-o", str(tmp_path)]
    )
    assert res.exit_code != 0
    assert "--source 'usb'" in res.output and "Traceback" not in res.output
