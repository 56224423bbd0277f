"""Run an exported decoder with onnxruntime: the only model code on the live decode path.

The decoder contract (docs/design.md#decoder): input ``"x"`` float32 ``(batch, n_channels,
n_times)`` in microvolts after the runtime's preprocessing, output ``"y"`` float32
``(batch, n_outputs)``; metadata in ``model.metadata_props`` under keys prefixed ``bci.`` with
JSON-encoded values. This module imports onnxruntime and numpy only, never torch.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import DecoderError

logger = logging.getLogger(__name__)

INPUT_NAME = "x"
OUTPUT_NAME = "y"
META_PREFIX = "bci."


def default_decoder_path() -> Path:
    """Where the shipped default decoder lives: ``bci/models/weights/default.onnx``.

    The package is located without being imported: ``bci.models`` imports torch, which
    never belongs on the decode path.
    """
    spec = importlib.util.find_spec("bci.models")
    if spec is None or not spec.submodule_search_locations:
        raise DecoderError("bci.models is not installed: reinstall bci-runtime")
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "default.onnx"


def resolve_decoder_path(path: str | Path) -> Path:
    """Turn ``'default'``, an ``.onnx`` file or a calibration output folder into a file.

    Parameters
    ----------
    path : str | Path
        ``"default"`` (the shipped model), a ``.onnx`` file, or a directory holding
        ``model.onnx`` (what ``bci calibrate`` writes).

    Returns
    -------
    Path
        An existing ``.onnx`` file.

    Raises
    ------
    DecoderError
        When the file does not exist, naming the path that was tried and how to fix it.
    """
    if str(path) == "default":
        file = default_decoder_path()
        if not file.is_file():
            raise DecoderError(
                f"the default decoder {file} does not exist: the models package ships it "
                "(`bci export` writes it), or pass another one with `--decoder PATH|DIR` / "
                "`decoder.path` in the config"
            )
        return file
    file = Path(path).expanduser()
    if file.is_dir():
        inner = file / "model.onnx"
        if not inner.is_file():
            raise DecoderError(
                f"decoder directory {file} holds no model.onnx: pass a `bci calibrate` output "
                "folder or an .onnx file"
            )
        return inner
    if not file.is_file():
        raise DecoderError(f"decoder file {file} does not exist: check decoder.path / --decoder")
    return file


def _decode_metadata(raw: dict[str, str]) -> dict[str, Any]:
    """Decode ``bci.``-prefixed JSON metadata values; keys lose the prefix."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(META_PREFIX):
            continue
        short = key[len(META_PREFIX) :]
        try:
            out[short] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            logger.warning("decoder metadata %s is not JSON (%r): kept as a string", key, value)
            out[short] = value
    return out


def available_providers() -> list[str]:
    """The onnxruntime execution providers of this install."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


class DecoderONNX:
    """An ONNX decoder run by onnxruntime, one window at a time.

    Parameters
    ----------
    path : str | Path
        ``"default"``, an ``.onnx`` file, or a calibration output directory.
    provider : ``"auto"`` | ``"cpu"`` | ``"cuda"``
        ``"auto"`` uses the CUDA execution provider when onnxruntime offers it, else CPU.
    threads : int
        onnxruntime intra-op threads (1 gives the tightest tails on a busy 2-core host).

    Attributes
    ----------
    metadata : dict
        The ``bci.*`` metadata, JSON-decoded, keys without the ``bci.`` prefix
        (``sfreq``, ``ch_names``, ``n_times``, ``classes``, ``preprocess``, ``model_id``...).
    provider : str
        The execution provider in use (``"CUDAExecutionProvider"`` or
        ``"CPUExecutionProvider"``).
    n_channels, n_times : int
        The window shape the model takes.
    n_outputs : int | None
        Length of the output vector (``None`` until the first run when the graph leaves it
        symbolic).

    Notes
    -----
    ``__call__`` copies the window into one preallocated ``(1, n_channels, n_times)``
    float32 buffer and returns a view of the model output, so it allocates nothing of the
    window's size per call.
    """

    def __init__(self, path: str | Path = "default", provider: str = "auto", threads: int = 1):
        import onnxruntime as ort

        if provider not in ("auto", "cpu", "cuda"):
            raise DecoderError(f"provider={provider!r}: use 'auto', 'cpu' or 'cuda'")
        if int(threads) < 1:
            raise DecoderError(f"threads={threads!r}: use an integer >= 1")
        self.path = resolve_decoder_path(path)
        available = ort.get_available_providers()
        if provider == "cuda" and "CUDAExecutionProvider" not in available:
            raise DecoderError(
                "provider='cuda' but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use 'auto'"
            )
        want = ["CPUExecutionProvider"]
        if provider in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            want = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=want)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DecoderError(f"onnxruntime cannot load {self.path}: {exc}") from exc
        self.provider = self._session.get_providers()[0]
        if provider != "cpu" and want[0] != self.provider:
            logger.warning(
                "CUDA execution provider failed to initialise; running on %s", self.provider
            )
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise DecoderError(
                f"{self.path}: the decoder contract needs input 'x' and output 'y', the model has "
                f"inputs {list(inputs)} and outputs {list(outputs)}; re-export it with "
                "input_names=['x'], output_names=['y']"
            )
        self.metadata = _decode_metadata(self._session.get_modelmeta().custom_metadata_map)
        shape = list(inputs[INPUT_NAME].shape)
        if len(shape) != 3:
            raise DecoderError(
                f"{self.path}: input 'x' must be (batch, n_channels, n_times), got {shape}"
            )
        self.n_channels = self._dim(shape[1], "ch_names", "n_channels")
        self.n_times = self._dim(shape[2], "n_times", "n_times")
        out_shape = list(outputs[OUTPUT_NAME].shape)
        self.n_outputs: int | None = out_shape[-1] if isinstance(out_shape[-1], int) else None
        self._x = np.zeros((1, self.n_channels, self.n_times), dtype=np.float32)
        self._fixed_batch = isinstance(shape[0], int) and shape[0] == 1
        self._feed = {INPUT_NAME: self._x}
        self._out_names = [OUTPUT_NAME]
        self._y: np.ndarray | None = None
        self._binding: Any = None
        if self.provider == "CPUExecutionProvider":
            self._bind(ort)
        logger.info(
            "decoder %s (model_id=%s): %d ch x %d samples @ %s Hz, %s, %d thread(s)",
            self.path.name,
            self.model_id,
            self.n_channels,
            self.n_times,
            self.metadata.get("sfreq", "?"),
            self.provider,
            int(threads),
        )

    def _bind(self, ort: Any) -> None:
        """Bind the input buffer and a preallocated output once (CPU provider).

        ``run_with_iobinding`` then skips the per-call wrapping of the feed and allocation
        of the output: about 0.02 ms of a near-free model, 0.2-0.3 ms of the default one on
        the 2-core CI machine. The bound arrays share memory with ``_x`` and ``_y``.
        """
        try:
            y = self._session.run(self._out_names, self._feed)[0]
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DecoderError(f"onnxruntime cannot run {self.path.name}: {exc}") from exc
        self._y = np.zeros(y.shape, dtype=y.dtype)
        self.n_outputs = int(y.shape[-1])
        binding = self._session.io_binding()
        binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._x))
        binding.bind_ortvalue_output(OUTPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._y))
        self._binding = binding

    def _dim(self, graph_dim: object, meta_key: str, what: str) -> int:
        meta = self.metadata.get(meta_key)
        meta_n = len(meta) if isinstance(meta, list) else meta
        if isinstance(graph_dim, int) and graph_dim > 0:
            if isinstance(meta_n, int) and meta_n != graph_dim:
                raise DecoderError(
                    f"{self.path}: metadata bci.{meta_key} gives {what}={meta_n} but the graph "
                    f"input has {graph_dim}; re-export the model with consistent metadata"
                )
            return graph_dim
        if isinstance(meta_n, int) and meta_n > 0:
            return meta_n
        raise DecoderError(
            f"{self.path}: {what} is symbolic in the graph and metadata bci.{meta_key} is "
            "missing; export with a fixed size or add the metadata"
        )

    # -- properties ---------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The model identifier (metadata ``bci.model_id``, else the file stem)."""
        return str(self.metadata.get("model_id") or self.path.stem)

    @property
    def sfreq(self) -> float | None:
        """The sampling rate the model expects (metadata ``bci.sfreq``), or ``None``."""
        value = self.metadata.get("sfreq")
        return float(value) if value is not None else None

    @property
    def ch_names(self) -> list[str] | None:
        """The channel names in the model's order (metadata ``bci.ch_names``), or ``None``."""
        value = self.metadata.get("ch_names")
        return [str(v) for v in value] if isinstance(value, list) else None

    @property
    def classes(self) -> list[str] | None:
        """Class labels of the outputs (metadata ``bci.classes``), or ``None``."""
        value = self.metadata.get("classes")
        return [str(v) for v in value] if isinstance(value, list) else None

    @property
    def preprocess(self) -> dict[str, Any]:
        """Filters the model was trained with: ``{"bandpass": [lo, hi] | None, "notch": f | None}``."""
        value = self.metadata.get("preprocess")
        return dict(value) if isinstance(value, dict) else {}

    # -- running --------------------------------------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Decode one window.

        Parameters
        ----------
        x : ndarray, shape (n_channels, n_times)
            The preprocessed window in microvolts.

        Returns
        -------
        ndarray, shape (n_outputs,)
            The model output (class probabilities for classifiers).

        Raises
        ------
        DecoderError
            When the window's shape differs from the model's or onnxruntime fails.
        """
        if x.shape != self._x.shape[1:]:
            raise DecoderError(
                f"window shape {tuple(x.shape)} does not match the decoder's "
                f"(n_channels={self.n_channels}, n_times={self.n_times}); map channels with "
                "preprocess.channels or resample with preprocess.resample"
            )
        np.copyto(self._x[0], x, casting="same_kind")
        try:
            if self._binding is not None:
                self._session.run_with_iobinding(self._binding)
                return self._y[0].copy()
            y = self._session.run(self._out_names, self._feed)[0]
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DecoderError(f"onnxruntime failed on {self.path.name}: {exc}") from exc
        if self.n_outputs is None:
            self.n_outputs = int(y.shape[-1])
        return y[0]

    def decode_batch(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Decode many windows at once (virtual time): ``(n, n_channels, n_times)`` -> ``(n, n_outputs)``.

        Batches of ``batch_size`` go through onnxruntime in one run each; a model exported
        with a fixed batch of 1 is run window by window.

        Raises
        ------
        DecoderError
            When the windows' shape differs from the model's or onnxruntime fails.
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != self._x.shape[1:]:
            raise DecoderError(
                f"windows of shape {tuple(x.shape)} do not match the decoder's "
                f"(n, {self.n_channels}, {self.n_times})"
            )
        outs = []
        for a in range(0, len(x), batch_size):
            part = x[a : a + batch_size]
            try:
                if self._fixed_batch:
                    raise ValueError("fixed batch")
                outs.append(np.array(self._session.run(self._out_names, {INPUT_NAME: part})[0]))
            except Exception:  # noqa: BLE001 - a batch-1 graph: fall back to one at a time
                if not self._fixed_batch:
                    logger.debug("decoder %s takes batch 1 only: decoding one by one", self.path)
                    self._fixed_batch = True
                outs.append(np.stack([np.array(self(w)) for w in part]))
        if not outs:
            return np.zeros((0, self.n_outputs or 0), np.float32)
        return np.concatenate(outs).astype(np.float32, copy=False)

    def warmup(self, n: int = 10) -> float:
        """Run ``n`` inferences on zeros so the first live window is not the slow one.

        Returns
        -------
        float
            Median duration of the warm-up runs in milliseconds (``nan`` when ``n == 0``).
        """
        if n <= 0:
            return float("nan")
        zeros = np.zeros((self.n_channels, self.n_times), dtype=np.float32)
        times = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter()
            self(zeros)
            times[i] = time.perf_counter() - t0
        median = float(np.median(times) * 1e3)
        logger.info("decoder warm-up: %d runs, median %.3f ms on %s", n, median, self.provider)
        return median

    def check_input(self, ch_names: list[str] | tuple[str, ...], sfreq: float) -> None:
        """Check that windows of these channels at this rate fit the model.

        Raises
        ------
        DecoderError
            Naming what differs and how to map or resample.
        """
        if len(ch_names) != self.n_channels:
            raise DecoderError(
                f"the stream gives {len(ch_names)} channels after preprocessing but decoder "
                f"{self.path.name} expects {self.n_channels}"
                + (f" ({', '.join(self.ch_names)})" if self.ch_names else "")
                + "; select/reorder them with preprocess.channels"
            )
        want = self.sfreq
        if want is not None and abs(float(sfreq) - want) > 1e-6 * want:
            raise DecoderError(
                f"the stream runs at {sfreq:g} Hz after preprocessing but decoder "
                f"{self.path.name} expects {want:g} Hz; set preprocess.resample: {want:g}"
            )
        if self.ch_names is not None and list(ch_names) != self.ch_names:
            if sorted(ch_names) == sorted(self.ch_names):
                raise DecoderError(
                    f"channel order differs from decoder {self.path.name}'s {self.ch_names}; "
                    "set preprocess.channels to that list"
                )
            logger.warning(
                "channel names %s differ from the decoder's %s (same count): decoding anyway",
                list(ch_names),
                self.ch_names,
            )
