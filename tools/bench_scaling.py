"""Scaling curve of the foundation encoder: held-out loss and linear-probe score vs data and size.

``python tools/bench_scaling.py --data runs/cache_all.npz --threads 1``

Every point pretrains a fresh encoder (random weights) by masked reconstruction with the
same compute budget (``--steps`` x ``--batch-size`` windows), on a seeded subset of whole
recordings adding up to ``--hours`` of training data (``all``: every training recording),
for each model size in ``--sizes`` (``DIMxDEPTH``; ``--extra-sizes`` only at the largest data
point). Each point is scored on

- the held-out masked-reconstruction MSE: the recordings, windows and masks of the run
  named by ``--holdout-from`` (its ``metrics.json``), so the channel-mean baseline is the same
  number for every point and for that run;
- the downstream linear probe: ``tools/bench_calibration.py``'s ``linear_probe`` strategy
  on every calibration set it finds (same folds and code as the calibration benchmark), as
  the mean over data sets of the per-set mean score (AUC for binary sets, accuracy
  otherwise).

Writes a JSON file, a Markdown table and a PNG. Points already measured in ``--out`` are
reused, so an interrupted run continues where it stopped.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("bench_scaling")


def parse_size(text: str) -> tuple[int, int]:
    """``"64x4"`` -> ``(64, 4)`` (width, depth); ValueError on anything else."""
    try:
        dim, depth = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"model size {text!r}: expected WIDTHxDEPTH, e.g. 64x4") from None
    if dim <= 0 or depth <= 0 or dim % 4:
        raise ValueError(f"model size {text!r}: width must be a positive multiple of 4")
    return dim, depth


def parse_hours(text: str) -> float | None:
    """``"all"`` -> None (every training recording), else a positive number of hours."""
    if text.lower() == "all":
        return None
    h = float(text)
    if h <= 0:
        raise ValueError(f"--hours {text}: must be positive or 'all'")
    return h


def plan(hours: list[str], sizes: list[str], extra_sizes: list[str]) -> list[dict]:
    """The points to measure: every ``hours`` x ``sizes``, plus ``extra_sizes`` at the last hours."""
    points = []
    for h in hours:
        for sz in sizes:
            points.append({"hours_arg": h, "size": sz})
    for sz in extra_sizes:
        if sz not in sizes:
            points.append({"hours_arg": hours[-1], "size": sz})
    for p in points:
        p["max_hours"] = parse_hours(p["hours_arg"])
        p["dim"], p["depth"] = parse_size(p["size"])
        p["name"] = f"h{p['hours_arg']}_d{p['dim']}x{p['depth']}"
    return points


def mean_over_sets(rows: list[dict], strategy: str = "linear_probe") -> dict[str, float | None]:
    """Mean of ``strategy``'s score over scenarios and over data sets (per-set mean first).

    Data sets are the first part of the scenario name (``muse-p300/subject1`` ->
    ``muse-p300``), as in the calibration benchmark's pretrained-vs-scratch table.
    """
    scored = [r for r in rows if strategy in r.get("strategies", {})]
    if not scored:
        return {"mean_over_scenarios": None, "mean_over_sets": None, "n_sets": 0}
    by_set: dict[str, list[float]] = {}
    for r in scored:
        by_set.setdefault(r["name"].split("/")[0], []).append(r["strategies"][strategy])
    per_set = [sum(v) / len(v) for v in by_set.values()]
    return {
        "mean_over_scenarios": sum(r["strategies"][strategy] for r in scored) / len(scored),
        "mean_over_sets": sum(per_set) / len(per_set),
        "n_sets": len(per_set),
    }


def _calibration_bench():  # noqa: ANN202 (the tools/bench_calibration.py module)
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import bench_calibration
    finally:
        sys.path.pop(0)
    return bench_calibration


def probe(encoder: str | Path) -> list[dict]:
    """Linear-probe rows of the calibration benchmark for ``encoder`` (empty without the data)."""
    return _calibration_bench().run(encoder=str(encoder), strategies=["linear_probe"], fast=True)


def run_point(
    point: dict, segments: list, args: argparse.Namespace, out: Path, do_probe: bool
) -> dict:
    """Pretrain and score one point; reuse ``out/NAME/point.json`` when it is there."""
    from bci.models._encoder import EncoderConfig
    from bci.models._pretrain import PretrainSettings, pretrain

    folder = out / point["name"]
    done = folder / "point.json"
    if done.is_file():
        old = json.loads(done.read_text())
        if old.get("budget") == budget(args) and (old.get("probe") is not None or not do_probe):
            logger.info("%s: reusing %s", point["name"], done)
            return old
    s = PretrainSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_every=args.steps,
        eval_windows=args.eval_windows,
        eval_batch_size=args.eval_batch_size,
        seed=args.seed,
        filter_prob=args.filter_prob,
        holdout_from=args.holdout_from,
        max_hours=point["max_hours"],
        encoder=EncoderConfig(dim=point["dim"], depth=point["depth"]).to_dict(),
    )
    t0 = time.perf_counter()
    m = pretrain(segments, folder, s, progress=args.progress)
    pre_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "name": point["name"],
        "hours_arg": point["hours_arg"],
        "size": point["size"],
        "dim": point["dim"],
        "depth": point["depth"],
        "n_params": m["n_params"],
        "train_hours": round(m["train_hours"], 3),
        "n_train_recordings": len(m["train_recordings"]),
        "heldout_loss": m["heldout_loss"],
        "baseline_loss": m["baseline_loss"],
        "relative_reduction": m["relative_reduction"],
        "pretrain_seconds": round(pre_s, 1),
        "budget": budget(args),
        "probe": None,
    }
    if do_probe:
        t0 = time.perf_counter()
        rows = probe(folder / "encoder.pt")
        row["probe_seconds"] = round(time.perf_counter() - t0, 1)
        row["probe_rows"] = [{"name": r["name"], **r["strategies"]} for r in rows]
        row["probe"] = mean_over_sets(rows) if rows else None
    folder.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(row, indent=1) + "\n")
    return row


def run_random(size: str, segments: list, args: argparse.Namespace, out: Path, do_probe: bool):
    """The control of one size: its randomly initialised encoder (no pretraining), scored alike."""
    import torch

    from bci.models._encoder import EncoderConfig
    from bci.models._pretrain import (
        MaskedModel,
        PretrainSettings,
        evaluate,
        heldout_sources,
        split_fixed,
        split_segments,
    )
    from bci.models._weights import save_encoder

    dim, depth = parse_size(size)
    folder = out / f"random_d{dim}x{depth}"
    done = folder / "point.json"
    if done.is_file():
        old = json.loads(done.read_text())
        if old.get("seed") == args.seed and (old.get("probe") is not None or not do_probe):
            return old
    s = PretrainSettings(
        batch_size=args.batch_size,
        eval_windows=args.eval_windows,
        eval_batch_size=args.eval_batch_size,
        seed=args.seed,
        encoder=EncoderConfig(dim=dim, depth=depth).to_dict(),
    )
    if args.holdout_from:
        _, held = split_fixed(segments, heldout_sources(args.holdout_from))
    else:
        _, held = split_segments(segments, s.holdout, s.seed)
    torch.manual_seed(args.seed)  # the same initial weights as the pretrained points
    model = MaskedModel(EncoderConfig(**s.encoder))
    ev = evaluate(model, held, s, "cpu")
    save_encoder(model.encoder, folder / "encoder.pt", steps=0, random_init=True)
    row: dict[str, Any] = {
        "name": folder.name,
        "size": size,
        "dim": dim,
        "depth": depth,
        "seed": args.seed,
        "n_params": sum(p.numel() for p in model.encoder.parameters()),
        "heldout_loss": ev["heldout_loss"],
        "baseline_loss": ev["baseline_loss"],
        "probe": None,
    }
    if do_probe:
        t0 = time.perf_counter()
        rows = probe(folder / "encoder.pt")
        row["probe_seconds"] = round(time.perf_counter() - t0, 1)
        row["probe_rows"] = [{"name": r["name"], **r["strategies"]} for r in rows]
        row["probe"] = mean_over_sets(rows) if rows else None
    done.write_text(json.dumps(row, indent=1) + "\n")
    return row


def budget(args: argparse.Namespace) -> dict:
    """The compute budget of every point (stored so reused points match)."""
    return {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "windows": args.steps * args.batch_size,
        "window_seconds": 2.0,
        "lr": args.lr,
        "filter_prob": args.filter_prob,
        "seed": args.seed,
    }


def reference(path: Path) -> dict | None:
    """Held-out loss of a shipped encoder's ``metrics.json`` (same held-out windows)."""
    if not path.is_file():
        return None
    m = json.loads(path.read_text())
    return {"heldout_loss": m["heldout_loss"], "baseline_loss": m["baseline_loss"]}


def _probe_score(r: dict) -> float | None:
    return None if r.get("probe") is None else r["probe"]["mean_over_sets"]


def markdown(result: dict) -> str:
    """The measured points as a Markdown table, with the machine and budget underneath."""
    lines = [
        "| training data (h) | recordings | model (width x depth) | parameters "
        "| held-out masked MSE | vs baseline | linear probe (mean over sets) | pretrain s | probe s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["points"]:
        score = _probe_score(r)
        lines.append(
            f"| {r['train_hours']:.2f} ({r['hours_arg']}) | {r['n_train_recordings']} "
            f"| {r['dim']} x {r['depth']} | {r['n_params']:,} | {r['heldout_loss']:.4f} "
            f"| {-100 * r['relative_reduction']:+.1f} % "
            f"| {'' if score is None else f'{score:.4f}'} | {r['pretrain_seconds']:.0f} "
            f"| {r.get('probe_seconds', '')} |"
        )
    for r in result.get("random_init", []):
        score = _probe_score(r)
        lines.append(
            f"| none (random weights) | 0 | {r['dim']} x {r['depth']} | {r['n_params']:,} "
            f"| {r['heldout_loss']:.4f} "
            f"| {100 * (r['heldout_loss'] / r['baseline_loss'] - 1):+.1f} % "
            f"| {'' if score is None else f'{score:.4f}'} | 0 | {r.get('probe_seconds', '')} |"
        )
    b = result["budget"]
    base = result["points"][0]["baseline_loss"] if result["points"] else float("nan")
    lines.append(
        f"\nBudget per point: {b['steps']} steps x {b['batch_size']} windows of 2 s "
        f"({b['windows']:,} windows), AdamW lr {b['lr']}, filter augmentation p = "
        f"{b['filter_prob']}, seed {b['seed']}, from random weights. Channel-mean baseline on "
        f"the held-out windows: {base:.4f}. Machine: {result['machine']}, "
        f"{result['threads']} torch thread(s); wall time {result['wall_seconds'] / 60:.1f} min."
    )
    for k, ref in result.get("references", {}).items():
        if ref:
            extra = (
                f", linear probe {ref['probe_mean_over_sets']:.4f}"
                if ref.get("probe_mean_over_sets") is not None
                else ""
            )
            lines.append(f"\nReference {k}: held-out {ref['heldout_loss']:.4f}{extra}.")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """Four panels: loss and probe score vs training hours (log x) and vs parameters (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 11))
    base = pts[0]["baseline_loss"] if pts else None
    refs = result.get("references", {})
    sizes = sorted({(p["dim"], p["depth"]) for p in pts})
    colors = {sz: f"C{i}" for i, sz in enumerate(sizes)}
    for dim, depth in sizes:
        line = sorted(
            (p for p in pts if (p["dim"], p["depth"]) == (dim, depth)),
            key=lambda p: p["train_hours"],
        )
        n = line[0]["n_params"]
        label = f"{dim} x {depth} ({n / 1000:.0f} k params)"
        hx = [p["train_hours"] for p in line]
        axes[0, 0].plot(
            hx, [p["heldout_loss"] for p in line], "o-", color=colors[(dim, depth)], label=label
        )
        sc = [(p["train_hours"], _probe_score(p)) for p in line if _probe_score(p) is not None]
        if sc:
            axes[0, 1].plot(*zip(*sc, strict=True), "o-", color=colors[(dim, depth)], label=label)
    top = max(p["train_hours"] for p in pts) if pts else 1.0
    at_top = sorted((p for p in pts if p["train_hours"] == top), key=lambda p: p["n_params"])
    axes[1, 0].plot(
        [p["n_params"] for p in at_top],
        [p["heldout_loss"] for p in at_top],
        "o-",
        color="k",
        label=f"{top:.2f} h of training data",
    )
    sc = [(p["n_params"], _probe_score(p)) for p in at_top if _probe_score(p) is not None]
    if sc:
        axes[1, 1].plot(
            *zip(*sc, strict=True), "o-", color="k", label=f"{top:.2f} h of training data"
        )
    for ax in (axes[0, 0], axes[1, 0]):
        if base is not None:
            ax.axhline(base, ls="--", color="grey", label=f"channel-mean baseline ({base:.3f})")
        for k, ref in refs.items():
            if ref:
                ax.axhline(
                    ref["heldout_loss"],
                    ls=":",
                    color="tab:red" if "v2" in k else "tab:purple",
                    label=f"{k} ({ref['heldout_loss']:.4f})",
                )
        ax.set_ylabel("held-out masked MSE (normalised units)")
    for r in result.get("random_init", []):
        sc = _probe_score(r)
        if sc is not None:
            axes[0, 1].axhline(
                sc,
                ls="-.",
                lw=1,
                color=colors.get((r["dim"], r["depth"]), "grey"),
                label=f"{r['dim']} x {r['depth']} random weights ({sc:.3f})",
            )
            axes[1, 1].plot(
                [r["n_params"]],
                [sc],
                "x",
                color="grey",
                ms=8,
                label="random weights" if r is result["random_init"][0] else None,
            )
    for ax in (axes[0, 1], axes[1, 1]):
        for k, ref in refs.items():
            if ref and ref.get("probe_mean_over_sets") is not None:
                ax.axhline(
                    ref["probe_mean_over_sets"],
                    ls=":",
                    color="tab:red",
                    label=f"{k} ({ref['probe_mean_over_sets']:.3f})",
                )
        ax.set_ylabel("linear probe, mean over sets (AUC / accuracy)")
    from matplotlib.ticker import NullFormatter

    hours = sorted({p["train_hours"] for p in pts})
    params = sorted(
        {p["n_params"] for p in pts} | {r["n_params"] for r in result.get("random_init", [])}
    )
    for row, ticks, labels, xlabel in (
        (axes[0], hours, [f"{h:.2g}" for h in hours], "pretraining data (hours, log scale)"),
        (axes[1], params, [f"{n / 1000:.0f} k" for n in params], "encoder parameters (log scale)"),
    ):
        for ax in row:
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            if ticks:
                ax.set_xticks(ticks, labels)
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlim(min(ticks) / 1.3, max(ticks) * 1.3)
    for ax in axes.flat:
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    b = result["budget"]
    fig.suptitle(
        f"Scaling at a fixed budget of {b['steps']} steps x {b['batch_size']} windows per point",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def load_data(args: argparse.Namespace) -> list:
    """Segments from a cache, recordings, and/or simulated participants."""
    from bci.models._data import load_cache, load_segments, simulated_segments

    segs: list = []
    for d in args.data or []:
        segs += load_cache(d) if str(d).endswith(".npz") else load_segments([d])
    for i in range(args.simulated_recordings):
        segs += simulated_segments(args.simulated_minutes, seed=1000 + i)
    if not segs:
        raise SystemExit("no data: pass --data CACHE.npz|PATH or --simulated-recordings N")
    if args.cache:
        from bci.models._data import save_cache

        save_cache(segs, args.cache)
        logger.info("prepared data written to %s", args.cache)
    return segs


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data",
        nargs="*",
        default=None,
        help="prepared data (.npz from `bci pretrain --cache`) or recording folders",
    )
    p.add_argument(
        "--simulated-recordings",
        type=int,
        default=0,
        help="add this many simulated participants (seeds 1000, 1001, ...)",
    )
    p.add_argument(
        "--simulated-minutes", type=float, default=20.0, help="minutes per simulated participant"
    )
    p.add_argument(
        "--cache",
        default=None,
        help="also write the prepared data to this .npz (pass it as --data next time)",
    )
    p.add_argument(
        "--holdout-from",
        default=str(ROOT / "models/weights/metrics.json"),
        help="hold out exactly this run's recordings ('none': a seeded 15 %% split)",
    )
    p.add_argument(
        "--hours",
        nargs="+",
        default=["0.5", "1", "2", "all"],
        help="training hours per point ('all': every training recording)",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        default=["64x4", "32x2"],
        help="encoder WIDTHxDEPTH measured at every --hours",
    )
    p.add_argument(
        "--extra-sizes",
        nargs="*",
        default=["96x4"],
        help="encoder sizes measured only at the last --hours",
    )
    p.add_argument("--steps", type=int, default=1500, help="optimiser steps per point")
    p.add_argument("--batch-size", type=int, default=64, help="windows per step")
    p.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate")
    p.add_argument(
        "--filter-prob",
        type=float,
        default=0.5,
        help="share of batches band-passed at random (as for the shipped encoder)",
    )
    p.add_argument("--eval-windows", type=int, default=512, help="held-out windows")
    p.add_argument(
        "--eval-batch-size",
        type=int,
        default=256,
        help="held-out batch (the held-out windows depend on it; 256 as v2/v3)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-probe", action="store_true", help="skip the downstream linear probe")
    p.add_argument(
        "--no-random-init",
        dest="random_init",
        action="store_false",
        help="skip the control: each size's randomly initialised encoder, not trained",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("-o", "--out", default=str(ROOT / "runs/scaling"), help="per-point folders")
    p.add_argument("--json", default=str(ROOT / "docs/bench/scaling.json"))
    p.add_argument("--md", default=str(ROOT / "docs/bench/scaling.md"))
    p.add_argument("--png", default=str(ROOT / "docs/bench/scaling.png"))
    p.add_argument(
        "--replot", action="store_true", help="only rewrite --md and --png from an existing --json"
    )
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    _calibration_bench().quiet_logging("bench_calibration")
    if args.replot:
        result = json.loads(Path(args.json).read_text())
        Path(args.md).write_text(markdown(result))
        plot(result, Path(args.png))
        sys.stdout.write(markdown(result))
        return 0
    if args.holdout_from.lower() == "none":
        args.holdout_from = None
    try:
        points = plan(args.hours, args.sizes, args.extra_sizes)
    except ValueError as e:
        p.error(str(e))
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    segs = load_data(args)
    out = Path(args.out)
    t0 = time.perf_counter()
    rows = []
    bar = tqdm(points, desc="scaling points", disable=not args.progress)
    for pt in bar:
        bar.set_postfix(point=pt["name"])
        rows.append(run_point(pt, segs, args, out, do_probe=not args.no_probe))
        logger.info(
            "%s: held-out %.4f, probe %s",
            pt["name"],
            rows[-1]["heldout_loss"],
            _probe_score(rows[-1]),
        )
    controls = []
    if args.random_init:
        sizes = list(dict.fromkeys(args.sizes + args.extra_sizes))
        for sz in tqdm(sizes, desc="random-weight controls", disable=not args.progress):
            controls.append(run_random(sz, segs, args, out, do_probe=not args.no_probe))
            logger.info(
                "random %s: held-out %.4f, probe %s",
                sz,
                controls[-1]["heldout_loss"],
                _probe_score(controls[-1]),
            )
    refs: dict[str, Any] = {}
    if args.holdout_from:
        weights = ROOT / "models/weights"
        for key, fname in (
            ("v2 (shipped, longer training)", "metrics.json"),
            ("v3", "metrics_v3.json"),
        ):
            ref = reference(weights / fname)
            if ref and rows and abs(ref["baseline_loss"] - rows[0]["baseline_loss"]) < 1e-6:
                refs[key] = ref
        cal = ROOT / "docs/bench/calibration.json"
        if cal.is_file() and refs:
            v2 = mean_over_sets(json.loads(cal.read_text()))["mean_over_sets"]
            refs[next(iter(refs))]["probe_mean_over_sets"] = v2
    result = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cpu "
        f"(shared), Python {platform.python_version()}, torch {torch.__version__}",
        "threads": args.threads,
        "budget": budget(args),
        "holdout_from": args.holdout_from,
        "eval_windows": args.eval_windows,
        "eval_batch_size": args.eval_batch_size,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "compute_seconds": round(
            sum(r["pretrain_seconds"] + r.get("probe_seconds", 0.0) for r in rows), 1
        ),
        "points": rows,
        "random_init": controls,
        "references": refs,
    }
    for path in (args.json, args.md, args.png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    Path(args.md).write_text(markdown(result))
    plot(result, Path(args.png))
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
