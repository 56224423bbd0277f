"""Benchmark: is the in-silico model why the closed loop works? Ablations and target control.

Every simulated participant (``sources[0].seed`` = ``closed_loop.seed`` = participant) runs
every arm below with the default configuration (``configs/closed_loop.yaml``) and only the
named switches changed. The participant is the unit of the statistics: each arm's rounds are
averaged within a participant, and arms are compared over participants with a one-sided
Wilcoxon signed-rank test.

Maximize the measured SSVEP amplitude (the measured objective: mean over rounds of the
response to the stimulus the arm chose that round):

- ``fitted``: the closed loop (ridge readout refitted every round, Adam through the model);
- ``shuffled``: readout fitted on responses permuted across stimuli;
- ``untrained``: the front end with a fixed random readout;
- ``cmaes``: CMA-ES on measured responses only (same number of presentations);
- ``random_search``: a new random calibration-like stimulus per presentation;
- ``open_loop``: readout fitted once on the calibration trials.

Hold the response at a target (``objective: target``, ``target_reference: calibration``):
closed loop (refit + integral correction) vs open loop, with the default front end and with a
mis-specified one (centre frequencies one octave lower, every second orientation removed);
the random baseline shown in the same rounds is the third row. Tracking error: mean
``|measured - target|`` over the last 10 rounds.

Usage::

    python tools/bench_closed_loop.py                   # 10 participants x 20 rounds
    python tools/bench_closed_loop.py --quick           # 2 x 3, few steps (a smoke run)
    python tools/bench_closed_loop.py --figures-only    # tables + plots from the JSON

Writes ``<out>.json`` (every run's numbers; rewritten after each run) and, from that JSON
only, ``<out>.md`` and ``<out>_*.png`` (figures rounded to 0.1 uV). Single-threaded (torch,
BLAS): the figures are bit-identical for the same seed on the same machine.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the mis-specified in-silico model: preferred spatial frequencies one octave lower than the
#: default (3, 6, 12, 24 cycles per image) and half the orientations (4 instead of 8)
MISSPECIFIED = {"frequencies": [1.5, 3.0, 6.0, 12.0], "n_orient": 4}
#: requested level for target control: this multiple of the participant's median response to
#: the calibration stimuli
TARGET = {"objective": "target", "target": [4.0], "target_reference": "calibration"}

ARMS: dict[str, dict] = {
    "fitted": {},
    "shuffled": {"model": {"readout": "shuffled"}},
    "untrained": {"model": {"readout": "untrained"}},
    "cmaes": {"optimizer": {"method": "cmaes"}},
    "random_search": {"optimizer": {"method": "random"}},
    "open_loop": {"model": {"update": "once"}},
    "target_closed": {"optimizer": TARGET, "baselines": ["random"]},
    "target_open": {"optimizer": TARGET, "model": {"update": "once"}, "baselines": ["random"]},
    "target_closed_misspecified": {
        "optimizer": TARGET,
        "model": MISSPECIFIED,
        "baselines": ["random"],
    },
    "target_open_misspecified": {
        "optimizer": TARGET,
        "model": {**MISSPECIFIED, "update": "once"},
        "baselines": ["random"],
    },
}
MAXIMIZE = ["fitted", "shuffled", "untrained", "cmaes", "random_search", "open_loop"]
LABELS = {
    "fitted": "closed loop, fitted readout (gradient)",
    "shuffled": "shuffled readout",
    "untrained": "untrained (fixed random) readout",
    "cmaes": "CMA-ES on measured responses",
    "random_search": "random search",
    "open_loop": "open loop (readout fitted once)",
}
QUICK = {"calibration_trials": 8, "calibration_repeats": 3, "optimizer": {"steps": 15}}

logger = logging.getLogger("bench_closed_loop")


def _machine() -> str:
    import torch

    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu (shared), "
        f"py{platform.python_version()}, torch {torch.__version__} {torch.get_num_threads()} thread"
    )


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def _config(
    config: Path, participant: int, rounds: int, arm: dict, quick: bool, level: float | None = None
):
    from bci.config import load_config

    cfg = load_config(config)
    cl = cfg.closed_loop.model_dump()
    cl = _merge(cl, {"seed": participant, "rounds": rounds, "mode": "offline"})
    if quick:
        cl = _merge(cl, QUICK)
    cl = _merge(cl, arm)
    if level is not None and cl["optimizer"].get("objective") == "target":
        cl["optimizer"]["target"] = [float(level)]
    source = cfg.sources[0].model_copy(update={"seed": participant, "paradigm": "none"})
    from bci.config._closed_loop import ClosedLoopConfig

    return ClosedLoopConfig(**cl), source


def run_one(
    config: Path,
    participant: int,
    arm: str,
    rounds: int,
    quick: bool,
    calibrations: dict | None = None,
    level: float | None = None,
) -> dict:
    """One participant x one arm: the summary numbers (no trial data).

    ``calibrations`` caches the calibration of each participant: every gradient arm shows the
    same calibration stimuli to the same participant, so a later arm continues from a copy
    (the same trials and random states; its rounds are exactly those of a fresh run).
    """
    import numpy as np

    from bci.stimuli._loop import ClosedLoop, OfflineParticipant
    from bci.stimuli._loop_report import summarize

    cl, source = _config(config, participant, rounds, ARMS[arm], quick, level)
    t0 = time.perf_counter()
    loop = ClosedLoop(cl, OfflineParticipant(source, cl, cl.seed))
    if calibrations is not None and loop.search is None:
        state = calibrations.get(participant)
        if state is not None and state["key"] == loop._calibration_key():
            loop.restore_calibration(state)
        else:
            loop.calibrate()
            calibrations[participant] = loop.calibration_state()
    loop.run()
    s = summarize(loop.result(), cl)
    seconds = time.perf_counter() - t0
    table = loop.result().table()
    return {
        "participant": participant,
        "arm": arm,
        "mean_measured": s["mean_measured"],
        "per_round": {c: [float(x) for x in v] for c, v in table.items()},
        "validity": s["validity"],
        "prediction": s["prediction"],
        "adaptation": s["adaptation"],
        "target": s.get("target"),
        "timing": {**s["timing"], "run_seconds": seconds},
        "presentations": int(sum(np.isfinite(t.measured) for t in loop.trials)),
    }


def _wilcoxon(a: list[float], b: list[float]) -> float | None:
    """One-sided Wilcoxon signed-rank p-value that ``a > b`` (paired by participant)."""
    from scipy import stats

    d = [x - y for x, y in zip(a, b, strict=True)]
    if len(d) < 2 or all(x == 0 for x in d):
        return None
    return float(stats.wilcoxon(a, b, alternative="greater").pvalue)


def statistics(data: dict) -> dict:
    """Per-arm participant means and the paired tests, from the benchmark JSON only."""
    import numpy as np

    runs = data["runs"]
    done = {(r["participant"], r["arm"]) for r in runs}

    def complete(arms: list[str]) -> list[int]:
        """Participants with every one of ``arms`` (a comparison is paired)."""
        every = sorted({r["participant"] for r in runs})
        return [p for p in every if all((p, a) in done for a in arms)]

    present = [a for a in MAXIMIZE if any(r["arm"] == a for r in runs)]
    parts = complete(present)

    def get(arm: str, fn, among: list[int] | None = None) -> list[float] | None:
        among = parts if among is None else among
        by = {r["participant"]: r for r in runs if r["arm"] == arm}
        if not among or not all(p in by for p in among):
            return None
        return [fn(by[p]) for p in among]

    out: dict = {"participants": parts, "maximize": {}, "target": {}, "validity": {}}
    main = get("fitted", lambda r: r["mean_measured"]["optimized"])
    for arm in MAXIMIZE:
        vals = get(arm, lambda r: r["mean_measured"]["optimized"])
        if vals is None:
            continue
        row = {"per_participant": vals, "mean": float(np.mean(vals))}
        if arm != "fitted" and main is not None:
            row["p_fitted_greater"] = _wilcoxon(main, vals)
            row["wins"] = int(sum(m > v for m, v in zip(main, vals, strict=True)))
        out["maximize"][arm] = row
    for base in ("random", "grating"):
        vals = get("fitted", lambda r, b=base: r["mean_measured"].get(b, float("nan")))
        if vals is not None and main is not None:
            out["maximize"][f"baseline_{base}"] = {
                "per_participant": vals,
                "mean": float(np.mean(vals)),
                "p_fitted_greater": _wilcoxon(main, vals),
                "wins": int(sum(m > v for m, v in zip(main, vals, strict=True))),
            }
    for model in ("", "_misspecified"):
        among = complete([f"target_closed{model}", f"target_open{model}"])
        if not among:
            continue

        def tget(arm: str, fn, among=among) -> list:
            return get(arm, fn, among)

        closed = tget(
            f"target_closed{model}", lambda r: r["target"]["tracking_error_last"]["optimized"]
        )
        opened = tget(
            f"target_open{model}", lambda r: r["target"]["tracking_error_last"]["optimized"]
        )
        rand = tget(f"target_closed{model}", lambda r: r["target"]["tracking_error_last"]["random"])
        name = "misspecified" if model else "default"
        per_round = {
            arm: np.mean(
                tget(
                    f"target_{arm}{model}",
                    lambda r: r["target"]["tracking_error_per_round"]["optimized"],
                ),
                axis=0,
            ).tolist()
            for arm in ("closed", "open")
        }
        per_round["random"] = np.mean(
            tget(
                f"target_closed{model}",
                lambda r: r["target"]["tracking_error_per_round"]["random"],
            ),
            axis=0,
        ).tolist()
        levels = tget(f"target_closed{model}", lambda r: r["target"]["level"])
        out["target"][name] = {
            "participants": among,
            "closed": closed,
            "open": opened,
            "random": rand,
            "levels": levels,
            "mean_level": float(np.mean(levels)),
            "mean_closed": float(np.mean(closed)),
            "mean_open": float(np.mean(opened)),
            "mean_random": float(np.mean(rand)),
            "ratio_closed_open": float(np.mean(closed) / np.mean(opened)),
            "p_open_greater": _wilcoxon(opened, closed),
            "p_random_greater": _wilcoxon(rand, closed),
            "per_round": per_round,
        }
        # a target above what the maximize arm reached for that participant cannot be held
        reach = {
            r["participant"]: r["mean_measured"]["optimized"] for r in runs if r["arm"] == "fitted"
        }
        ok = [k for k, p in enumerate(among) if p in reach and levels[k] <= reach[p]]
        if ok:
            c, o = [closed[k] for k in ok], [opened[k] for k in ok]
            out["target"][name]["reachable"] = {
                "participants": [among[k] for k in ok],
                "mean_closed": float(np.mean(c)),
                "mean_open": float(np.mean(o)),
                "mean_random": float(np.mean([rand[k] for k in ok])),
                "ratio_closed_open": float(np.mean(c) / np.mean(o)),
                "p_open_greater": _wilcoxon(o, c),
            }
    for key in ("r", "r2", "ceiling_r", "repeat_r", "noise_sd"):
        vals = get("fitted", lambda r, k=key: r["validity"].get(k))
        if vals is not None and all(v is not None for v in vals):
            out["validity"][key] = {"per_participant": vals, "median": float(np.median(vals))}
    pred = get("fitted", lambda r: r["prediction"]["optimized"]["r"])
    if pred is not None:
        out["validity"]["optimized_r"] = {
            "per_participant": pred,
            "median": float(np.median([p for p in pred if p is not None] or [np.nan])),
        }
    adapt = get("fitted", lambda r: r["adaptation"]["position_relative"])
    if adapt is not None:
        pos = sorted({k for a in adapt for k in a}, key=int)
        out["adaptation"] = {
            k: float(np.exp(np.mean([np.log(a[k]) for a in adapt if k in a]))) for k in pos
        }
    return out


def _p(p: float | None) -> str:
    return "n/a" if p is None else (f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}")


def markdown(data: dict) -> str:
    """The benchmark tables (figures rounded to 0.1 uV), from the benchmark JSON only."""
    st = statistics(data)
    meta = data["meta"]
    n = len(st["participants"])
    lines = [
        f"Closed-loop benchmark: {n} simulated participant(s) x {meta['rounds']} rounds, seed "
        f"{meta['seed']} (participants {meta['seed']}..{meta['seed'] + n - 1}); "
        f"`{meta['command']}`; {meta['machine']}.",
        "",
        "### Maximize the measured SSVEP amplitude",
        "",
        "Mean over participants of each participant's mean measured response (over rounds) to "
        "the stimulus its arm chose; p: one-sided Wilcoxon signed-rank over participants that "
        "the closed loop with the fitted readout is higher; wins: participants where it is.",
        "",
        "| arm | measured (uV) | p (fitted > arm) | wins |",
        "|---|---|---|---|",
    ]
    for arm, row in st["maximize"].items():
        label = LABELS.get(arm, f"baseline: {arm.removeprefix('baseline_')} stimulus")
        p = "" if arm == "fitted" else _p(row.get("p_fitted_greater"))
        wins = "" if arm == "fitted" else f"{row.get('wins')}/{n}"
        lines.append(f"| {label} | {row['mean']:.1f} | {p} | {wins} |")
    first = [r for r in data["runs"] if r["arm"] == "fitted" and r["participant"] == meta["seed"]]
    if first and not meta.get("quick"):
        m = first[0]["mean_measured"]
        v = first[0]["validity"]
        lines[2:2] = [
            f"Default participant (seed {meta['seed']}): `bci run configs/closed_loop.yaml` gives "
            f"the same run: mean measured {m['optimized']:.1f} (optimized) / "
            f"{m.get('grating', float('nan')):.1f} (grating) / "
            f"{m.get('random', float('nan')):.1f} (random) uV over {meta['rounds']} rounds; "
            f"readout held-out r = {v['r']:.2f} (noise ceiling {v['ceiling_r']:.2f}).",
            "",
        ]
    ties = [
        LABELS.get(a, f"the {a.removeprefix('baseline_')} baseline")
        for a, row in st["maximize"].items()
        if a != "fitted"
        and (row.get("p_fitted_greater") is None or row["p_fitted_greater"] >= 0.01)
    ]
    lines += [
        "",
        "Not beaten at p < 0.01: " + (", ".join(ties) if ties else "none") + ".",
        "",
    ]
    if not st["maximize"]:  # a target-only run
        lines = lines[: lines.index("### Maximize the measured SSVEP amplitude")]
    if st["target"]:
        lines += [
            "### Hold the response at a target",
            "",
            f"Target: {meta['target']['target'][0]:g} x the participant's median calibration "
            "response. "
            "Mean absolute tracking error over the last 10 rounds (uV), mean over participants; "
            "p: one-sided Wilcoxon that the other arm's error is larger.",
            "",
            "| in-silico model | participants | target (uV) | closed loop | open loop | random "
            "| closed / open | p (open > closed) | p (random > closed) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, t in st["target"].items():
            lines.append(
                f"| {name} | {len(t['participants'])} | {t['mean_level']:.1f} | "
                f"{t['mean_closed']:.1f} | {t['mean_open']:.1f} | "
                f"{t['mean_random']:.1f} | {t['ratio_closed_open']:.2f} | "
                f"{_p(t['p_open_greater'])} | {_p(t['p_random_greater'])} |"
            )
        subset = False
        for name, t in st["target"].items():
            r = t.get("reachable")
            if r and len(r["participants"]) < len(t["participants"]):
                subset = True
                lines.append(
                    f"| {name}, reachable targets only | {len(r['participants'])} | | "
                    f"{r['mean_closed']:.1f} | {r['mean_open']:.1f} | {r['mean_random']:.1f} | "
                    f"{r['ratio_closed_open']:.2f} | {_p(r['p_open_greater'])} | |"
                )
        if subset:
            lines += [
                "",
                "Reachable targets only: participants whose target is at most the mean response the "
                "maximize arm (closed loop, fitted readout) reached; a subset chosen after the run, "
                "not part of the pre-specified comparison.",
            ]
        lines.append("")
    v = st["validity"]
    if v:
        lines += [
            "### Model validity (closed loop, fitted readout)",
            "",
            "| figure | median over participants | range |",
            "|---|---|---|",
        ]
        names = {
            "r": "held-out r on calibration stimuli",
            "r2": "held-out explained variance",
            "ceiling_r": "noise ceiling on r",
            "repeat_r": "repeat-to-repeat r",
            "noise_sd": "trial-to-trial noise SD (uV)",
            "optimized_r": "r, predicted vs measured, optimized stimuli",
        }
        for k, label in names.items():
            if k in v:
                vals = [x for x in v[k]["per_participant"] if x is not None]
                if not vals:
                    continue
                lines.append(
                    f"| {label} | {v[k]['median']:.2f} | {min(vals):.2f} .. {max(vals):.2f} |"
                )
        lines.append("")
    if st.get("adaptation"):
        lines += [
            "Response by position in a block relative to the first (geometric mean over "
            "participants): "
            + ", ".join(f"position {k}: {x:.2f}" for k, x in st["adaptation"].items())
            + ".",
            "",
        ]
    return "\n".join(lines)


def figures(data: dict, out: Path) -> list[Path]:
    """Plots from the benchmark JSON only: ``<out>_maximize.png``, ``<out>_target.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    st = statistics(data)
    paths = []
    rows = [(a, r) for a, r in st["maximize"].items()]
    if rows:
        fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
        for i, (_arm, r) in enumerate(rows):
            vals = np.round(r["per_participant"], 1)
            ax.scatter(np.full(len(vals), i), vals, s=14, color="0.5", zorder=2)
            ax.plot([i - 0.3, i + 0.3], [round(r["mean"], 1)] * 2, "k-", lw=2, zorder=3)
        if "baseline_random" in st["maximize"]:
            ax.axhline(
                round(st["maximize"]["baseline_random"]["mean"], 1),
                color="tab:red",
                ls="--",
                lw=1,
                label="random stimuli (chance level)",
            )
            ax.legend(fontsize=8, loc="upper right")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(
            [
                LABELS.get(a, f"{a.removeprefix('baseline_')} stimulus (baseline)").replace(
                    " (", "\n("
                )
                for a, _ in rows
            ],
            fontsize=7,
            rotation=20,
            ha="right",
        )
        ax.set_ylabel("measured SSVEP amplitude (uV)\nmean over rounds, per participant")
        ax.set_title(f"maximize: {len(st['participants'])} participants (dots), mean (bar)")
        p = out.with_name(out.name + "_maximize.png")
        fig.savefig(p, dpi=90, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)
    if st["target"]:
        names = list(st["target"])
        fig, axes = plt.subplots(
            1, len(names), figsize=(5.5 * len(names), 4), layout="constrained", squeeze=False
        )
        for ax, name in zip(axes[0], names, strict=True):
            t = st["target"][name]
            for arm, style in (("closed", "o-"), ("open", "s-"), ("random", "^:")):
                y = np.round(t["per_round"][arm], 1)
                ax.plot(
                    np.arange(1, len(y) + 1),
                    y,
                    style,
                    ms=4,
                    label=f"{arm} loop" if arm != "random" else "random stimuli",
                )
            ax.axhline(0, color="k", lw=0.8)
            n_rounds = len(t["per_round"]["closed"])
            ax.axvspan(
                max(0.5, n_rounds - 9.5),
                n_rounds + 0.5,
                color="0.9",
                zorder=0,
                label="rounds averaged in the table",
            )
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(
                xlabel="round",
                ylabel="|measured - target| (uV), mean over participants",
                title=f"target control, {name.replace('misspecified', 'mis-specified')} model",
            )
            ax.legend(fontsize=8)
        p = out.with_name(out.name + "_target.png")
        fig.savefig(p, dpi=90, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)
    return paths


DOCS = ROOT / "docs" / "closed_loop_validity.md"
MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


def markers(stem: str = "closed_loop") -> tuple[str, str]:
    """The docs page's markers around the table of the benchmark ``<stem>.json``."""
    if stem == "closed_loop":
        return MARKERS
    return (f"<!-- bench:{stem}:start -->", f"<!-- bench:{stem}:end -->")


def splice(doc: str, table: str, stem: str = "closed_loop") -> str:
    """``doc`` with the text between the benchmark markers replaced by ``table``."""
    a, b = markers(stem)
    start, end = doc.index(a) + len(a), doc.index(b)
    return doc[:start] + "\n" + table + "\n" + doc[end:]


def publish(json_path: Path, docs: Path | None = None) -> list[Path]:
    """Write ``<out>.md`` and the plots from ``<out>.json`` (and the docs page's table)."""
    data = json.loads(json_path.read_text())
    out = json_path.with_suffix("")
    md = out.with_suffix(".md")
    table = markdown(data)
    md.write_text(table + "\n")
    written = [md, *figures(data, out)]
    if docs is not None and docs.exists() and markers(out.name)[0] in docs.read_text():
        docs.write_text(splice(docs.read_text(), table, out.name))
        written.append(docs)
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or only regenerate its tables and plots)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=10, help="simulated participants (>= 2)")
    ap.add_argument("--rounds", type=int, default=20, help="rounds per run")
    ap.add_argument("--seed", type=int, default=0, help="first participant seed")
    ap.add_argument(
        "--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}"
    )
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "closed_loop.yaml")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "bench" / "closed_loop", help="path stem"
    )
    ap.add_argument("--quick", action="store_true", help="2 participants x 3 rounds, 15 steps")
    ap.add_argument(
        "--figures-only", action="store_true", help="regenerate tables and plots from the JSON"
    )
    ap.add_argument(
        "--target-level",
        type=float,
        default=TARGET["target"][0],
        help="target arms: the level as a multiple of the median calibration response",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in the JSON (same settings) and run only the missing ones",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # the safety limiter's per-stimulus notes (opt-in, clamps) are in each run's records
    logging.getLogger("bci.stimuli").setLevel(logging.ERROR)
    json_path = args.out.with_suffix(".json")
    in_docs = args.out.resolve().parent == (ROOT / "docs" / "bench").resolve()
    docs = DOCS if in_docs else None
    if args.figures_only:
        for p in publish(json_path, docs):
            print(p)  # noqa: T201
        return 0
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)
    if args.quick:
        args.participants, args.rounds = min(args.participants, 2), min(args.rounds, 3)
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        ap.error(f"--arms: unknown {unknown}; choose from {list(ARMS)}")
    command = "python tools/bench_closed_loop.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    data = {
        "meta": {
            "participants": args.participants,
            "rounds": args.rounds,
            "seed": args.seed,
            "arms": arms,
            "quick": args.quick,
            "command": command.replace(str(ROOT) + "/", ""),
            "machine": _machine(),
            "misspecified": MISSPECIFIED,
            "target": {**TARGET, "target": [args.target_level]},
        },
        "runs": [],
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    done: set = set()
    if args.resume and json_path.exists():
        old = json.loads(json_path.read_text())
        same = all(old["meta"][k] == data["meta"][k] for k in ("rounds", "seed", "quick", "target"))
        if same:
            data["runs"] = [r for r in old["runs"] if r["arm"] in arms]
            done = {(r["participant"], r["arm"]) for r in data["runs"]}
            data["meta"]["command"] = old["meta"]["command"]
    parts = range(args.seed, args.seed + args.participants)
    # participant by participant: the maximize arms, with target control for the first three
    # (a run cut short still has both parts); target control of the others last
    targets = [a for a in ARMS if a not in MAXIMIZE]
    order = [(p, a) for p in parts for a in MAXIMIZE + (targets if p < parts[0] + 3 else [])]
    order += [(p, a) for p in parts if p >= parts[0] + 3 for a in targets]
    jobs = [(p, a) for p, a in order if a in arms and (p, a) not in done]
    calibrations: dict = {}
    for participant, arm in tqdm(jobs, desc="closed-loop benchmark", unit="run", file=sys.stderr):
        run = run_one(
            args.config, participant, arm, args.rounds, args.quick, calibrations, args.target_level
        )
        data["runs"].append(run)
        data["runs"].sort(key=lambda r: (r["participant"], list(ARMS).index(r["arm"])))
        json_path.write_text(json.dumps(data, indent=1))
    for p in publish(json_path, docs):
        print(p)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
