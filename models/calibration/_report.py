"""``report.md`` with PNG plots: confusion matrix, learning curve, per-class scores, comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bci._scoring_report import confusion_figure, save_figure

from ._evaluate import Scores


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))


def _chance(metrics: dict, key: str) -> float:
    if key == "auc":
        return 0.5
    counts = list(metrics["trials_per_class"].values())
    return max(counts) / max(1, sum(counts))


def _plots(out: Path, metrics: dict, scores: list[Scores], best: Scores) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    classes = metrics["classes"]
    files = []
    title = f"shipped: {best.name}\n({metrics['evaluation']}, windows)"
    fig = confusion_figure(best.metrics["confusion"], classes, "predicted class", title)
    save_figure(fig, out / "confusion.png")
    files.append("confusion.png")
    key = "auc" if "auc" in best.metrics else "accuracy"
    if metrics["learning_curve"]:
        lc = metrics["learning_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.plot([r["n_trials"] for r in lc], [r["accuracy"] for r in lc], "o-", label="accuracy")
        if "auc" in lc[0]:
            ax.plot(
                [r["n_trials"] for r in lc], [r.get("auc", np.nan) for r in lc], "s--", label="AUC"
            )
        ax.axhline(_chance(metrics, "accuracy"), color="gray", lw=0.8, ls=":", label="chance")
        ax.set_xlabel("calibration trials (training fold)")
        ax.set_ylabel("score (out of fold)")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"learning curve: {best.name}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        save_figure(fig, out / "learning_curve.png")
        files.append("learning_curve.png")
    decoders = [s for s in scores if s.kind != "shortcut"]
    fig, ax = plt.subplots(figsize=(2.0 + 0.9 * len(classes), 3))
    width = 0.8 / max(1, len(decoders))
    for k, s in enumerate(decoders):
        shipped = s is best
        ax.bar(
            np.arange(len(classes)) + k * width,
            s.metrics["per_class_recall"],
            width,
            label=f"{s.name} (shipped)" if shipped else s.name,
            edgecolor="k" if shipped else "none",
            linewidth=1.2 if shipped else 0,
            hatch="//" if shipped else None,
        )
    ax.axhline(1 / len(classes), color="gray", lw=0.8, ls=":", label="chance (1/classes)")
    ax.set_xticks(
        np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right", fontsize=8
    )
    ax.set_xlabel("true class")
    ax.set_ylabel("recall (out of fold)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    save_figure(fig, out / "per_class.png")
    files.append("per_class.png")
    shortcut_info = metrics.get("shortcut", {})
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.32 * len(scores)))
    names = [f"{s.kind}: {s.name}" + ("  << shipped" if s is best else "") for s in scores]
    vals = [s.metrics.get(key, np.nan) for s in scores]
    colors = []
    for s in scores:
        if s.kind == "strategy":
            colors.append("C0")
        elif s.kind == "baseline":
            colors.append("C1")
        elif shortcut_info.get(s.name, {}).get("role") == "signal":
            colors.append("0.6")
        else:
            colors.append("C3")
    bars = ax.barh(range(len(scores)), vals, color=colors)
    for b, s in zip(bars, scores, strict=True):
        if s is best:
            b.set_edgecolor("k")
            b.set_linewidth(1.5)
    chance = _chance(metrics, key)
    ax.axvline(chance, color="k", lw=0.8, ls=":")
    ax.set_yticks(range(len(scores)), names, fontsize=7)
    for t, s in zip(ax.get_yticklabels(), scores, strict=True):
        if s is best:
            t.set_fontweight("bold")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{key} (out of fold, same folds)")
    ax.invert_yaxis()
    handles = [
        Patch(color="C0", label="strategy"),
        Patch(color="C1", label="baseline"),
        Patch(color="C3", label="shortcut: artifact"),
        Patch(color="0.6", label="shortcut: signal"),
        matplotlib.lines.Line2D([], [], color="k", ls=":", label=f"chance ({chance:.2f})"),
    ]
    ax.legend(
        handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False
    )
    save_figure(fig, out / "comparison.png")
    files.append("comparison.png")
    return files


def _significance_line(metrics: dict) -> str:
    b = metrics["best"]
    if "chance" not in b:
        return "- significance: not computed"
    line = (
        f"- chance level {b['chance']:.3f} (majority class over {b['n_trials']} trials); "
        f"binomial p = {b['p_value']:.2g} that the shipped decoder's trial hits come from chance"
    )
    if "auc_p_value" in b:
        line += f"; AUC > 0.5: Mann-Whitney p = {b['auc_p_value']:.2g}"
    return line


def _comparison_line(metrics: dict) -> str:
    c = metrics.get("comparison", {})
    if "best_baseline" not in c:
        return "- no baseline was run"
    m = c["metric"]
    note = f"- **{c['note']}** ({m} {c['shipped_score']:.3f})" if c.get("note") else ""
    if note and not c["baseline_wins"]:
        return note
    if c["baseline_wins"]:
        return (note + "\n" if note else "") + (
            f"- **the best baseline wins**: {c['best_baseline']} {m} "
            f"{c['best_baseline_score']:.3f} vs shipped {c['shipped']} {c['shipped_score']:.3f} "
            f"({c['difference']:+.3f})"
        )
    return (
        f"- shipped {c['shipped']} vs best baseline {c['best_baseline']}: {m} "
        f"{c['shipped_score']:.3f} vs {c['best_baseline_score']:.3f} ({c['difference']:+.3f})"
    )


def _shortcut_table(metrics: dict) -> list[str]:
    sc = metrics.get("shortcut") or {}
    if not sc:
        return []
    key = "auc" if len(metrics["classes"]) == 2 else "accuracy"
    lines = [f"| shortcut | {key} | role | rule | warns |", "|---|---|---|---|---|"]
    for name, r in sc.items():
        lines.append(
            f"| {name} | {_fmt(r.get(key))} | {r.get('role', '')} | {r.get('rule', '')} | "
            f"{'yes' if r.get('warns') else 'no'} |"
        )
    return [*lines, ""]


def write_report(out: Path, metrics: dict, scores: list[Scores], best: Scores) -> Path:
    """Write ``report.md`` and its plots into ``out``."""
    _plots(out, metrics, scores, best)
    binary = len(metrics["classes"]) == 2
    lines = [
        f"# Calibration report: {metrics['paradigm']} for {metrics['user']}",
        "",
        f"- files: {len(metrics['files'])}; windows: {metrics['n_windows']}; trials per class: "
        f"{metrics['trials_per_class']}",
        f"- channels: {metrics['montage']} at {metrics['sfreq']:g} Hz, windows of {metrics['window_s']} s",
        f"- evaluation: {metrics['evaluation']} (same folds for every row)",
        f"- shipped: **{best.name}** ({best.kind}) -> `model.onnx` (accuracy "
        f"{best.metrics['accuracy']:.3f}"
        + (f", AUC {best.metrics['auc']:.3f}" if "auc" in best.metrics else "")
        + ")",
        _significance_line(metrics),
        _comparison_line(metrics),
        f"- inference latency (DecoderONNX, {metrics['inference_latency_ms'].get('provider')}, 1 thread): "
        f"p50 {metrics['inference_latency_ms'].get('p50')} ms, p99 {metrics['inference_latency_ms'].get('p99')} ms",
        f"- calibration took {metrics['seconds']} s",
        "",
    ]
    for w in metrics["warnings"]:
        lines.append(f"> **warning:** {w}")
    if metrics["warnings"]:
        lines.append("")
    has_trial = any("trial_accuracy" in s.metrics for s in scores)
    cols = ["kind", "name", "accuracy", "balanced acc."] + (["AUC"] if binary else [])
    if has_trial:
        cols.append("trial acc.")
    if metrics["family"] == "ssvep":
        cols.append("ITR bits/min")
    cols.append("fit s (all folds)")
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in scores:
        row = [
            s.kind,
            s.name + (" (shipped)" if s is best else ""),
            _fmt(s.metrics["accuracy"]),
            _fmt(s.metrics["balanced_accuracy"]),
        ]
        if binary:
            row.append(_fmt(s.metrics.get("auc")))
        if has_trial:
            row.append(_fmt(s.metrics.get("trial_accuracy")))
        if metrics["family"] == "ssvep":
            row.append(_fmt(s.metrics.get("itr_bits_per_min")))
        row.append(_fmt(s.metrics.get("fit_seconds")))
        lines.append("| " + " | ".join(row) + " |")
    if metrics.get("skipped"):
        lines += ["", "Not run: " + "; ".join(f"{k}: {v}" for k, v in metrics["skipped"].items())]
    if metrics.get("pretrained_vs_scratch"):
        lines += [
            "",
            "Pretrained minus scratch (same architecture, same folds): "
            + ", ".join(f"{k} {v:+.3f}" for k, v in metrics["pretrained_vs_scratch"].items()),
        ]
    lines += [
        "",
        "Accuracy is per window (one live decision); trial acc. averages the window "
        "probabilities of each trial first (live smoothing over one gesture/trial).",
        "",
        "Shortcut rows decode the labels from artifact-only features (EOG band on frontal "
        "channels, > 30 Hz power, one channel at a time). Each row is an *artifact* or the "
        f"paradigm's own *signal* for the {metrics['family']} decoder (rule column); a warning is raised when "
        f"an artifact row comes within {metrics.get('shortcut_margin', 0.05):g} of the shipped "
        "decoder.",
        "",
        *_shortcut_table(metrics),
        "![comparison](comparison.png)",
        "![confusion](confusion.png)",
        "![per-class recall](per_class.png)",
    ]
    if metrics["learning_curve"]:
        lines.append("![learning curve](learning_curve.png)")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
