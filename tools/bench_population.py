"""Cross-user benchmark: leave-one-subject-out with few-trial calibration, every candidate.

``python tools/bench_population.py [--only SET] [--json F] [--md F] [--encoder E]``.
Reads ``../shared/data`` beside the checkout. For each set, each subject in turn is the new
user and the others are the population: the first half of the new user's trials (recording
order) is the calibration pool, the second half the test trials; calibrations use the first
5, 10, 20, 40 or all trials per class of the pool. Candidates are trained on the user's trials
alone or on the population plus them (``pop_``). At 20 trials per class, the foundation-model
strategy and the classical pipeline a calibration would ship are chosen by 3-fold inner
cross-validation on the calibration trials.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
logger = logging.getLogger("bench_population")

#: (set name, config, files by glob under DATA)
SETS = {
    "muse-p300": ("muse-p300", "muse-p300/subject*/**/*.csv"),
    "muse-n170": ("muse-n170", "muse-n170/subject*/**/*.csv"),
    "myo-wrist-gestures": ("myo-wrist-gestures", "myo-wrist-gestures/right_hand/*/*.txt"),
}
CLASSICAL = {"erp": ["features", "xdawn_lda", "xdawn_ts"], "emg": ["features", "td_lda"]}
FOUNDATION = ["linear_probe"]


def _machine() -> str:
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}"
    )


def run_set(
    name: str,
    encoder: str = "default",
    n_per_class: list[int | None] | None = None,
    foundation: list[str] | None = None,
    pooled_only_foundation: bool = False,
    progress: bool = True,
    test_subjects: list[str] | None = None,
    classical: list[str] | None = None,
    pooled_foundation: bool = True,
) -> dict:
    """Leave-one-subject-out on one set; returns the result dict (rows, selection, summary).

    ``classical``: the classical candidates (default: the family's, ``[]`` for none);
    ``pooled_foundation``: also the pooled (``pop_``) foundation strategies.
    """
    from threadpoolctl import threadpool_limits

    from bci.config._calibration import CalibrationConfig
    from bci.config._load import load_config
    from bci.models.calibration._calibrate import _factory
    from bci.models.calibration._population import (
        conform,
        group_by_subject,
        leave_one_subject_out,
        load_subject,
    )

    cfg_name, pattern = SETS[name]
    cfg = load_config(ROOT / "configs" / f"calibrate_{cfg_name}.yaml", CalibrationConfig)
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={"encoder": encoder})})
    files = sorted(DATA.glob(pattern))
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        subjects = {s: load_subject(f, cfg, s) for s, f in group_by_subject(files).items()}
        ref = max(subjects.values(), key=lambda t: len(t.y))
        subjects = {s: conform(t, ref, s) for s, t in subjects.items()}
        load_s = time.perf_counter() - t0
        fm = foundation or FOUNDATION
        cl = CLASSICAL[cfg.family] if classical is None else classical
        cands = cl + ["pop_" + c for c in cl]
        cands += ([] if pooled_only_foundation else fm) + (
            ["pop_" + c for c in fm] if pooled_foundation else []
        )
        res = leave_one_subject_out(
            subjects,
            cfg,
            cands,
            lambda n, t: _factory(n, cfg, t),
            n_per_class=n_per_class or [5, 10, 20, 40, None],
            test_subjects=test_subjects,
            progress=progress,
        )
    res.update(
        set=name,
        subjects={s: t.counts() for s, t in subjects.items()},
        load_seconds=round(load_s, 1),
        seconds=round(time.perf_counter() - t0, 1),
        encoder=encoder,
        machine=_machine(),
        metric="AUC" if len(cfg.classes) == 2 else "accuracy",
    )
    return res


def markdown(results: list[dict]) -> str:
    """Tables of every set (:func:`bci.models.calibration._population.loso_markdown`)."""
    from bci.models.calibration._population import loso_markdown

    return loso_markdown(results)


def merge(parts: list[dict]) -> list[dict]:
    """Join results of one set run in several processes (``--test-subjects``) into one."""
    from bci.models.calibration._population import summarize

    by_set: dict[str, dict] = {}
    for r in parts:
        if r["set"] not in by_set:
            by_set[r["set"]] = {**r, "rows": list(r["rows"]), "selection": list(r["selection"])}
            continue
        m = by_set[r["set"]]
        m["rows"] += r["rows"]
        m["selection"] += r["selection"]
        m["seconds"] = max(m["seconds"], r["seconds"])
    for m in by_set.values():
        m["selection"].sort(key=lambda s: s["subject"])
        m["summary"] = summarize(m["rows"], m["selection"])
    return list(by_set.values())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--json", default=None, help="Write the results to this JSON file.")
    p.add_argument("--md", default=None, help="Write the Markdown tables to this file.")
    p.add_argument("--encoder", default="default", help="Pretrained encoder.pt (default: shipped).")
    p.add_argument(
        "--sizes", nargs="+", default=None, help="Trials per class ('all' for the whole pool)."
    )
    p.add_argument("--foundation", nargs="+", default=None, help="Foundation strategies.")
    p.add_argument(
        "--classical",
        nargs="*",
        default=None,
        help="Classical candidates (default: the set's; give the flag alone for none).",
    )
    p.add_argument(
        "--no-pooled-foundation",
        dest="pooled_foundation",
        action="store_false",
        help="Only the foundation strategies on the user's own trials (no pop_ ones).",
    )
    p.add_argument(
        "--test-subjects", nargs="+", default=None, help="Only these subjects as new users."
    )
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        help="Join the JSON files of runs split by --test-subjects instead of running.",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("bci.models", "bci.models.calibration._evaluate"):
        logging.getLogger(name).setLevel(logging.WARNING)
    sizes = None
    if args.sizes:
        sizes = [None if s == "all" else int(s) for s in args.sizes]
    results = []
    if args.merge:
        parts = [r for f in args.merge for r in json.loads(Path(f).read_text())]
        results = merge(parts)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    for name in [] if args.merge else args.only:
        results.append(
            run_set(
                name,
                args.encoder,
                sizes,
                args.foundation,
                test_subjects=args.test_subjects,
                classical=args.classical,
                pooled_foundation=args.pooled_foundation,
            )
        )
        logger.info("%s: %s", name, results[-1]["summary"])
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results)
    if args.md:
        Path(args.md).write_text(md + "\n")
    sys.stdout.write(md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
