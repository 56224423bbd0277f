"""The closed-loop report: ``rounds.json``, ``report.md`` and plots next to each other.

:func:`summarize` turns a run into plain numbers (model validity, measured and predicted
response per condition, adaptation, tracking error, timing); :func:`write_report` writes them
with every trial and the plots. The benchmark uses :func:`summarize` on every run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from bci.config._closed_loop import ClosedLoopConfig

from ._loop import LoopResult, Trial, _pearson

logger = logging.getLogger(__name__)

#: the last rounds over which the tracking error of objective 'target' is averaged
TRACKING_WINDOW = 10


def units(cl: ClosedLoopConfig) -> tuple[str, str]:
    """``(quantity, unit)`` of the measured response."""
    if cl.measure.feature == "decoder":
        return f"decoder output {cl.optimizer.decoder_output}", "a.u."
    if cl.measure.feature == "evoked":
        return "evoked peak-to-peak amplitude", "uV"
    return "SSVEP amplitude", "uV"


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _adaptation(trials: list[Trial]) -> dict:
    """Response by position in the block relative to the first position, and repeat ratio.

    Within every condition the log response is centred (so conditions with different levels
    compare); positions are shuffled every round, so the position effect is not confounded
    with the condition. Calibration repeats give the ratio second / first showing.
    """
    rounds = [t for t in trials if t.round >= 1 and t.measured > 0]
    out: dict = {"position_relative": {}, "position_n": {}, "repeat_ratio": None, "n_repeats": 0}
    if rounds:
        by_cond: dict[str, list[float]] = {}
        for t in rounds:
            by_cond.setdefault(t.condition, []).append(np.log(t.measured))
        centre = {c: float(np.mean(v)) for c, v in by_cond.items()}
        by_pos: dict[int, list[float]] = {}
        for t in rounds:
            by_pos.setdefault(t.position, []).append(np.log(t.measured) - centre[t.condition])
        if 1 in by_pos:
            first = float(np.mean(by_pos[1]))
            for pos in sorted(by_pos):
                out["position_relative"][str(pos)] = float(np.exp(np.mean(by_pos[pos]) - first))
                out["position_n"][str(pos)] = len(by_pos[pos])
    # calibration blocks: random stimuli in random positions, so position is not confounded
    cal = [t for t in trials if t.round == 0 and t.measured > 0]
    out["calibration_position_relative"] = {}
    if cal:
        centre = float(np.mean([np.log(t.measured) for t in cal]))
        by_pos = {}
        for t in cal:
            by_pos.setdefault(t.position, []).append(np.log(t.measured) - centre)
        if 1 in by_pos:
            first = float(np.mean(by_pos[1]))
            out["calibration_position_relative"] = {
                str(p): float(np.exp(np.mean(v) - first)) for p, v in sorted(by_pos.items())
            }
    first_show = {t.key: t.measured for t in trials if t.condition == "calibration"}
    ratios = [
        t.measured / first_show[t.key]
        for t in trials
        if t.condition == "calibration_repeat" and first_show.get(t.key, 0) > 0
    ]
    if ratios:
        out["repeat_ratio"] = float(np.exp(np.mean(np.log(np.maximum(ratios, 1e-9)))))
        out["n_repeats"] = len(ratios)
    return out


def summarize(result: LoopResult, cl: ClosedLoopConfig) -> dict:
    """Every figure the report and the benchmark use, as plain JSON-ready numbers."""
    trials = result.trials
    table = result.table()
    conds = sorted(table)
    quantity, unit = units(cl)
    prediction = {}
    for c in [*conds, "calibration"]:
        tt = [t for t in trials if t.condition == c]
        p = np.array([t.predicted for t in tt], float)
        m = np.array([t.measured for t in tt], float)
        ok = np.isfinite(p) & np.isfinite(m)
        prediction[c] = {
            "n": int(ok.sum()),
            "r": _pearson(p[ok], m[ok]) if ok.any() else None,
            "mean_predicted": _f(float(p[ok].mean())) if ok.any() else None,
            "mean_measured": _f(float(m[ok].mean())) if ok.any() else None,
        }
    pooled = [t for t in trials if t.round >= 1 and np.isfinite(t.predicted)]
    summary: dict = {
        "rounds": int(max((t.round for t in trials), default=0)),
        "quantity": quantity,
        "unit": unit,
        "frequency": cl.frequency,
        "method": cl.optimizer.method,
        "readout": cl.model.readout,
        "update": cl.model.update,
        "objective": cl.optimizer.objective,
        "mean_measured": {c: _f(float(np.nanmean(v))) for c, v in table.items()},
        "validity": dict(result.validity),
        "prediction": prediction,
        "prediction_rounds": {
            "n": len(pooled),
            "r": _pearson([t.predicted for t in pooled], [t.measured for t in pooled])
            if pooled
            else None,
        },
        "adaptation": _adaptation(trials),
    }
    if cl.optimizer.objective == "target" and result.target is not None:
        tgt = float(result.target)
        err = {c: np.abs(v - tgt) for c, v in table.items()}
        summary["target"] = {
            "level": tgt,
            "window": TRACKING_WINDOW,
            "tracking_error_per_round": {c: [_f(x) for x in e] for c, e in err.items()},
            "tracking_error_last": {
                c: _f(float(np.nanmean(e[-TRACKING_WINDOW:]))) for c, e in err.items()
            },
        }
    prep = np.asarray(result.prep_seconds, float)
    summary["timing"] = {
        "mode": cl.mode,
        "iti": cl.iti,
        "prep_seconds_median": _f(float(np.median(prep))) if prep.size else None,
        "prep_seconds_max": _f(float(prep.max())) if prep.size else None,
        "steps_median": float(np.median(result.steps)) if result.steps else None,
        "late_rounds": int((prep > cl.iti).sum()),
        "ready_within_iti": bool(prep.size and prep.max() <= cl.iti),
    }
    summary["safety_clamps"] = sum(
        len(t.description.get("safety", {}).get("clamps", [])) for t in trials
    )
    return summary


def _fmt(x: float | None, nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def markdown(summary: dict, cl: ClosedLoopConfig) -> str:
    """The report as Markdown (tables of :func:`summarize`'s figures; plots linked)."""
    u = summary["unit"]
    v = summary["validity"]
    lines = [
        "# Closed-loop report",
        "",
        f"{summary['rounds']} rounds; objective `{summary['objective']}`; method "
        f"`{summary['method']}`; readout `{summary['readout']}` updated `{summary['update']}`; "
        f"measured response: {summary['quantity']} ({u}) at {summary['frequency']} Hz.",
        "",
        "## Model validity",
        "",
        "Readout cross-validated on the calibration stimuli (each predicted by a readout fitted "
        "on the other folds), against the noise ceiling from stimuli shown twice.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| calibration stimuli | {v.get('n_calibration', 'n/a')} |",
        f"| folds | {v.get('folds') or 'n/a'} |",
        f"| held-out r | {_fmt(v.get('r'))} |",
        f"| held-out explained variance (R2) | {_fmt(v.get('r2'))} |",
        f"| repeated stimuli | {v.get('n_repeats', 0)} |",
        f"| repeat-to-repeat r | {_fmt(v.get('repeat_r'))} |",
        f"| trial-to-trial noise SD ({u}) | {_fmt(v.get('noise_sd'))} |",
        f"| noise ceiling on r | {_fmt(v.get('ceiling_r'))} |",
        "",
        "## Predicted vs measured, per condition",
        "",
        "Predictions are made before the response is measured (calibration: held-out).",
        "",
        f"| condition | n | r | mean predicted ({u}) | mean measured ({u}) |",
        "|---|---|---|---|---|",
    ]
    for c, p in summary["prediction"].items():
        if p["n"]:
            lines.append(
                f"| {c} | {p['n']} | {_fmt(p['r'])} | {_fmt(p['mean_predicted'], 1)} | "
                f"{_fmt(p['mean_measured'], 1)} |"
            )
    pr = summary["prediction_rounds"]
    lines += [
        "",
        f"All round trials pooled (every condition): r = {_fmt(pr['r'])}, n = {pr['n']}: "
        "whether the model ranks the conditions right.",
        "",
        "![predicted vs measured](predicted_vs_measured.png)",
        "",
        "## Measured objective",
        "",
        f"| condition | mean measured over rounds ({u}) |",
        "|---|---|",
    ]
    for c, m in summary["mean_measured"].items():
        lines.append(f"| {c} | {_fmt(m, 1)} |")
    lines += ["", "![measured per round](objective.png)", ""]
    if "target" in summary:
        t = summary["target"]
        lines += [
            "## Control to a target",
            "",
            f"Target {t['level']:.1f} {u}; mean absolute tracking error over the last "
            f"{t['window']} rounds (fewer when the run is shorter):",
            "",
            f"| condition | tracking error ({u}) |",
            "|---|---|",
        ]
        for c, e in t["tracking_error_last"].items():
            lines.append(f"| {c} | {_fmt(e, 1)} |")
        lines.append("")
    a = summary["adaptation"]
    lines += [
        "## Adaptation",
        "",
        "Response at each position in a block relative to the first position (log response "
        "centred within each condition; positions are shuffled every round). Below 1: the "
        "participant adapts to the stimuli shown just before. Offline, each block is simulated "
        "afresh with the same trial-to-trial noise sequence, so these figures mix adaptation "
        "with a fixed noise factor per position.",
        "",
        "| position in block | relative response | trials |",
        "|---|---|---|",
    ]
    for pos, rel in a["position_relative"].items():
        lines.append(f"| {pos} | {rel:.2f} | {a['position_n'][pos]} |")
    cal = a.get("calibration_position_relative") or {}
    if cal:
        lines += [
            "",
            "Calibration blocks (different random stimuli at every position): "
            + ", ".join(f"position {p}: {v:.2f}" for p, v in cal.items())
            + ".",
        ]
    lines += [
        "",
        f"Calibration stimuli shown again in a later block: second / first response = "
        f"{_fmt(a['repeat_ratio'])} (geometric mean over {a['n_repeats']} stimuli).",
        "",
    ]
    tm = summary["timing"]
    lines += [
        "## Timing",
        "",
        "| figure | value |",
        "|---|---|",
        f"| mode | {tm['mode']} |",
        f"| time to the next block (refit + optimization + safety checks), median / max (s) | "
        f"{_fmt(tm['prep_seconds_median'])} / {_fmt(tm['prep_seconds_max'])} |",
        f"| optimizer steps per round (median) | {_fmt(tm['steps_median'], 0)} |",
        f"| inter-trial interval (s) | {tm['iti']} |",
        f"| rounds not ready within it | {tm['late_rounds']} |",
        f"| ready_within_iti | {str(tm['ready_within_iti']).lower()} |",
        "",
        "Live mode stops the optimizer at 90% of the interval minus the previous block's "
        "safety-check time; a round that is still late lengthens the interval (the next block "
        "starts when its stimuli are ready), it never shows an old stimulus. Offline nothing "
        "waits and the optimizer runs all its steps: the figure says whether this machine would "
        "have kept up.",
        "",
        f"Safety clamps applied: {summary['safety_clamps']}.",
        "",
        "![stimuli](stimuli.png)",
        "",
    ]
    return "\n".join(lines)


def _trial_dict(t: Trial) -> dict:
    desc = dict(t.description)
    desc.pop("image", None)
    return {
        "round": t.round,
        "block": t.block,
        "position": t.position,
        "condition": t.condition,
        "key": t.key,
        "measured": t.measured,
        "predicted": None if not np.isfinite(t.predicted) else t.predicted,
        "target": t.target,
        "description": desc,
    }


def plot_objective(result: LoopResult, cl: ClosedLoopConfig, path: Path) -> None:
    """Measured response per round per condition (and the target with its tracking error)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    quantity, unit = units(cl)
    table = result.table()
    target = result.target if cl.optimizer.objective == "target" else None
    ncol = 2 if target is not None else 1
    fig, axes = plt.subplots(1, ncol, figsize=(6 * ncol, 4), layout="constrained", squeeze=False)
    ax = axes[0, 0]
    for c, v in table.items():
        ax.plot(np.arange(1, len(v) + 1), v, "o-", label=c, ms=4)
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:.1f} {unit}")
    ax.set(xlabel="round", ylabel=f"measured {quantity} ({unit})", title="measured per round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    if target is not None:
        ax = axes[0, 1]
        for c, v in table.items():
            ax.plot(np.arange(1, len(v) + 1), np.abs(v - target), "o-", label=c, ms=4)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(
            xlabel="round",
            ylabel=f"|measured - target| ({unit})",
            title="tracking error per round",
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def plot_prediction(result: LoopResult, cl: ClosedLoopConfig, path: Path) -> None:
    """Predicted vs measured, one panel per condition, identity line and r in each title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quantity, unit = units(cl)
    conds = ["calibration"] + sorted({t.condition for t in result.trials if t.round >= 1})
    panels = []
    for c in conds:
        tt = [t for t in result.trials if t.condition == c and np.isfinite(t.predicted)]
        if tt:
            panels.append((c, tt))
    if not panels:
        panels = [("no predictions", [])]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels), 3.8), layout="constrained", squeeze=False
    )
    n_rounds = max((t.round for t in result.trials), default=1)
    sc = None
    for ax, (c, tt) in zip(axes[0], panels, strict=True):
        p = np.array([t.predicted for t in tt], float)
        m = np.array([t.measured for t in tt], float)
        if tt:
            sc = ax.scatter(
                p, m, s=14, c=[t.round for t in tt], cmap="viridis", vmin=0, vmax=max(n_rounds, 1)
            )
            lo = float(min(p.min(), m.min(), 0.0))
            hi = float(max(p.max(), m.max())) * 1.05 + 1e-9
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.legend(fontsize=7, loc="upper left")
        r = _pearson(p, m) if tt else None
        label = "held-out" if c == "calibration" else "before measuring"
        ax.set_title(f"{c} ({label})\nr = {_fmt(r)}, n = {len(tt)}", fontsize=9)
        ax.set(xlabel=f"predicted ({unit})", ylabel=f"measured {quantity} ({unit})")
        ax.yaxis.label.set_fontsize(8)
    if sc is not None:
        fig.colorbar(sc, ax=axes[0, -1], label="round (0: calibration)")
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def plot_stimuli(result: LoopResult, path: Path) -> None:
    """The last optimized stimuli and the baselines, with their measured response."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = [t for t in result.trials if t.round >= 1]
    shown = [t for t in last if t.condition == "optimized"][-6:] + [
        t for t in last if t.condition != "optimized"
    ][-2:]
    if not shown:
        shown = result.trials[-4:]
    fig, axes = plt.subplots(
        1, len(shown), figsize=(2 * len(shown), 2.5), layout="constrained", squeeze=False
    )
    for a, t in zip(axes[0], shown, strict=True):
        a.imshow(t.image, cmap="gray", vmin=0, vmax=1)
        a.set_title(f"round {t.round} {t.condition}\n{t.measured:.1f} measured", fontsize=7)
        a.axis("off")
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def write_report(result: LoopResult, cl: ClosedLoopConfig) -> Path:
    """``rounds.json`` (summary + every trial), ``report.md``, plots and images."""
    out = Path(result.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(result, cl)
    data = {"summary": summary, "trials": [_trial_dict(t) for t in result.trials]}
    (out / "rounds.json").write_text(json.dumps(data, indent=1))
    np.savez_compressed(
        out / "images.npz",
        **{f"r{t.round:02d}_{t.condition}_{k}": t.image for k, t in enumerate(result.trials)},
    )
    plot_objective(result, cl, out / "objective.png")
    plot_prediction(result, cl, out / "predicted_vs_measured.png")
    plot_stimuli(result, out / "stimuli.png")
    (out / "report.md").write_text(markdown(summary, cl))
    logger.info("closed-loop report in %s: %s", out, summary["mean_measured"])
    return out
