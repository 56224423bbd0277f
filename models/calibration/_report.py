"""``report.md`` with PNG plots: confusion matrix, learning curve, per-class scores, comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._evaluate import Scores


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))


def _plots(out: Path, metrics: dict, scores: list[Scores], best: Scores) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = metrics["classes"]
    files = []
    cm = np.asarray(best.metrics["confusion"], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(classes), 1.0 + 0.6 * len(classes)))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                int(cm[i, j]),
                ha="center",
                va="center",
                color="k" if norm[i, j] < 0.6 else "w",
                fontsize=8,
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{best.name} ({metrics['evaluation']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=100)
    plt.close(fig)
    files.append("confusion.png")
    if metrics["learning_curve"]:
        lc = metrics["learning_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.plot([r["n_trials"] for r in lc], [r["accuracy"] for r in lc], "o-", label="accuracy")
        if "auc" in lc[0]:
            ax.plot(
                [r["n_trials"] for r in lc], [r.get("auc", np.nan) for r in lc], "s--", label="AUC"
            )
        ax.axhline(1 / len(classes), color="gray", lw=0.8, ls=":", label="chance")
        ax.set_xlabel("calibration trials (training fold)")
        ax.set_ylabel("score")
        ax.set_title(f"learning curve: {best.name}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "learning_curve.png", dpi=100)
        plt.close(fig)
        files.append("learning_curve.png")
    decoders = [s for s in scores if s.kind != "shortcut"]
    fig, ax = plt.subplots(figsize=(1.5 + 0.7 * len(classes), 3))
    width = 0.8 / max(1, len(decoders))
    for k, s in enumerate(decoders):
        ax.bar(
            np.arange(len(classes)) + k * width, s.metrics["per_class_recall"], width, label=s.name
        )
    ax.set_xticks(
        np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right", fontsize=8
    )
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "per_class.png", dpi=100)
    plt.close(fig)
    files.append("per_class.png")
    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.35 * len(scores)))
    names = [f"{s.kind[:4]}: {s.name}" for s in scores]
    key = "auc" if "auc" in best.metrics else "accuracy"
    vals = [s.metrics.get(key, np.nan) for s in scores]
    colors = [
        "C0" if s.kind == "strategy" else "C1" if s.kind == "baseline" else "C3" for s in scores
    ]
    ax.barh(range(len(scores)), vals, color=colors)
    ax.set_yticks(range(len(scores)), names, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(key)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=100)
    plt.close(fig)
    files.append("comparison.png")
    return files


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
        f"- shipped: **{best.name}** -> `model.onnx` (accuracy {best.metrics['accuracy']:.3f}"
        + (f", AUC {best.metrics['auc']:.3f}" if "auc" in best.metrics else "")
        + ")",
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
        "channels, > 30 Hz power, one channel at a time); a warning is raised when one comes "
        "within the configured margin of the shipped decoder.",
        "",
        "![comparison](comparison.png)",
        "![confusion](confusion.png)",
        "![per-class recall](per_class.png)",
    ]
    if metrics["learning_curve"]:
        lines.append("![learning curve](learning_curve.png)")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
