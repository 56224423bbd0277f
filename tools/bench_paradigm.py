"""Benchmark: live calibration then online selections with feedback, simulated participant.

Runs in real time under a display (``xvfb-run -a -s "-screen 0 1024x768x24"``): for each
paradigm, ``bci calibrate --live`` (window, simulated participant over LSL, XDF, training),
then an online session with the paradigm and feedback; online accuracy is scored against
the participant's ground truth (``bci-sim-truth``). Prints one JSON row per paradigm and
appends them to ``docs/bench/paradigm.json``.

    python tools/bench_paradigm.py ssvep p300 --selections 40 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def calibrate_live(paradigm: str, out: Path, trials: int | None = None, source="simulated"):
    """Live calibration run: recording, calibration result and presenter summary."""
    from bci.models.calibration import calibrate
    from bci.models.calibration._live import live_recording

    rec, cfg, timing = live_recording(
        paradigm,
        source,
        trials=trials,
        screened="simulated participant (benchmark)",
        directory=out / "recordings",
        unique_streams=True,
    )
    res = calibrate(
        [rec], cfg, out / f"{paradigm}-model", progress=False, learning=False, shortcut=False
    )
    return rec, res, timing


def online(paradigm: str, decoder: Path, selections: int, out: Path, **paradigm_update) -> dict:
    """An online session with feedback; the summary plus the accuracy against the truth."""
    import uuid

    import yaml

    from bci import run_session
    from bci.config import SessionConfig
    from bci.models.calibration._live import score_selections
    from bci.stimuli._paradigm_show import load_paradigm

    # streams of this run only: other sessions on the network may use the default names
    run = uuid.uuid4().hex[:6]
    data = load_paradigm(paradigm).model_dump(mode="json", by_alias=True, exclude_none=True)
    data["window"].update(
        marker_stream=f"bci-markers-{run}", description_stream=f"bci-stimuli-{run}"
    )
    data["frame_stream"] = f"bci-frames-{run}"
    data.pop("calibration", None)
    path = out / f"paradigm_{paradigm.rsplit('/', 1)[-1].removesuffix('.yaml')}-{run}.yaml"
    path.write_text(yaml.safe_dump(data))
    window = (
        {"mode": "event"}
        if data["task"] == "p300"
        else {"length": 2.0, "hop": 0.1, "mode": "sliding"}
    )
    post = {} if data["task"] == "p300" else {"smoothing": 10, "threshold": 0.7, "dwell": 5}
    cfg = SessionConfig(
        name=f"bench-{data['name']}",
        sources=[
            {
                "kind": "simulated",
                "paradigm": "none",
                "name": f"bci-sim-{run}",
                "truth": f"bci-sim-truth-{run}",
                "markers": f"bci-markers-{run}",
                "stimuli": f"bci-stimuli-{run}",
                "frames": f"bci-frames-{run}",
            }
        ],
        decoder={"path": str(decoder)},
        window=window,
        postprocess=post,
        paradigm={
            "name": str(path),
            "trials": selections,
            "screened_reason": "simulated participant (benchmark)",
            **paradigm_update,
        },
        recording={"enabled": True, "directory": str(out / "recordings")},
        outputs={"mqtt": {"enabled": False}},
    )
    res = run_session(cfg, handle_signals=False)
    return {
        **res.summary["paradigm"],
        "truth": score_selections(res.recording),
        "recording": str(res.recording),
    }


def main() -> None:  # pragma: no cover - benchmark
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paradigms", nargs="+", choices=["ssvep", "p300"])
    ap.add_argument("--selections", nargs="+", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-paradigm-"))
    rows = []
    for i, p in enumerate(args.paradigms):
        n = args.selections[i] if args.selections else (40 if p == "ssvep" else 30)
        t0 = time.time()
        rec, cal, timing = calibrate_live(p, out)
        t1 = time.time()
        row = online(p, cal.out_dir, n, out)
        row.update(
            paradigm=p,
            calibration_accuracy=cal.metrics["best"]["accuracy"],
            calibration_s=round(t1 - t0, 1),
            online_s=round(time.time() - t1, 1),
            calibration_dropped_frames=timing["dropped_frames"],
            machine=f"{platform.node()} ({platform.processor() or platform.machine()}), "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        )
        sys.stdout.write(json.dumps(row, default=float) + "\n")
        rows.append(row)
    bench = ROOT / "docs" / "bench" / "paradigm.json"
    old = json.loads(bench.read_text()) if bench.exists() else {"meta": {}, "rows": []}
    old["rows"] += rows
    bench.write_text(json.dumps(old, indent=1, default=float))


if __name__ == "__main__":
    main()
