"""braindecode encoders as alternative decoders, built from config; local weights loaded strictly.

Every registered architecture is wrapped the same way as the foundation classifier
(:class:`BraindecodeClassifier`: in-graph normalisation -> braindecode model -> softmax),
so it exports to the same decoder ONNX contract. Nothing is downloaded: published weights
are loaded from a local folder with :func:`load_weights`, which checks every key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bci._errors import ConfigError, DecoderError

from ._encoder import NORMALIZATION, WindowNorm
from ._weights import check_keys

logger = logging.getLogger(__name__)

#: File names looked for in a weights folder, in order.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pt", "model.pth")


@dataclass(frozen=True)
class EncoderEntry:
    """One registered braindecode architecture.

    Parameters
    ----------
    name : str
        Registry key (``labram``, ``cbramod``, ``eegpt``, ``eegnet``).
    cls : str
        Class name in ``braindecode.models``.
    small : dict
        Keyword arguments of a small, real-time-sized variant (tests and CPU use); the
        published architecture is the class default (``small=False``).
    note : str
        What it is.
    pass_ch_names : bool
        The model's ``forward`` takes ``ch_names=`` (LaBraM selects its position
        embeddings by name).
    """

    name: str
    cls: str
    small: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    pass_ch_names: bool = False


REGISTRY: dict[str, EncoderEntry] = {
    e.name: e
    for e in (
        EncoderEntry(
            "labram",
            "Labram",
            {"patch_size": 50, "embed_dim": 50, "num_layers": 2, "num_heads": 2},
            "LaBraM (Jiang et al. 2024): channel-patch transformer with learned temporal patcher",
            pass_ch_names=True,
        ),
        EncoderEntry(
            "cbramod",
            "CBraMod",
            {"patch_size": 200, "n_layer": 2, "nhead": 2, "emb_dim": 50, "dim_feedforward": 64},
            "CBraMod (Wang et al. 2025): criss-cross spatial/temporal attention",
        ),
        EncoderEntry(
            "eegpt",
            "EEGPT",
            {
                "patch_size": 50,
                "patch_stride": 50,
                "embed_dim": 32,
                "depth": 2,
                "num_heads": 2,
                "embed_num": 2,
            },
            "EEGPT (Wang et al. 2024): summary-token transformer with channel embeddings",
        ),
        EncoderEntry(
            "eegnet", "EEGNet", {}, "EEGNet (Lawhern et al. 2018): the small convolutional baseline"
        ),
    )
}


class BraindecodeClassifier(nn.Module):
    """A braindecode model behind the decoder contract: normalise -> model -> softmax.

    Attributes ``ch_names``, ``sfreq``, ``n_times``, ``classes``, ``normalization`` fill the
    export metadata; ``builder`` records how to rebuild it (for checkpoints).
    """

    def __init__(
        self,
        model: nn.Module,
        ch_names: Sequence[str],
        sfreq: float,
        n_times: int,
        classes: Sequence[str],
        builder: dict[str, Any],
    ):
        super().__init__()
        self.norm = WindowNorm()
        self.model = model
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.n_times = int(n_times)
        self.classes = [str(c) for c in classes]
        self.n_classes = len(self.classes)
        self.normalization = NORMALIZATION
        self.builder = builder
        self.strategy = "full"
        self._fwd_kwargs = (
            {"ch_names": self.ch_names} if REGISTRY[builder["name"]].pass_ch_names else {}
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised class scores."""
        return self.model(self.norm(x), **self._fwd_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(batch, n_classes)``."""
        return torch.softmax(self.logits(x), dim=-1)


def build_braindecode(
    name: str,
    ch_names: Sequence[str],
    sfreq: float,
    n_times: int,
    n_classes: int,
    *,
    classes: Sequence[str] | None = None,
    small: bool = True,
    weights: str | Path | None = None,
    **kwargs: Any,
) -> BraindecodeClassifier:
    """Build a registered braindecode encoder as a classifier, from config.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`: ``labram``, ``cbramod``, ``eegpt``, ``eegnet``.
    ch_names : sequence of str
        Channel labels (passed as ``chs_info``).
    sfreq : float
        Input rate (Hz).
    n_times : int
        Window length in samples.
    n_classes : int
        Number of outputs.
    classes : sequence of str | None
        Class names.
    small : bool
        Use the registry's small variant (default; real-time sized). ``False`` builds the
        published architecture (the class defaults), which published weights need.
    weights : path-like | None
        A local folder (or file) of weights for the braindecode module, loaded strictly
        (:func:`load_weights`). Nothing is downloaded.
    **kwargs
        Overrides of the architecture's keyword arguments.

    Returns
    -------
    BraindecodeClassifier
    """
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown encoder {name!r}; registered: {', '.join(REGISTRY)}",
            [("encoder", name, " | ".join(REGISTRY))],
        )
    import braindecode.models as bm

    entry = REGISTRY[name]
    args = dict(entry.small) if small else {}
    args.update(kwargs)
    chs_info = [{"ch_name": c, "kind": "eeg"} for c in ch_names]
    try:
        module = getattr(bm, entry.cls)(
            n_chans=len(ch_names),
            n_outputs=n_classes,
            n_times=int(n_times),
            sfreq=float(sfreq),
            chs_info=chs_info,
            **args,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build {entry.cls} with {args}: {exc}") from exc
    if weights is not None:
        load_weights(module, weights)
    builder = {"name": name, "kwargs": {**args, "small": False}}
    return BraindecodeClassifier(
        module, ch_names, sfreq, n_times, classes or [str(i) for i in range(n_classes)], builder
    )


def _weights_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for f in WEIGHT_FILES:
            if (p / f).is_file():
                return p / f
        raise DecoderError(f"no weights in {p}: expected one of {', '.join(WEIGHT_FILES)}")
    raise DecoderError(f"weights folder {p} does not exist")


def load_weights(module: nn.Module, path: str | Path) -> nn.Module:
    """Load local weights into a module with strict key checking (offline).

    Parameters
    ----------
    module : torch.nn.Module
        The freshly built architecture (the braindecode module itself).
    path : path-like
        A folder holding ``model.safetensors``, ``pytorch_model.bin``, ``model.pt`` or
        ``model.pth`` (a state dict), or such a file.

    Returns
    -------
    torch.nn.Module
        ``module``, loaded.

    Raises
    ------
    DecoderError
        Missing folder/file, or any missing, unexpected or mis-shaped key (all listed).
    """
    f = _weights_file(path)
    if f.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise DecoderError(
                f"{f} is a safetensors file; `pip install safetensors` to read it, or save the "
                "state dict as pytorch_model.bin"
            ) from exc
        state = load_file(str(f))
    else:
        state = torch.load(f, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise DecoderError(f"{f} does not hold a state dict")
    check_keys(module, state, str(f))
    module.load_state_dict(state, strict=True)
    logger.info("loaded %s weights from %s", type(module).__name__, f)
    return module


def save_weights(module: nn.Module, folder: str | Path) -> Path:
    """Write a module's state dict as ``folder/pytorch_model.bin`` (readable by :func:`load_weights`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pytorch_model.bin"
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, path)
    return path
