"""Calibration benchmark (docs/design.md#benchmarks): every shared set, best strategy vs baselines vs scratch.

``python tools/bench_calibration.py [--quick] [--only SET]`` or ``bci bench --only calibration``.
Reads ``../shared/data`` beside the checkout; each scenario is one ``bci calibrate`` run
(one user or one file) and records its wall time on this machine.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
logger = logging.getLogger("bench_calibration")


def _machine() -> str:
    import os

    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    )


def scenarios(data: Path = DATA) -> list[tuple[str, str, list[Path], str | None]]:
    """``(name, config set, files, user)`` for every public data set the benchmark covers."""
    out: list[tuple[str, str, list[Path], str | None]] = []
    out.append(
        (
            "muse-ssvep/subject1",
            "muse-ssvep",
            sorted((data / "muse-ssvep/subject1").rglob("*.csv")),
            "subject1",
        )
    )
    for s in ("subject1", "subject2"):
        out.append(
            (f"muse-p300/{s}", "muse-p300", sorted((data / f"muse-p300/{s}").rglob("*.csv")), s)
        )
        out.append(
            (f"muse-n170/{s}", "muse-n170", sorted((data / f"muse-n170/{s}").rglob("*.csv")), s)
        )
    for u in ("12345", "45612"):
        files = sorted((data / "myo-wrist-gestures/right_hand").glob(f"{u}-*/*.txt"))
        out.append((f"myo-wrist-gestures/{u}", "myo-wrist-gestures", files, u))
    for f in sorted((data / "xdf-openbci-emg-gestures").rglob("*.xdf")):
        out.append((f"xdf-openbci-emg-gestures/{f.stem}", "xdf-openbci-emg-gestures", [f], f.stem))
    runs = [data / f"eegmmidb-edf/S001/S001R{r}.edf" for r in ("04", "08", "12")]
    out.append(("eegmmidb/S001", "eegmmidb", runs, "S001"))
    return [s for s in out if s[2] and all(p.exists() for p in s[2])]


def run(
    quick: bool = False,
    only: str | None = None,
    encoder: str = "default",
    strategies: list[str] | None = None,
    fast: bool = False,
) -> list[dict]:
    """Calibrate every scenario; one result dict each.

    ``quick``: SSVEP and one EMG file, no extras. ``encoder``: pretrained encoder of the
    foundation strategies (``training.encoder``). ``strategies``: only these (default: the
    configs'). ``fast``: no learning curve or shortcut check (the scores are the same).
    """
    from bci.config._calibration import CalibrationConfig
    from bci.config._load import load_config
    from bci.models.calibration import calibrate

    results = []
    todo = scenarios()
    if quick:
        todo = [
            s for s in todo if s[0] in ("muse-ssvep/subject1", "xdf-openbci-emg-gestures/ayush")
        ]
    if only:
        todo = [s for s in todo if only in s[0]]
    for name, cfg_set, files, user in todo:
        cfg = load_config(ROOT / "configs" / f"calibrate_{cfg_set}.yaml", CalibrationConfig)
        update: dict = {"training": cfg.training.model_copy(update={"encoder": encoder})}
        if user:
            update["user"] = user
        if strategies:
            update["strategies"] = strategies
        cfg = cfg.model_copy(update=update)
        extras = not (quick or fast)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = calibrate(files, cfg, tmp, progress=False, learning=extras, shortcut=extras)
            wall = time.perf_counter() - t0
        m = res.metrics
        row = {
            "name": name,
            "evaluation": m["evaluation"],
            "best": m["best"]["name"],
            "accuracy": round(m["best"]["accuracy"], 3),
            "auc": round(m["best"]["auc"], 3) if "auc" in m["best"] else None,
            "trial_accuracy": round(m["best"]["trial_accuracy"], 3)
            if "trial_accuracy" in m["best"]
            else None,
            "baselines": {
                k: round(v.get("auc", v["accuracy"]) if "auc" in m["best"] else v["accuracy"], 3)
                for k, v in m["baselines"].items()
            },
            "strategies": {
                k: round(v.get("auc", v["accuracy"]) if "auc" in m["best"] else v["accuracy"], 3)
                for k, v in m["strategies"].items()
            },
            "skipped": sorted(m["skipped"]),
            "latency_p50_ms": m["inference_latency_ms"]["p50"],
            "seconds": round(wall, 1),
            "machine": _machine(),
            "encoder": encoder,
        }
        if "per_session" in m:
            row["per_session"] = m["per_session"]
        logger.info("%s", row)
        results.append(row)
    return results


def markdown(results: list[dict]) -> str:
    """A table: one row per scenario, best strategy next to baselines and scratch."""
    lines = [
        "| scenario | evaluation | shipped | window acc. | trial acc. | AUC | baselines | strategies | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = ", ".join(f"{k} {v:.3f}" for k, v in r["baselines"].items())
        strat = ", ".join(f"{k} {v:.3f}" for k, v in r["strategies"].items())
        auc = "" if r["auc"] is None else f"{r['auc']:.3f}"
        tacc = "" if r.get("trial_accuracy") is None else f"{r['trial_accuracy']:.3f}"
        lines.append(
            f"| {r['name']} | {r['evaluation']} | {r['best']} | {r['accuracy']:.3f} | {tacc} | {auc} | {base} | {strat} | {r['seconds']} |"
        )
    if results:
        lines.append(
            f"\nmachine: {results[0]['machine']}; AUC columns for binary sets, accuracy otherwise."
        )
    return "\n".join(lines)


def pretrained_vs_scratch(results: list[dict]) -> str:
    """Pretrained strategies vs ``scratch`` per scenario, and averaged per scenario and per set."""
    pre = [
        k for k in ("linear_probe", "readin", "full") if any(k in r["strategies"] for r in results)
    ]
    rows = [r for r in results if "scratch" in r["strategies"]]
    if not rows or not pre:
        return ""
    lines = ["| scenario | " + " | ".join(pre) + " | scratch |", "|---" * (len(pre) + 2) + "|"]
    for r in rows:
        s = r["strategies"]
        cells = [f"{s[k]:.3f}" if k in s else "" for k in pre]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | {s['scratch']:.3f} |")
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(r["name"].split("/")[0], []).append(r)
    for label, groups in (
        ("mean over scenarios", [[r] for r in rows]),
        ("mean over sets", list(by_set.values())),
    ):
        cells = []
        for k in pre + ["scratch"]:
            per = [
                sum(r["strategies"][k] for r in g) / len(g)
                for g in groups
                if all(k in r["strategies"] for r in g)
            ]
            cells.append(f"{sum(per) / len(per):.3f}" if per else "")
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    return "\n" + "\n".join(lines)


def quiet_logging(*extra: str) -> None:
    """INFO logging for the benchmark's own lines; model export and evaluation at WARNING."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in (
        "bci.models",
        "onnx_ir",
        "onnxscript",
        "bci._decoder",
        "bci.models.calibration._evaluate",
        *extra,
    ):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default=None, help="Substring of the scenario names to run.")
    p.add_argument("--json", default=None, help="Also write the rows to this JSON file.")
    p.add_argument(
        "--encoder", default="default", help="Pretrained encoder.pt (default: the shipped one)."
    )
    p.add_argument("--strategies", nargs="+", default=None, help="Only these strategies.")
    p.add_argument(
        "--fast", action="store_true", help="No learning curve or shortcut check (faster)."
    )
    args = p.parse_args(argv)
    quiet_logging()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    results = run(
        quick=args.quick,
        only=args.only,
        encoder=args.encoder,
        strategies=args.strategies,
        fast=args.fast,
    )
    if args.json:
        import json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    sys.stdout.write(markdown(results) + "\n")
    sys.stdout.write(pretrained_vs_scratch(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
