"""``report.md`` and PNG plots of ``bci evaluate`` (matplotlib, imported only here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._scoring import RecordingScore, cut_trials

if TYPE_CHECKING:
    from .config import CalibrationConfig


def _f(v: object, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _p(v: object) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.2g}"


def save_figure(fig: object, path: Path) -> None:
    """Save and close ``fig`` with nothing clipped (labels, legends outside the axes)."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def confusion_figure(cm: np.ndarray, classes: Sequence[str], xlabel: str, title: str) -> object:
    """A confusion matrix: colour = fraction of the true class, text = counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, float)
    fig, ax = plt.subplots(figsize=(1.6 + 0.6 * len(classes), 1.4 + 0.6 * len(classes)))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="k" if norm[i, j] < 0.6 else "w")  # fmt: skip
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_title(title, fontsize=9)
    return fig


def _plots(
    out: Path,
    result: dict,
    decoded: Sequence[object],
    scores: Sequence[RecordingScore],
    config: CalibrationConfig,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = result["classes"]
    files: list[str] = []
    tr = result["summary"]["trials"]
    if tr.get("n"):
        fig = confusion_figure(
            tr["confusion"], classes, "decided class (trial)", f"pseudo-online, {result['mode']}"
        )
        save_figure(fig, out / "confusion.png")
        files.append("confusion.png")
    # timeline of the recording with the most scored trials: truth vs decisions
    best = max(range(len(decoded)), key=lambda i: len(scores[i].trial_y), default=None)
    if best is not None and len(decoded[best].decisions):
        d = decoded[best]
        dec = d.decisions
        t0 = float(dec["t_first"].min())
        span = min(60.0, float(dec["t_last"].max()) - t0)
        trials = cut_trials(d.markers, config, float(dec["t_last"].max()))
        trials = [
            type(t)(t.onset, max(t.start, t0), min(t.end, t0 + span), t.label)
            for t in trials
            if t.end > t0 and t.start < t0 + span
        ]
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.35 * len(classes)))
        for k, t in enumerate(trials):
            ax.axvspan(t.start - t0, t.end - t0, ymin=0, ymax=1, color=f"C{t.label % 10}",
                       alpha=0.15, lw=0, label=None if k else "trial span (colour = true class)")  # fmt: skip
            ax.plot([t.start - t0, t.end - t0], [t.label, t.label], color="k", lw=3,
                    label=None if k else "true class")  # fmt: skip
        sel = dec["t_sample"] <= t0 + span
        pred = dec["probs"][sel].argmax(axis=1)
        ax.plot(dec["t_sample"][sel] - t0, pred, ".", ms=4, color="C3",
                label="decision (argmax)")  # fmt: skip
        emitted = sel & (dec["label_index"] >= 0)
        if emitted.any() and (emitted.sum() < sel.sum()):
            ax.plot(dec["t_sample"][emitted] - t0, dec["label_index"][emitted] + 0.15, "|",
                    color="C2", label="emitted label (threshold, dwell)")  # fmt: skip
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_ylim(-0.6, len(classes) - 0.4)
        ax.set_xlabel(f"time in {Path(str(d.path)).name} (s)")
        ax.set_title("decisions against the file's labels (first 60 s)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        save_figure(fig, out / "timeline.png")
        files.append("timeline.png")
    fc = np.concatenate([s.first_correct_s for s in scores]) if scores else np.zeros(0)
    found = fc[np.isfinite(fc)]
    if len(found):
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.hist(found, bins=min(30, max(5, len(found) // 5)), color="C0")
        ax.axvline(float(np.median(found)), color="k", ls="--", lw=1,
                   label=f"median {np.median(found):.2f} s")  # fmt: skip
        ax.set_xlabel("time from trial onset to first correct decision (s)")
        ax.set_ylabel("trials")
        ax.set_title(f"{len(found)} of {len(fc)} trials reached a correct decision", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        save_figure(fig, out / "first_correct.png")
        files.append("first_correct.png")
    per = result["per_file"]
    if per:
        names = [Path(p).name for p in per]
        vals = [
            v["trial_accuracy"] if v["trial_accuracy"] is not None else np.nan for v in per.values()
        ]
        fig, ax = plt.subplots(figsize=(6, 0.8 + 0.3 * len(names)))
        ax.barh(range(len(names)), vals, color="C0", label="pseudo-online trial accuracy")
        ax.axvline(tr.get("chance", 1 / len(classes)), color="k", ls=":", lw=1,
                   label=f"chance ({tr.get('chance', 1 / len(classes)):.2f})")  # fmt: skip
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel("trial accuracy")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        save_figure(fig, out / "per_file.png")
        files.append("per_file.png")
    return files


def write_evaluation_report(
    out: Path,
    result: dict,
    decoded: Sequence[object],
    scores: Sequence[RecordingScore],
    config: CalibrationConfig,
    *,
    plots: bool = True,
) -> Path:
    """Write ``report.md`` (and its plots) for one ``bci evaluate`` run."""
    pngs = _plots(out, result, decoded, scores, config) if plots else []
    s = result["summary"]
    w, t = s["windows"], s["trials"]
    binary = len(result["classes"]) == 2
    lines = [
        f"# Evaluation: {result['paradigm']} ({result['mode']})",
        "",
        f"- decoder: `{result['decoder']}`; "
        + (
            "event-locked epochs, one decision per onset"
            if result["event_locked"]
            else "sliding windows"
        )  # fmt: skip
        + f"; {s['n_decisions']} decisions over {s['duration_s']:.0f} s of signal",
        f"- files: {len(result['files'])}; trials: {t.get('n', 0)} scored, "
        f"{s['unscored_trials']} with no decision window inside them",
        f"- trials are cut as the calibration config says ({result['trial_definition']}); a "
        "decision counts for a trial when its whole window lies inside it",
        "",
        "| metric | windows | trials |",
        "|---|---|---|",
        f"| n | {w.get('n', 0)} | {t.get('n', 0)} |",
        f"| accuracy | {_f(w.get('accuracy'))} | {_f(t.get('accuracy'))} |",
        f"| balanced accuracy | {_f(w.get('balanced_accuracy'))} | {_f(t.get('balanced_accuracy'))} |",
        f"| chance (majority class) | {_f(w.get('chance'))} | {_f(t.get('chance'))} |",
        f"| binomial p (trials are the independent units) | | {_p(t.get('p_value'))} |",
    ]
    if binary:
        lines.append(f"| AUC | {_f(w.get('auc'))} | {_f(t.get('auc'))} |")
        lines.append(f"| AUC Mann-Whitney p | | {_p(t.get('auc_p_value'))} |")
    ttfc = s["time_to_first_correct_s"]
    rest = s["rest"]
    lines += [
        "",
        f"- time to first correct decision: median {_f(ttfc['median'], 2)} s, p90 "
        f"{_f(ttfc['p90'], 2)} s; {ttfc['never']} of {ttfc['n']} trials never had one",
        f"- ITR (Wolpaw, trial accuracy, {_f(s['selection_s'], 2)} s per selection cue to cue): "
        f"{_f(s['itr_bits_per_min'], 2)} bits/min",
        f"- rest: {rest['seconds']:.0f} s outside trials"
        + (" or in the rest class" if any(c.lower() == "rest" for c in result["classes"]) else "")
        + f", {rest['decisions']} decisions there, {rest['false_activations']} false "
        f"activations (a non-rest label emitted)"
        + (f", {rest['per_min']:.1f} per minute" if rest["per_min"] is not None else ""),
        "",
    ]
    if "offline" in result:
        off = result["offline"]
        diff = result.get("online_minus_offline", {})
        lines += [
            "## Pseudo-online vs offline",
            "",
            "Offline: the same decoder on the same files, epoch by epoch as calibration cuts "
            "and filters them (whole-file causal filter, every trial window).",
            "",
            "| | pseudo-online | offline | difference |",
            "|---|---|---|---|",
            f"| trial accuracy | {_f(t.get('accuracy'))} | {_f(off['trials'].get('accuracy'))} | "
            f"{_f(diff.get('trial_accuracy'))} |",
            f"| trials | {t.get('n', 0)} | {off['trials'].get('n', 0)} | |",
        ]
        if binary:
            lines.append(
                f"| trial AUC | {_f(t.get('auc'))} | {_f(off['trials'].get('auc'))} | "
                f"{_f(diff.get('trial_auc'))} |"
            )
        lines.append("")
    lines += ["## Per file", "", "| file | decisions | trials | trial acc. | window acc. | x real time |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for p, v in result["per_file"].items():
        lines.append(
            f"| {Path(p).name} | {v['decisions']} | {v['trials']} | {_f(v['trial_accuracy'])} | "
            f"{_f(v['window_accuracy'])} | {_f(v['realtime_factor'], 0)} |"
        )
    lines.append("")
    lines += [f"![{p[:-4]}]({p})" for p in pngs]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
