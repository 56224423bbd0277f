"""Human-readable views of an engine snapshot: the live status table and the exit summary."""

from __future__ import annotations

from typing import Any

from ._stats import STAGES


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def status_table(snap: dict) -> Any:
    """A rich table: streams and rates, decisions/s, p50/p99 per stage, overruns, drops."""
    from rich.table import Table

    c = snap["counters"]
    t = Table(
        title=f"bci run: {snap['session']}  ({snap['elapsed']:.0f} s, {snap['provider']})",
        expand=False,
    )
    t.add_column("what")
    t.add_column("value", justify="right")
    for name, rate in snap["streams"].items():
        t.add_row(f"stream {name}", f"{rate:.1f} samples/s")
    t.add_row("decisions/s", f"{snap['decisions_per_s']:.1f}  (total {c['decisions']})")
    for row in decision_rows(snap):
        t.add_row(*row)
    for st in STAGES:
        p = snap["latency_ms"][st]
        t.add_row(
            f"{st} ms p50/p99 (budget)",
            f"{_ms(p['p50'])} / {_ms(p['p99'])}  ({snap['budgets_ms'][st]:g})",
        )
    t.add_row("overruns", str(c["overruns"]))
    t.add_row(
        "drops (stale windows / skipped hops)",
        f"{c['dropped_stale']} / {c['skipped_hops']}",
    )
    t.add_row("lost samples / NaN samples", f"{c['lost_samples']} / {c['nonfinite_samples']}")
    t.add_row("MQTT sent / unsent", f"{c['mqtt_sent']} / {c['mqtt_unsent']}{_mqtt_state(snap)}")
    return t


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def decision_rows(snap: dict) -> list[tuple[str, str]]:
    """Rows of the live view: current decision, cued class, running online accuracy."""
    rows = []
    d = snap.get("decision")
    if d is not None:
        prob = "-" if d.get("prob") is None else f"{d['prob']:.2f}"
        rows.append(("decision (p)", f"{d.get('label') or 'none'}  ({prob})"))
        if d.get("cue") is not None or snap.get("online"):
            rows.append(("cued class", str(d.get("cue") or "-")))
    on = snap.get("online")
    if on and on.get("n"):
        rows.append(
            (
                "online accuracy (chance)",
                f"{_pct(on['accuracy'])}  ({_pct(on['chance'])}, {on['correct']}/{on['n']})",
            )
        )
    return rows


def confusion_lines(online: dict) -> list[str]:
    """The online confusion matrix as text (rows: cued class, columns: decided class)."""
    classes = [str(c) for c in online["classes"]]
    width = max(6, *(len(c) for c in classes)) + 1
    lines = ["  " + "cued \\ decided".ljust(width + 4) + "".join(c.rjust(width) for c in classes)]
    for c, row in zip(classes, online["confusion"], strict=True):
        if sum(row):
            lines.append("    " + c.ljust(width + 2) + "".join(str(v).rjust(width) for v in row))
    return lines


def _mqtt_state(snap: dict) -> str:
    m = snap.get("mqtt")
    if not m or (m.get("state") != "off" and not m.get("error")):
        return ""
    return f"  (MQTT {m['state']}{': ' + m['error'] if m.get('error') else ''})"


def summary_lines(snap: dict) -> list[str]:
    """The exit summary as plain lines."""
    c = snap["counters"]
    lines = [
        f"session {snap['session']}: {c['decisions']} decisions in {snap['elapsed']:.1f} s "
        f"(model {snap['model_id']} on {snap['provider']})",
    ]
    for st in STAGES:
        p = snap["latency_ms"][st]
        lines.append(
            f"  {st:<10} p50 {_ms(p['p50'])}  p95 {_ms(p['p95'])}  p99 {_ms(p['p99'])}  max {_ms(p['max'])} ms"
            f"  (budget {snap['budgets_ms'][st]:g} ms, {c['stage_overruns'][st]} over)"
        )
    lines.append(
        f"  overruns {c['overruns']}, dropped stale {c['dropped_stale']}, skipped hops {c['skipped_hops']}, "
        f"skipped NaN windows {c['skipped_nonfinite']}, NaN samples {c['nonfinite_samples']}, "
        f"lost samples {c['lost_samples']}, MQTT sent {c['mqtt_sent']} unsent {c['mqtt_unsent']}"
        f"{_mqtt_state(snap)}"
    )
    on = snap.get("online")
    if on and on.get("n"):
        lines.append(
            f"  online accuracy {_pct(on['accuracy'])} over {on['n']} scored decisions "
            f"(chance {_pct(on['chance'])}: most cued class; {on['no_label']} without a label)"
        )
        lines.extend(confusion_lines(on))
    elif snap.get("decision") is not None:
        lines.append("  online accuracy: no cue stream named the decoder's classes")
    return lines
