"""Encoder checkpoints: save, load (strict), and the shipped default weights."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from bci._errors import DecoderError

from ._encoder import EncoderConfig, FoundationEncoder

logger = logging.getLogger(__name__)

#: Folder of the shipped weights (``encoder.pt``, ``default.onnx``, ``MODEL_CARD.md``).
WEIGHTS_DIR = Path(__file__).parent / "weights"
CHECKPOINT_KIND = "bci-foundation-encoder"


def save_encoder(encoder: FoundationEncoder, path: str | Path, **extra: Any) -> Path:
    """Save an encoder checkpoint (config + state dict + ``extra`` info).

    Parameters
    ----------
    encoder : FoundationEncoder
        The encoder.
    path : path-like
        Output ``.pt`` file.
    **extra
        JSON-like values stored under ``"info"`` (data hash, epochs, losses...).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    torch.save(
        {
            "kind": CHECKPOINT_KIND,
            "config": encoder.config.to_dict(),
            "state_dict": state,
            "info": dict(extra),
        },
        path,
    )
    return path


def check_keys(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Raise :class:`bci.DecoderError` listing every missing, unexpected or mis-shaped key.

    Parameters
    ----------
    model : torch.nn.Module
        The module the weights are for.
    state_dict : dict
        The weights.
    source : str
        Where they came from (named in the error).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = sorted(
        f"{k} (file {tuple(state_dict[k].shape)} != model {tuple(own[k].shape)})"
        for k in set(own) & set(state_dict)
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {', '.join(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {', '.join(shapes)}")
        raise DecoderError(
            f"weights in {source} do not match {type(model).__name__} (strict loading): "
            + "; ".join(parts)
        )


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_encoder` or ``bci pretrain``."""
    path = Path(path)
    if not path.is_file():
        raise DecoderError(f"encoder checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of many kinds
        raise DecoderError(f"cannot read encoder checkpoint {path}: {exc}") from exc
    if isinstance(ckpt, dict) and "encoder" in ckpt and "config" in ckpt:  # bci pretrain last.pt
        return {
            "config": ckpt["config"],
            "state_dict": ckpt["encoder"],
            "info": ckpt.get("info", {}),
        }
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise DecoderError(f"{path} is not a bci encoder checkpoint (no 'state_dict')")
    return ckpt


def load_encoder(path: str | Path = "default") -> FoundationEncoder:
    """Load a foundation encoder with strict key checking.

    Parameters
    ----------
    path : path-like | "default"
        ``"default"``: the shipped weights ``models/weights/encoder.pt``. Otherwise an
        encoder checkpoint (``save_encoder``), a ``bci pretrain`` checkpoint
        (``last.pt``/``encoder.pt``) or a folder holding ``encoder.pt``.

    Returns
    -------
    FoundationEncoder
        In eval mode, on CPU.

    Raises
    ------
    DecoderError
        When the file is missing or unreadable, or its keys do not match (the error lists
        the keys).
    """
    p = WEIGHTS_DIR / "encoder.pt" if str(path) == "default" else Path(path)
    if p.is_dir():
        p = p / "encoder.pt"
    ckpt = load_checkpoint(p)
    config = EncoderConfig(**ckpt["config"])
    enc = FoundationEncoder(config)
    check_keys(enc, ckpt["state_dict"], str(p))
    enc.load_state_dict(ckpt["state_dict"], strict=True)
    logger.info("loaded encoder %s (%d parameters)", p, enc.n_params)
    return enc.eval()


def save_classifier(model: torch.nn.Module, path: str | Path, metadata: dict | None = None) -> Path:
    """Save a trained decoder so that ``bci export CHECKPOINT -o model.onnx`` can export it.

    Parameters
    ----------
    model : EncoderClassifier | BraindecodeClassifier
        From :func:`bci.models.build_classifier` or :func:`bci.models.build_braindecode`.
    path : path-like
        Output ``.pt`` file.
    metadata : dict | None
        Extra export metadata (``data_hash``, ``preprocess``, ``user``...), no ``bci.`` prefix.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "ch_names": list(model.ch_names),
        "sfreq": float(model.sfreq),
        "n_times": int(model.n_times),
        "classes": list(model.classes),
    }
    if hasattr(model, "builder"):  # a braindecode model from the registry
        kind, extra = "bci-braindecode", {"builder": model.builder}
    else:
        kind, extra = (
            "bci-classifier",
            {
                "encoder_config": model.encoder.config.to_dict(),
                "strategy": model.strategy,
                "pooling": model.pooling,
            },
        )
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save(
        {"kind": kind, **spec, **extra, "state_dict": state, "metadata": dict(metadata or {})},
        path,
    )
    return path


def load_classifier(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Load a decoder checkpoint written by :func:`save_classifier` (strict keys).

    Returns
    -------
    model : torch.nn.Module
        In eval mode.
    metadata : dict
        The export metadata stored with it.
    """
    path = Path(path)
    if not path.is_file():
        raise DecoderError(f"decoder checkpoint {path} does not exist")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of many kinds
        raise DecoderError(f"cannot read decoder checkpoint {path}: {exc}") from exc
    kind = ck.get("kind") if isinstance(ck, dict) else None
    if kind == "bci-classifier":
        from ._classifier import EncoderClassifier

        enc = FoundationEncoder(EncoderConfig(**ck["encoder_config"]))
        model = EncoderClassifier(
            enc,
            ck["ch_names"],
            ck["sfreq"],
            ck["n_times"],
            len(ck["classes"]),
            ck["strategy"],
            ck["classes"],
            ck.get("pooling", "last"),
        )
    elif kind == "bci-braindecode":
        from ._registry import build_braindecode

        b = ck["builder"]
        model = build_braindecode(
            b["name"],
            ck["ch_names"],
            ck["sfreq"],
            ck["n_times"],
            len(ck["classes"]),
            classes=ck["classes"],
            **b.get("kwargs", {}),
        )
    else:
        raise DecoderError(
            f"{path} is not a decoder checkpoint (kind {kind!r}); write one with "
            "bci.models.save_classifier"
        )
    check_keys(model, ck["state_dict"], str(path))
    model.load_state_dict(ck["state_dict"], strict=True)
    return model.eval(), dict(ck.get("metadata", {}))
