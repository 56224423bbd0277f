"""Benchmark default-model inference: onnxruntime CPU vs torch eager (1 thread), CUDA if present.

Scenarios (docs/design.md#benchmarks: ``run(quick) -> list[dict]``, ``markdown(results) -> str``):

- ``16ch x 1s``: the shipped ``models/weights/default.onnx`` (the decoder ``bci run`` uses);
- ``16ch x 2s``: the same encoder with a 2 s input (exported on the fly, parity-checked).

For each: onnxruntime ``CPUExecutionProvider`` with ``intra_op_num_threads=1`` and torch eager
with ``torch.set_num_threads(1)``, in the same run, batch 1; per-call wall time with
``time.perf_counter``. On a machine with CUDA: onnxruntime ``CUDAExecutionProvider`` when the
installed onnxruntime has it, and torch CUDA eager, with the GPU named.

Usage: ``python tools/bench_model.py [--quick] [--json F]`` or ``bci bench --only model``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _machine() -> str:
    import os

    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.processor() or ''}".strip()


def _time(fn, n: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t
    return out * 1e3


def _row(name: str, backend: str, ms: np.ndarray, **extra) -> dict:
    return {
        "name": name,
        "backend": backend,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "n": int(len(ms)),
        "machine": _machine(),
        **extra,
    }


def run(quick: bool = False) -> list[dict]:
    """Run every scenario; ``quick`` takes fewer calls."""
    import onnxruntime as ort
    import torch

    from bci import models

    n, warm = (200, 20) if quick else (2000, 100)
    torch.set_num_threads(1)
    default, _ = models.load_classifier(models.WEIGHTS_DIR / "default.pt")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("16ch x 1s", default, models.WEIGHTS_DIR / "default.onnx")]
        two = models.build_classifier(
            default.encoder,
            default.ch_names,
            250.0,
            500,
            len(default.classes),
            "full",
            classes=default.classes,
        )
        two.head.load_state_dict(default.head.state_dict())
        two.readin.load_state_dict(default.readin.state_dict())
        two.eval()
        cases.append(("16ch x 2s", two, models.export_onnx(two, Path(tmp) / "two.onnx")))
        for name, model, path in cases:
            rng = np.random.default_rng(0)
            x = (rng.standard_normal((1, len(model.ch_names), model.n_times)) * 20).astype(
                np.float32
            )
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            feed = {"x": x}
            results.append(
                _row(
                    name,
                    "onnxruntime CPU (1 thread)",
                    _time(lambda s=sess, f=feed: s.run(None, f), n, warm),
                )
            )
            xt = torch.from_numpy(x)
            with torch.inference_mode():
                results.append(
                    _row(
                        name,
                        "torch eager CPU (1 thread)",
                        _time(lambda m=model, xx=xt: m(xx), n, warm),
                    )
                )
            if "CUDAExecutionProvider" in ort.get_available_providers():
                cs = ort.InferenceSession(str(path), providers=["CUDAExecutionProvider"])
                results.append(
                    _row(
                        name,
                        "onnxruntime CUDA",
                        _time(lambda s=cs, f=feed: s.run(None, f), n, warm),
                    )
                )
            if torch.cuda.is_available():
                gpu = torch.cuda.get_device_name()
                mc, xc = model.to("cuda"), xt.to("cuda")
                with torch.inference_mode():
                    results.append(
                        _row(
                            name,
                            "torch eager CUDA",
                            _time(lambda m=mc, xx=xc: m(xx).cpu(), n, warm),
                            gpu=gpu,
                        )
                    )
                model.to("cpu")
    return results


def markdown(results: list[dict]) -> str:
    """A Markdown table of :func:`run`'s results."""
    lines = [
        "| window | backend | p50 (ms) | p99 (ms) | max (ms) | n |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        backend = r["backend"] + (f" ({r['gpu']})" if r.get("gpu") else "")
        lines.append(
            f"| {r['name']} | {backend} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.2f} | {r['n']} |"
        )
    if results:
        lines.append(f"\nmachine: {results[0]['machine']}")
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res = run(quick=a.quick)
    sys.stdout.write(markdown(res) + "\n")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
