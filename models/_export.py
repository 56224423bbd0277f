"""ONNX export under the decoder contract, with an automatic onnxruntime-vs-torch check.

Contract (docs/design.md#decoder): input ``"x"`` float32 ``(batch, n_channels,
n_times)`` in microvolts, output ``"y"`` float32 ``(batch, n_outputs)``; metadata in
``model.metadata_props`` with ``bci.``-prefixed keys and JSON-encoded values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bci._errors import DecoderError

logger = logging.getLogger(__name__)

#: Metadata keys every export carries (without the ``bci.`` prefix).
REQUIRED_KEYS = (
    "sfreq",
    "ch_names",
    "n_times",
    "classes",
    "normalization",
    "preprocess",
    "version",
    "data_hash",
    "model_id",
)

#: Largest accepted max-abs difference between onnxruntime and torch.
PARITY_TOL = 1e-4


def data_hash(*arrays: np.ndarray | torch.Tensor) -> str:
    """SHA-256 (first 16 hex digits) of training arrays, for ``bci.data_hash``."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _default_metadata(model: torch.nn.Module) -> dict[str, Any]:
    import bci

    meta: dict[str, Any] = {"version": bci.__version__, "preprocess": None}
    for key in ("sfreq", "ch_names", "n_times", "classes", "normalization"):
        if hasattr(model, key):
            meta[key] = getattr(model, key)
    meta["model_id"] = type(model).__name__
    meta["data_hash"] = "unknown"
    return meta


def _check_metadata(meta: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise DecoderError(
            f"export metadata lacks {', '.join('bci.' + k for k in missing)}; pass them in "
            "`metadata` (keys without the 'bci.' prefix)"
        )
    pre = meta["preprocess"]
    if pre is not None and (not isinstance(pre, Mapping) or set(pre) - {"bandpass", "notch"}):
        raise DecoderError(
            f"bci.preprocess must be null or {{'bandpass': [lo, hi] | null, 'notch': f | null}}, "
            f"got {pre!r}"
        )


def parity_check(
    model: torch.nn.Module,
    path: str | Path,
    example: torch.Tensor,
    batches: tuple[int, ...] = (1, 8),
    tol: float = PARITY_TOL,
    seed: int = 0,
) -> float:
    """Run the ONNX file in onnxruntime (CPU) and the module in torch; compare outputs.

    Parameters
    ----------
    model : torch.nn.Module
        The exported module (put in eval mode).
    path : path-like
        The ONNX file.
    example : Tensor, shape (batch, n_channels, n_times)
        Sets shape and scale; inputs are random draws at its per-channel scale.
    batches : tuple of int
        Batch sizes to check.
    tol : float
        Largest accepted max-abs difference.
    seed : int
        Seed of the random inputs.

    Returns
    -------
    float
        The largest max-abs difference seen.

    Raises
    ------
    DecoderError
        When a difference exceeds ``tol``, or shapes differ, naming the batch size.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    scale = example.float().std(dim=(0, 2), keepdim=True).clamp_min(1.0)
    worst = 0.0
    model.eval()
    for b in batches:
        x = torch.randn((b, *example.shape[1:]), generator=gen) * scale
        with torch.no_grad():
            ref = model(x).detach().cpu().numpy()
        got = sess.run(["y"], {"x": x.numpy().astype(np.float32)})[0]
        if got.shape != ref.shape:
            raise DecoderError(
                f"ONNX export {path}: onnxruntime output shape {got.shape} != torch {ref.shape} "
                f"at batch {b}"
            )
        diff = float(np.max(np.abs(got - ref)))
        worst = max(worst, diff)
        if not np.isfinite(diff) or diff > tol:
            raise DecoderError(
                f"ONNX export {path} failed the parity check: max |onnxruntime - torch| = "
                f"{diff:.3g} > {tol:g} at batch {b}"
            )
    return worst


def export_onnx(
    model: torch.nn.Module,
    path: str | Path,
    metadata: Mapping[str, Any] | None = None,
    example: torch.Tensor | np.ndarray | None = None,
) -> Path:
    """Export a decoder to ONNX (docs/design.md#decoder) and verify it against torch.

    Parameters
    ----------
    model : torch.nn.Module
        Maps float32 ``(batch, n_channels, n_times)`` microvolts to ``(batch, n_outputs)``
        (class probabilities for classifiers). Models from :func:`build_classifier` carry
        ``sfreq``, ``ch_names``, ``n_times``, ``classes`` and ``normalization`` themselves.
    path : path-like
        Output ``.onnx`` file (one file, no external data).
    metadata : mapping | None
        Metadata without the ``bci.`` prefix; values are JSON-encoded. Overrides what the
        model carries. Required in the end: ``sfreq, ch_names, n_times, classes,
        normalization, preprocess, version, data_hash, model_id``; calibration adds
        ``user, paradigm, montage``.
    example : array | Tensor | None
        An input batch (batch >= 2 is used for tracing; a smaller one is repeated). Default:
        random microvolt-scale noise of the model's shape.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    DecoderError
        When metadata is incomplete, the export fails, or onnxruntime's output differs from
        torch's by more than 1e-4 (max abs) at batch 1 or 8. The file is removed then.

    Notes
    -----
    Uses the dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with a dynamic
    batch axis named ``batch`` and ``external_data=False``.
    """
    import onnx

    path = Path(path)
    meta = _default_metadata(model)
    meta.update(dict(metadata or {}))
    _check_metadata(meta)
    n_ch = len(meta["ch_names"])
    n_times = int(meta["n_times"])
    if example is None:
        example = torch.randn(2, n_ch, n_times) * 20.0
    example = torch.as_tensor(np.asarray(example), dtype=torch.float32)
    if example.ndim != 3 or tuple(example.shape[1:]) != (n_ch, n_times):
        raise DecoderError(
            f"export example has shape {tuple(example.shape)}; expected (batch, {n_ch}, {n_times})"
        )
    if example.shape[0] < 2:
        example = example.repeat(2, 1, 1)
    example = example[:8].contiguous()
    model = model.eval().cpu()
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    quiet = [logging.getLogger(n) for n in ("onnxscript", "onnx_ir", "torch.onnx", "torch._export")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["x"],
                output_names=["y"],
                dynamic_shapes={"x": {0: batch}},
                dynamo=True,
                external_data=False,
                optimize=True,
                verbose=False,
            )
    except Exception as exc:  # torch raises many types here; re-raise as ours, chained
        raise DecoderError(
            f"ONNX export of {type(model).__name__} to {path} failed: {exc}"
        ) from exc
    finally:
        for q, lvl in zip(quiet, levels, strict=True):
            q.setLevel(lvl)
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key = f"bci.{key}"
        entry.value = json.dumps(value)
    onnx.save(proto, str(path))
    try:
        worst = parity_check(model, path, example)
    except DecoderError:
        path.unlink(missing_ok=True)
        raise
    logger.info("exported %s (max |ORT - torch| = %.2g at batch 1 and 8)", path, worst)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Decoded ``bci.*`` metadata of an ONNX file (keys without the prefix)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    out = {}
    for p in proto.metadata_props:
        if p.key.startswith("bci."):
            try:
                out[p.key[4:]] = json.loads(p.value)
            except json.JSONDecodeError as exc:
                raise DecoderError(f"{path}: metadata {p.key} is not JSON: {p.value!r}") from exc
    return out
