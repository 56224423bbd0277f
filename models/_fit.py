"""Supervised fine-tuning with a validation split and early stopping."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from bci._errors import ConfigError

logger = logging.getLogger(__name__)

#: Default learning rate per strategy.
LEARNING_RATES = {"linear_probe": 3e-3, "readin": 2e-3, "full": 1e-3, "scratch": 1e-3}


def _labels(model: torch.nn.Module, y: Sequence[Any]) -> np.ndarray:
    y = np.asarray(y)
    classes = getattr(model, "classes", None)
    if y.dtype.kind in "iu":
        labels = y.astype(np.int64)
    elif classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted({str(v) for v in y} - set(index))
        if unknown:
            raise ConfigError(f"labels {unknown} are not among the model's classes {classes}")
        labels = np.array([index[str(v)] for v in y], dtype=np.int64)
    else:
        raise ConfigError("string labels need a model with `classes`; pass integer labels")
    n_out = getattr(model, "n_classes", int(labels.max()) + 1)
    if labels.min() < 0 or labels.max() >= n_out:
        raise ConfigError(f"labels must lie in 0..{n_out - 1}, got {labels.min()}..{labels.max()}")
    return labels


def _split(labels: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """Stratified split: ``val_fraction`` of each class (at least one) goes to validation."""
    val = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val.extend(idx[:k])
    val = np.sort(np.array(val, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def fit(
    model: torch.nn.Module,
    X: np.ndarray,
    y: Sequence[Any],
    *,
    strategy: str | None = None,
    max_epochs: int = 60,
    val_fraction: float = 0.2,
    seed: int = 0,
    progress: bool = True,
    batch_size: int = 64,
    lr: float | None = None,
    weight_decay: float = 1e-2,
    patience: int = 8,
    device: str = "cpu",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Fine-tune a classifier with early stopping on a stratified validation split.

    Parameters
    ----------
    model : EncoderClassifier | torch.nn.Module
        From :func:`models.build_classifier` (or any module with a ``logits`` method,
        or whose ``forward`` returns logits).
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows in microvolts at the model's ``sfreq``.
    y : sequence
        Integer labels ``0..n_classes-1`` or class names from ``model.classes``.
    strategy : str | None
        ``linear_probe``, ``readin``, ``full`` or ``scratch``; default the model's own.
    max_epochs : int
        Upper bound on epochs.
    val_fraction : float
        Fraction of each class held out for early stopping (0 disables early stopping).
    seed : int
        Seeds the split, the shuffling and dropout (a ``torch.Generator``; no global seed).
    progress : bool
        Show a tqdm bar over epochs.
    batch_size, lr, weight_decay : float
        AdamW settings; ``lr`` defaults per strategy (:data:`LEARNING_RATES`).
    patience : int
        Epochs without a validation-loss improvement before stopping.
    device : str
        Torch device to train on.

    Returns
    -------
    model : torch.nn.Module
        The model with the best validation-loss weights restored, in eval mode, on CPU.
    history : dict
        ``train_loss``, ``val_loss``, ``val_acc`` (per epoch), ``best_epoch``,
        ``n_train``, ``n_val``, ``strategy``.
    """
    from tqdm.auto import tqdm

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ConfigError(f"X must be (n_windows, n_channels, n_times), got shape {X.shape}")
    labels = _labels(model, y)
    if len(labels) != len(X):
        raise ConfigError(f"{len(X)} windows but {len(labels)} labels")
    strategy = strategy or getattr(model, "strategy", "full")
    params = (
        model.trainable_parameters(strategy)
        if hasattr(model, "trainable_parameters")
        else [p for p in model.parameters() if p.requires_grad]
    )
    if hasattr(model, "strategy"):
        model.strategy = strategy
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    if val_fraction > 0:
        tr, va = _split(labels, val_fraction, rng)
    else:
        tr, va = np.arange(len(labels)), np.array([], dtype=np.int64)
    logits_fn = model.logits if hasattr(model, "logits") else model
    model.to(device)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(labels)
    frozen_encoder = strategy == "linear_probe" and hasattr(model, "features")
    if frozen_encoder:  # encoder frozen and deterministic: compute its features once
        model.eval()
        with torch.no_grad():
            feats = torch.cat(
                [model.features(Xt[i : i + 256].to(device)).cpu() for i in range(0, len(Xt), 256)]
            )

        def forward(idx: np.ndarray) -> torch.Tensor:
            return model.head(feats[idx].to(device))
    else:

        def forward(idx: np.ndarray) -> torch.Tensor:
            return logits_fn(Xt[idx].to(device))

    opt = torch.optim.AdamW(
        params, lr=lr or LEARNING_RATES.get(strategy, 1e-3), weight_decay=weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, max_epochs))
    history: dict[str, Any] = {
        "train_loss": [],
        "val_loss": [],
        "val_acc": [],
        "strategy": strategy,
    }
    history.update(n_train=int(len(tr)), n_val=int(len(va)), best_epoch=0)
    best = (float("inf"), copy.deepcopy(model.state_dict()))
    bad = 0
    bar = tqdm(range(max_epochs), desc=f"fit[{strategy}]", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        if frozen_encoder:
            model.encoder.eval()
        perm = tr[torch.randperm(len(tr), generator=gen).numpy()]
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(forward(idx), yt[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        history["train_loss"].append(total / max(1, len(tr)))
        if len(va):
            model.eval()
            with torch.no_grad():
                out = torch.cat([forward(va[i : i + 256]).cpu() for i in range(0, len(va), 256)])
            vloss = float(F.cross_entropy(out, yt[va]))
            vacc = float((out.argmax(1) == yt[va]).float().mean())
            history["val_loss"].append(vloss)
            history["val_acc"].append(vacc)
            bar.set_postfix(
                train=f"{history['train_loss'][-1]:.3f}", val=f"{vloss:.3f}", acc=f"{vacc:.2f}"
            )
            if vloss < best[0] - 1e-4:
                best = (vloss, copy.deepcopy(model.state_dict()))
                history["best_epoch"] = epoch
                bad = 0
            else:
                bad += 1
                if bad >= patience:
                    logger.info("early stop at epoch %d (best %d)", epoch, history["best_epoch"])
                    break
        else:
            best = (history["train_loss"][-1], copy.deepcopy(model.state_dict()))
            history["best_epoch"] = epoch
    model.load_state_dict(best[1])
    model.cpu().eval()
    return model, history
