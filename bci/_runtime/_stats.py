"""Latency statistics per stage (docs/design.md#latency) and the runtime's counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

STAGES = ("transport", "processing", "output", "decision")


@dataclass(frozen=True)
class Budgets:
    """Latency budgets in milliseconds (from ``BudgetConfig``)."""

    transport_ms: float = 10.0
    processing_ms: float = 10.0
    output_ms: float = 5.0
    decision_ms: float = 20.0

    def of(self, stage: str) -> float:
        """Budget of one stage in ms."""
        return float(getattr(self, f"{stage}_ms"))


def stage_durations(stamps: dict[str, float]) -> dict[str, float]:
    """Stage durations in ms from ``t_sample``, ``t_pull``, ``t_decoded``, ``t_published``."""
    s = stamps
    return {
        "transport": (s["t_pull"] - s["t_sample"]) * 1e3,
        "processing": (s["t_decoded"] - s["t_pull"]) * 1e3,
        "output": (s["t_published"] - s["t_decoded"]) * 1e3,
        "decision": (s["t_published"] - s["t_sample"]) * 1e3,
    }


class LatencyStats:
    """Keep the last ``size`` durations of every stage in preallocated rings.

    Parameters
    ----------
    budgets : Budgets
        An overrun of a stage is a duration above its budget; it is counted per stage.
    size : int
        How many recent decisions the percentiles cover.
    """

    def __init__(self, budgets: Budgets | None = None, size: int = 100_000):
        self.budgets = budgets or Budgets()
        self.size = int(size)
        self._rings = {s: np.full(self.size, np.nan) for s in STAGES}
        self.reset()

    def reset(self) -> None:
        """Forget every duration and overrun."""
        for ring in self._rings.values():
            ring[:] = np.nan
        self.n = 0
        self.overruns = dict.fromkeys(STAGES, 0)
        self.n_overrun_decisions = 0

    def __call__(self, stamps: dict[str, float]) -> list[str]:
        """Record one published decision; return the stages that overran their budget."""
        durations = stage_durations(stamps)
        i = self.n % self.size
        over = []
        for stage, value in durations.items():
            self._rings[stage][i] = value
            if value > self.budgets.of(stage):
                self.overruns[stage] += 1
                over.append(stage)
        if over:
            self.n_overrun_decisions += 1
        self.n += 1
        return over

    def values(self, stage: str) -> np.ndarray:
        """The recorded durations of one stage in ms (recording order not kept)."""
        ring = self._rings[stage]
        return ring[: min(self.n, self.size)]

    def percentiles(self, stage: str) -> dict[str, float]:
        """``p50``/``p95``/``p99``/``max`` of a stage in ms (NaN before any decision)."""
        v = self.values(stage)
        if v.size == 0:
            return {
                "p50": float("nan"),
                "p95": float("nan"),
                "p99": float("nan"),
                "max": float("nan"),
            }
        p50, p95, p99 = np.percentile(v, [50, 95, 99])
        return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(v.max())}

    def summary(self) -> dict[str, dict[str, float]]:
        """Percentiles of every stage."""
        return {s: self.percentiles(s) for s in STAGES}


@dataclass
class Counters:
    """What the runtime counts; all of it is reported live, at exit and on MQTT."""

    chunks: int = 0
    samples: int = 0
    windows: int = 0
    decisions: int = 0
    labels: int = 0
    overruns: int = 0  # decisions over the decision budget + stale windows dropped
    dropped_stale: int = 0  # windows already older than the decision budget when cut
    skipped_hops: int = 0  # hop boundaries passed without a window (a late chunk, a busy decoder)
    skipped_nonfinite: int = 0  # windows not decoded because they held NaN/inf
    nonfinite_samples: int = 0
    lost_samples: int = 0
    decoder_errors: int = 0
    mqtt_sent: int = 0
    mqtt_unsent: int = 0
    stage_overruns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))

    def as_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)
