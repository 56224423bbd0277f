"""Pseudo-online benchmark: calibrate on some recordings, ``bci evaluate`` the held-out ones.

``python tools/bench_evaluate.py [--only NAME] [--speed X] [--strategies features ...]``
writes ``docs/bench/evaluate.json`` and prints the Markdown table of ``docs/scoring.md``
(``--md FILE`` writes it to a file too). Each scenario calibrates
with its shipped ``configs/calibrate_*.yaml`` (every strategy unless ``--strategies``), then
decodes the held-out files with the live pipeline (virtual time, or an LSL replay with
``--speed``) and scores them, next to the same model scored epoch by epoch as calibration
does (``offline``). Reads ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "bench"
logger = logging.getLogger("bench_evaluate")


def _machine() -> str:
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    )


def scenarios(data: Path = DATA) -> list[tuple[str, str, list[Path], list[Path], str]]:
    """``(name, config set, calibration files, held-out files, user)``."""
    myo = data / "myo-wrist-gestures" / "right_hand"
    ssvep = sorted((data / "muse-ssvep" / "subject1").rglob("*.csv"))
    obci = data / "xdf-openbci-emg-gestures" / "threeMotionData"
    out = [
        (
            "myo-wrist-gestures/12345: sessions 1-2 -> 3",
            "myo-wrist-gestures",
            sorted(myo.glob("12345-1/*.txt")) + sorted(myo.glob("12345-2/*.txt")),
            sorted(myo.glob("12345-3/*.txt")),
            "12345",
        ),
        (
            "muse-ssvep/subject1: runs 1-3 -> 4-6",
            "muse-ssvep",
            ssvep[: len(ssvep) // 2],
            ssvep[len(ssvep) // 2 :],
            "subject1",
        ),
        (
            "xdf-openbci-emg-gestures: three_motion_four -> three_motion_one",
            "xdf-openbci-emg-gestures",
            [obci / "three_motion_four.xdf"],
            [obci / "three_motion_one.xdf"],
            "three_motion",
        ),
    ]
    return [s for s in out if s[2] and s[3] and all(p.exists() for p in s[2] + s[3])]


def run(
    only: str | None = None,
    speed: float | None = None,
    strategies: list[str] | None = None,
    out_dir: Path | None = None,
) -> list[dict]:
    """Calibrate and evaluate every scenario; one result dict each."""
    from bci._evaluation import evaluate
    from bci.config._calibration import CalibrationConfig
    from bci.config._load import load_config
    from bci.models.calibration import calibrate

    rows = []
    for name, cfg_set, train, test, user in scenarios():
        if only and only not in name:
            continue
        cfg = load_config(ROOT / "configs" / f"calibrate_{cfg_set}.yaml", CalibrationConfig)
        update: dict = {"user": user}
        if strategies:
            update["strategies"] = strategies
        cfg = cfg.model_copy(update=update)
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "model"
            t0 = time.perf_counter()
            cal = calibrate(train, cfg, model, progress=False, learning=False, shortcut=False)
            t_cal = time.perf_counter() - t0
            dest = (out_dir / cfg_set) if out_dir else Path(tmp) / "eval"
            t0 = time.perf_counter()
            ev = evaluate(model, test, cfg, dest, speed=speed, offline=True)
            t_eval = time.perf_counter() - t0
        s, off = ev["summary"], ev["offline"]
        binary = len(cfg.classes) == 2
        rt = [v["realtime_factor"] for v in ev["per_file"].values()]
        row = {
            "name": name,
            "shipped": cal.metrics["best"]["name"],
            "calibration_cv": round(cal.metrics["best"]["auc" if binary else "accuracy"], 3),
            "calibration_evaluation": cal.metrics["evaluation"],
            "mode": ev["mode"],
            "decisions": "event-locked" if ev["event_locked"] else "sliding windows",
            "n_trials": s["trials"]["n"],
            "online_trial_accuracy": round(s["trials"]["accuracy"], 3),
            "online_window_accuracy": round(s["windows"]["accuracy"], 3),
            "offline_trial_accuracy": round(off["trials"]["accuracy"], 3),
            "difference": round(s["trials"]["accuracy"] - off["trials"]["accuracy"], 3),
            "chance": round(s["trials"]["chance"], 3),
            "p_value": s["trials"]["p_value"],
            "online_auc": round(s["trials"]["auc"], 3) if binary else None,
            "offline_auc": round(off["trials"]["auc"], 3) if binary else None,
            "first_correct_median_s": s["time_to_first_correct_s"]["median"],
            "itr_bits_per_min": None
            if s["itr_bits_per_min"] is None
            else round(s["itr_bits_per_min"], 2),
            "false_activations_per_min": None
            if s["rest"]["per_min"] is None
            else round(s["rest"]["per_min"], 1),
            "realtime_factor": round(min(rt), 1),
            "calibrate_s": round(t_cal, 1),
            "evaluate_s": round(t_eval, 1),
            "machine": _machine(),
        }
        logger.info("%s", row)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """One table row per scenario."""
    lines = [
        "| scenario | shipped (CV) | mode | trials | pseudo-online trial acc. | offline trial acc. "
        "| difference | window acc. | chance | first correct, median s | ITR bits/min "
        "| false activations /min rest | x real time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: object, fmt: str = "{:.3f}") -> str:
        return "-" if v is None else fmt.format(v)

    for r in rows:
        lines.append(
            f"| {r['name']} | {r['shipped']} ({r['calibration_cv']:.3f}) | {r['mode']}, "
            f"{r['decisions']} | {r['n_trials']} | {r['online_trial_accuracy']:.3f} | "
            f"{r['offline_trial_accuracy']:.3f} | {r['difference']:+.3f} | "
            f"{r['online_window_accuracy']:.3f} | {r['chance']:.3f} | "
            f"{f(r['first_correct_median_s'], '{:.2f}')} | {f(r['itr_bits_per_min'], '{:.1f}')} | "
            f"{f(r['false_activations_per_min'], '{:.1f}')} | {r['realtime_factor']:.0f} |"
        )
    if rows:
        lines.append(
            f"\nmachine: {rows[0]['machine']} (shared with other work while measured). "
            "Offline: the same model on the same held-out files, epoch by epoch as calibration "
            "computes it. x real time: the slowest file."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="Substring of the scenario names to run.")
    p.add_argument("--speed", type=float, default=None, help="LSL replay speed (default: virtual).")
    p.add_argument("--strategies", nargs="+", default=None, help="Only these strategies.")
    p.add_argument("--json", default=str(OUT / "evaluate.json"), help="Where the rows go.")
    p.add_argument("--md", default=None, help="Also write the Markdown table to this file.")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("bci.models", "onnx_ir", "onnxscript", "bci._decoder", "bci._evaluate_run"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(1)
    rows = run(only=args.only, speed=args.speed, strategies=args.strategies)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    md = markdown(rows)
    if args.md:
        Path(args.md).write_text(md + "\n")
    sys.stdout.write(md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
