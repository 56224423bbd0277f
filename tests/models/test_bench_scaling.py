"""The scaling-curve tool: plan, probe averaging and one tiny curve on simulated recordings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "bench_scaling", ROOT / "tools" / "bench_scaling.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_plan_crosses_hours_and_sizes_and_adds_extra_sizes_at_the_last_hours():
    tool = _tool()
    pts = tool.plan(["0.5", "all"], ["64x4", "32x2"], ["96x4", "32x2"])
    assert [p["name"] for p in pts] == [
        "h0.5_d64x4",
        "h0.5_d32x2",
        "hall_d64x4",
        "hall_d32x2",
        "hall_d96x4",
    ]
    assert pts[0]["max_hours"] == 0.5 and pts[-1]["max_hours"] is None
    for bad in ("64", "64x", "6x4", "ax4"):
        with pytest.raises(ValueError, match="WIDTHxDEPTH|multiple of 4"):
            tool.parse_size(bad)
    with pytest.raises(ValueError, match="positive"):
        tool.parse_hours("0")


def test_probe_score_is_the_mean_over_sets_of_per_set_means():
    rows = [
        {"name": "muse-p300/subject1", "strategies": {"linear_probe": 0.6}},
        {"name": "muse-p300/subject2", "strategies": {"linear_probe": 0.4}},
        {"name": "eegmmidb/S001", "strategies": {"linear_probe": 0.8}},
        {"name": "other/x", "strategies": {"scratch": 0.1}},
    ]
    m = _tool().mean_over_sets(rows)
    assert m["n_sets"] == 2
    assert m["mean_over_sets"] == pytest.approx((0.5 + 0.8) / 2)
    assert m["mean_over_scenarios"] == pytest.approx(0.6)
    assert _tool().mean_over_sets([])["mean_over_sets"] is None


def test_tiny_curve_writes_json_table_and_plot_and_reuses_points(tmp_path):
    tool = _tool()
    out = tmp_path / "points"
    files = {k: tmp_path / f"scaling.{k}" for k in ("json", "md", "png")}
    argv = [
        "--simulated-recordings", "3", "--simulated-minutes", "0.25",
        "--holdout-from", "none", "--hours", "0.002", "all",
        "--sizes", "16x1", "--extra-sizes", "32x1",
        "--steps", "3", "--batch-size", "4", "--eval-windows", "8", "--eval-batch-size", "4",
        "--no-probe", "--no-progress", "-o", str(out), "--cache", str(tmp_path / "c.npz"),
        "--json", str(files["json"]), "--md", str(files["md"]), "--png", str(files["png"]),
    ]  # fmt: skip
    assert tool.main(argv) == 0
    assert (tmp_path / "c.npz").stat().st_size > 1000  # the prepared data, for --data next time
    res = json.loads(files["json"].read_text())
    assert res["threads"] == 1 and res["budget"]["windows"] == 12
    assert [p["name"] for p in res["points"]] == ["h0.002_d16x1", "hall_d16x1", "hall_d32x1"]
    small, full, wide = res["points"]
    assert small["n_train_recordings"] == 1 < full["n_train_recordings"] == 2
    assert small["train_hours"] < full["train_hours"]
    assert wide["n_params"] > full["n_params"]
    for p in res["points"] + res["random_init"]:
        assert p["heldout_loss"] > 0 and p["baseline_loss"] > 0 and p["probe"] is None
    # one control per size, scored on the same held-out windows as the trained points
    assert [r["size"] for r in res["random_init"]] == ["16x1", "32x1"]
    assert {r["baseline_loss"] for r in res["points"] + res["random_init"]} == {
        small["baseline_loss"]
    }
    table = files["md"].read_text()
    assert "| 16 x 1 |" in table and "random weights" in table and "1 torch thread" in table
    assert files["png"].stat().st_size > 10_000
    # a second run reuses every point (same budget) and only rewrites the outputs
    (out / "hall_d32x1" / "encoder.pt").unlink()
    assert tool.main(argv) == 0
    assert not (out / "hall_d32x1" / "encoder.pt").exists()
    files["png"].unlink()
    assert tool.main(["--replot", *argv]) == 0 and files["png"].is_file()
