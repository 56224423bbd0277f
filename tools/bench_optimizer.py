"""Benchmark: closed-loop optimizer steps/s and time-to-next-stimulus (docs/design.md#benchmarks).

Scenarios: Adam steps/s for a 128x128 stimulus through each in-silico front end (Gabor energy,
steerable pyramid) at the default model resolution and at 128, on CPU with torch threads set
to 2 (the 2-core target; goal >= 20 steps/s) and on CUDA when available (GPU named); plus the
time a full default optimization takes compared with the configured inter-trial interval.

Usage: ``python tools/bench_optimizer.py [--quick]`` or ``bci bench --only optimizer``.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (CUDA), host {cpu}"
    return f"{cpu}, torch threads {torch.get_num_threads()}"


def _steps_per_s(front: str, model_size: int, device: str, steps: int, stim: int = 128) -> float:
    import numpy as np

    from bci.stimuli._insilico import InSilicoModel, load_front_end
    from bci.stimuli._optimize import GradientOptimizer, make_objective

    model = InSilicoModel(load_front_end(front, model_size), 1)
    rng = np.random.default_rng(0)
    model.fit(rng.random((24, stim, stim)), rng.random((24, 1)))
    opt = GradientOptimizer(
        model, make_objective("maximize"), stim, "fourier", steps=steps, device=device
    )
    opt(seed=0, steps=5)  # warm-up (imports, allocations, CUDA context)
    return opt(seed=1).steps_per_s


def run(quick: bool = False) -> list[dict]:
    """One dict per scenario: ``name``, ``steps_per_s`` (or seconds), ``goal``, ``machine``."""
    import torch

    from bci.config._closed_loop import ClosedLoopConfig

    cfg = ClosedLoopConfig()
    steps = 20 if quick else 60
    results = []
    # (device, torch threads): the 2-core target, 1 thread for comparison (on a busy 2-core
    # machine one thread is often faster), then the GPU when there is one.
    runs = [("cpu", 2), ("cpu", 1)] + ([("cuda", 1)] if torch.cuda.is_available() else [])
    for device, threads in runs:
        torch.set_num_threads(threads)
        target = (device, threads) == ("cpu", 2)
        for front in ("gabor", "pyramid"):
            for size in sorted({cfg.model.image_size, 128}):
                sps = _steps_per_s(front, size, device, steps)
                results.append(
                    {
                        "name": f"adam 128x128 {front}@{size} {device}"
                        + (f" {threads} thread(s)" if device == "cpu" else ""),
                        "steps_per_s": round(sps, 1),
                        "goal": ">= 20 steps/s" if target else "",
                        "ok": sps >= 20 if target else None,
                        "machine": _machine(device),
                    }
                )
    # Time to the next stimulus with the default closed-loop settings (CPU, configured threads).
    torch.set_num_threads(cfg.optimizer.threads)
    import numpy as np

    from bci.stimuli._insilico import build_model
    from bci.stimuli._optimize import GradientOptimizer, make_objective

    model = build_model(cfg.model)
    n = cfg.model.image_size
    rng = np.random.default_rng(0)
    model.fit(rng.random((24, n, n)), rng.random((24, 1)))
    o = cfg.optimizer
    opt = GradientOptimizer(
        model,
        make_objective(o.objective),
        n,
        o.parametrization,
        o.steps,
        o.lr,
        o.jitter,
        o.contrast,
    )
    opt(seed=0, steps=3)
    t0 = time.perf_counter()
    opt(seed=1)
    secs = time.perf_counter() - t0
    results.append(
        {
            "name": f"next stimulus ({o.steps} steps, {n}x{n}, cpu)",
            "seconds": round(secs, 3),
            "goal": f"<= iti {cfg.iti} s",
            "ok": secs <= cfg.iti,
            "machine": _machine("cpu"),
        }
    )
    return results


def markdown(results: list[dict]) -> str:
    """A markdown table of the results."""
    lines = ["| scenario | figure | goal | ok | machine |", "|---|---|---|---|---|"]
    for r in results:
        fig = f"{r['steps_per_s']} steps/s" if "steps_per_s" in r else f"{r['seconds']} s"
        ok = "" if r.get("ok") is None else ("yes" if r["ok"] else "NO")
        lines.append(f"| {r['name']} | {fig} | {r.get('goal', '')} | {ok} | {r['machine']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run(quick="--quick" in sys.argv)))  # noqa: T201
