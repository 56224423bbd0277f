"""Supervised fine-tuning with a validation split and early stopping."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
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


def _split(
    labels: np.ndarray,
    val_fraction: float,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: ``val_fraction`` of each class (at least one) goes to validation.

    With ``groups`` (trial ids) whole trials are drawn, so windows of one trial never fall on
    both sides; a trial counts for the class of its first window.
    """
    if groups is None or len(np.unique(groups)) == len(groups):  # one window per trial
        groups = np.arange(len(labels))  # trial = window index: the same draws as per window
    ug, first = np.unique(groups, return_index=True)
    glabels = labels[first]
    val_groups = []
    for c in np.unique(glabels):
        g = rng.permutation(ug[glabels == c])
        k = max(1, int(round(len(g) * val_fraction))) if len(g) > 1 else 0
        val_groups.extend(g[:k])
    val = np.flatnonzero(np.isin(groups, np.asarray(val_groups, dtype=groups.dtype)))
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
    probe_epochs: int = 0,
    probe_patience: int = 10,
    probe_solver: str = "adamw",
    encoder_lr_scale: float = 1.0,
    max_train_windows: int | None = None,
    groups: Sequence[Any] | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Fine-tune a classifier with early stopping on a stratified validation split.

    Parameters
    ----------
    model : EncoderClassifier | torch.nn.Module
        From :func:`bci.models.build_classifier` (or any module with a ``logits`` method,
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
    probe_epochs : int
        Linear probing before fine-tuning (LP-FT, Kumar et al. 2022): first train only the
        head, for up to this many epochs, on features of the frozen encoder computed once
        (cheap), with early stopping (``probe_patience``); then train what ``strategy``
        trains, starting from that head. The fine-tuning stage keeps the probed model when no
        epoch beats its validation loss. 0 (default) skips it. For ``linear_probe`` the probe
        is the whole training and ``max_epochs`` / ``patience`` apply to it.
    probe_patience : int
        Early-stopping patience of the probing stage.
    probe_solver : {"adamw", "logistic"}
        How the probe is fitted: ``adamw`` epochs (above), or ``logistic``: the convex
        problem solved to convergence, L2-regularised multinomial logistic regression on the
        head's normalised features (standardisation folded into the head's linear layer),
        its ``C`` chosen among :data:`PROBE_CS` by :data:`PROBE_FOLDS`-fold cross-validated
        log loss on the training split, folds grouped by ``groups`` (by validation loss
        when a class has fewer than 2 training trials), the validation split left to the
        fine-tuning stage (the standard linear-probe protocol of self-supervised learning;
        no epochs to tune).
    encoder_lr_scale : float
        Learning rate of the encoder and read-in relative to the head's (discriminative
        learning rates: < 1 keeps pretrained features close to where they were).
    max_train_windows : int | None
        Train the fine-tuning stage on at most this many windows of the training split (a
        random subset drawn once, for speed); the probing stage and the validation split use
        every window (the probe's features are computed once, so that is cheap). ``None``:
        every window.
    groups : sequence | None
        Trial id of each window (windows cut from one trial share it). The validation split
        and the cross-validation that picks the probe's ``C`` then keep the windows of one
        trial on one side (overlapping windows of a trial on both sides make the held-out
        loss optimistic). ``None`` (default): every window is its own trial.

    Returns
    -------
    model : torch.nn.Module
        The model with the best validation-loss weights restored, in eval mode, on CPU.
    history : dict
        ``train_loss``, ``val_loss``, ``val_acc`` (per epoch), ``best_epoch``,
        ``n_train``, ``n_val``, ``n_finetune`` (windows the fine-tuning stage trains on),
        ``strategy``; with probing also ``probe_epochs`` and ``probe_val_loss``
        (``best_epoch`` -1: no fine-tuning epoch beat the probed head).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ConfigError(f"X must be (n_windows, n_channels, n_times), got shape {X.shape}")
    labels = _labels(model, y)
    if len(labels) != len(X):
        raise ConfigError(f"{len(X)} windows but {len(labels)} labels")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != labels.shape:
            raise ConfigError(
                f"groups must give one trial id per window ({len(labels)}), got shape "
                f"{groups.shape}; pass groups=None when the windows are independent"
            )
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
        tr, va = _split(labels, val_fraction, rng, groups)
    else:
        tr, va = np.arange(len(labels)), np.array([], dtype=np.int64)
    logits_fn = model.logits if hasattr(model, "logits") else model
    model.to(device)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(labels)
    base_lr = lr or LEARNING_RATES.get(strategy, 1e-3)
    history: dict[str, Any] = {
        "train_loss": [],
        "val_loss": [],
        "val_acc": [],
        "strategy": strategy,
    }
    history.update(n_train=int(len(tr)), n_val=int(len(va)), best_epoch=0)
    can_probe = hasattr(model, "features") and hasattr(model, "head")
    probe_only = strategy == "linear_probe" and can_probe
    if probe_only or (probe_epochs > 0 and can_probe):
        # encoder frozen and deterministic while probing: compute its features once
        model.eval()
        with torch.no_grad():
            feats = torch.cat(
                [model.features(Xt[i : i + 256].to(device)).cpu() for i in range(0, len(Xt), 256)]
            )

        def probe_forward(idx: np.ndarray) -> torch.Tensor:
            return model.head(feats[idx].to(device))

        run = _Run(model, yt, tr, va, gen, batch_size, device, progress)
        if probe_solver == "logistic":
            history["probe_C"] = _probe_logistic(model, feats, labels, tr, va, run, groups)
            run.best = (
                run._val(probe_forward)[0] if len(va) else 0.0,
                copy.deepcopy(model.state_dict()),
            )
        else:
            probe_lr = lr if probe_only and lr else LEARNING_RATES["linear_probe"]
            run.train(
                probe_forward,
                [{"params": list(model.head.parameters()), "lr": probe_lr}],
                max_epochs if probe_only else probe_epochs,
                patience if probe_only else probe_patience,
                weight_decay,
                "linear_probe",
                frozen=True,
            )
            history["probe_epochs"] = len(run.history["train_loss"])
        history["probe_val_loss"] = run.best[0] if len(va) else None
        if probe_only:
            history.update(run.history)
            return _finish(model, run.best[1], history)
        model.load_state_dict(run.best[1])
        init_best = run.best[0] if len(va) else None
    else:
        init_best = None

    if max_train_windows is not None and len(tr) > max_train_windows:
        tr = np.sort(rng.choice(tr, max_train_windows, replace=False))
    history["n_finetune"] = int(len(tr))

    def forward(idx: np.ndarray) -> torch.Tensor:
        return logits_fn(Xt[idx].to(device))

    head_ids = {id(p) for p in model.head.parameters()} if hasattr(model, "head") else set()
    body = [p for p in params if id(p) not in head_ids]
    groups = [{"params": [p for p in params if id(p) in head_ids], "lr": base_lr}]
    groups.append({"params": body, "lr": base_lr * encoder_lr_scale})
    groups = [g for g in groups if g["params"]]
    run = _Run(model, yt, tr, va, gen, batch_size, device, progress)
    run.train(forward, groups, max_epochs, patience, weight_decay, strategy, init_best=init_best)
    history.update(run.history)
    return _finish(model, run.best[1], history)


#: Inverse L2 strengths tried by the ``logistic`` probe.
PROBE_CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Folds of the cross-validation that picks the probe's ``C`` on the training split.
PROBE_FOLDS = 5


def _probe_logistic(
    model: torch.nn.Module,
    feats: torch.Tensor,
    labels: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    run: _Run,
    groups: np.ndarray | None = None,
) -> float:
    """Fit the head's last linear layer as a logistic regression; return the chosen ``C``."""
    from sklearn.linear_model import LogisticRegression

    with torch.no_grad():
        z = model.head[0](feats).numpy().astype(np.float64)  # the head's normalisation
    mu, sd = z[tr].mean(axis=0), z[tr].std(axis=0) + 1e-6
    zs = (z - mu) / sd
    lin = model.head[-1]
    n_out = lin.out_features

    def set_head(lr_: LogisticRegression) -> None:
        coef = np.zeros((n_out, z.shape[1]))
        icpt = np.full(n_out, -1e4)  # a class absent from training keeps a very low logit
        present = lr_.classes_.astype(int)
        if len(present) == 2 and lr_.coef_.shape[0] == 1:
            c2 = np.vstack([-lr_.coef_[0] / 2, lr_.coef_[0] / 2])
            i2 = np.array([-lr_.intercept_[0] / 2, lr_.intercept_[0] / 2])
        else:
            c2, i2 = lr_.coef_, lr_.intercept_
        coef[present], icpt[present] = c2, i2
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(coef / sd, dtype=lin.weight.dtype))
            lin.bias.copy_(torch.tensor(icpt - (coef / sd) @ mu, dtype=lin.bias.dtype))

    g = None if groups is None else groups[tr]
    n_folds = min(PROBE_FOLDS, _min_class_count(labels[tr], g))
    if n_folds >= 2:
        return _probe_logistic_cv(zs, labels, tr, n_folds, run.gen, set_head, g)
    best: tuple[float, float, dict] | None = None
    for C in PROBE_CS if len(va) else (0.1,):
        clf = LogisticRegression(C=C, max_iter=1000).fit(zs[tr], labels[tr])
        set_head(clf)
        if not len(va):
            return C
        with torch.no_grad():
            out = model.head[-1](torch.from_numpy(z[va]).to(lin.weight.dtype))
        vloss = float(F.cross_entropy(out, run.yt[va]))
        if best is None or vloss < best[0]:
            best = (vloss, C, copy.deepcopy(model.head.state_dict()))
    model.head.load_state_dict(best[2])
    return best[1]


def _min_class_count(labels: np.ndarray, groups: np.ndarray | None) -> int:
    """Fewest windows (or trials, with ``groups``) of a class in ``0..labels.max()``."""
    if not len(labels):
        return 0
    if groups is None:
        return int(np.bincount(labels).min())
    _, first = np.unique(np.stack([labels, groups]).astype(str), axis=1, return_index=True)
    return int(np.bincount(labels[first]).min())


def _inner_folds(
    labels: np.ndarray, n_folds: int, seed: int, groups: np.ndarray | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold over windows, or over trials (``StratifiedGroupKFold``) with groups.

    When every window is its own trial both are the same split; the plain one is used, so
    results do not change for independent windows.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    dummy = np.zeros((len(labels), 1))
    if groups is None or len(np.unique(groups)) == len(groups):  # one window per trial
        cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return list(cv.split(dummy, labels))
    cv = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
    return list(cv.split(dummy, labels, groups))


def _probe_logistic_cv(
    zs: np.ndarray,
    labels: np.ndarray,
    tr: np.ndarray,
    n_folds: int,
    gen: torch.Generator,
    set_head: Callable[[Any], None],
    groups: np.ndarray | None = None,
) -> float:
    """Pick ``C`` by stratified k-fold log loss on the training split; fit it there.

    The validation split stays untouched (the fine-tuning stage stops on it). With a few
    dozen trials one 20 % validation split holds a handful of them, too few to choose ``C``.
    ``groups`` (trial ids of ``tr``) keep the windows of one trial in one fold.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    Z, y = zs[tr], labels[tr]
    classes = np.unique(y)
    folds = _inner_folds(y, n_folds, seed, groups)
    scores = []
    for C in PROBE_CS:
        losses = []
        for a, b in folds:
            clf = LogisticRegression(C=C, max_iter=1000).fit(Z[a], y[a])
            p = np.full((len(b), len(classes)), 1e-15)  # a class absent from the fold's train
            p[:, np.searchsorted(classes, clf.classes_)] = clf.predict_proba(Z[b])
            losses.append(log_loss(y[b], p / p.sum(axis=1, keepdims=True), labels=classes))
        scores.append(-float(np.mean(losses)))
    C = PROBE_CS[int(np.argmax(scores))]
    set_head(LogisticRegression(C=C, max_iter=1000).fit(Z, y))
    return C


def _finish(model: torch.nn.Module, state: dict, history: dict) -> tuple[torch.nn.Module, dict]:
    model.load_state_dict(state)
    model.cpu().eval()
    return model, history


class _Run:
    """One AdamW + cosine training stage with early stopping on the validation loss."""

    def __init__(self, model, yt, tr, va, gen, batch_size, device, progress):
        self.model, self.yt, self.tr, self.va = model, yt, tr, va
        self.gen, self.batch_size, self.device, self.progress = gen, batch_size, device, progress
        self.history: dict[str, Any] = {"train_loss": [], "val_loss": [], "val_acc": []}
        self.best: tuple[float, dict] = (float("inf"), {})

    def _val(self, forward) -> tuple[float, float]:
        va, model = self.va, self.model
        model.eval()
        with torch.no_grad():
            out = torch.cat([forward(va[i : i + 256]).cpu() for i in range(0, len(va), 256)])
        return float(F.cross_entropy(out, self.yt[va])), float(
            (out.argmax(1) == self.yt[va]).float().mean()
        )

    def train(
        self,
        forward,
        groups: list[dict],
        max_epochs: int,
        patience: int,
        weight_decay: float,
        desc: str,
        *,
        frozen: bool = False,
        init_best: float | None = None,
    ) -> None:
        """Train ``groups`` for up to ``max_epochs``; keep the best validation-loss state.

        ``init_best``: validation loss of the starting state, which stays the best unless an
        epoch beats it (a warm start is never made worse by the next stage).
        """
        from tqdm.auto import tqdm

        model, tr, va, yt, h = self.model, self.tr, self.va, self.yt, self.history
        self.best = (
            float("inf") if init_best is None else init_best,
            copy.deepcopy(model.state_dict()),
        )
        opt = torch.optim.AdamW(groups, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, max_epochs))
        h["best_epoch"] = -1 if init_best is not None else 0
        bad = 0
        bar = tqdm(range(max_epochs), desc=f"fit[{desc}]", disable=not self.progress, leave=False)
        for epoch in bar:
            model.train()
            if frozen and hasattr(model, "encoder"):
                model.encoder.eval()
            perm = tr[torch.randperm(len(tr), generator=self.gen).numpy()]
            total = 0.0
            for i in range(0, len(perm), self.batch_size):
                idx = perm[i : i + self.batch_size]
                loss = F.cross_entropy(forward(idx), yt[idx].to(self.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            sched.step()
            h["train_loss"].append(total / max(1, len(tr)))
            if len(va):
                vloss, vacc = self._val(forward)
                h["val_loss"].append(vloss)
                h["val_acc"].append(vacc)
                bar.set_postfix(
                    train=f"{h['train_loss'][-1]:.3f}", val=f"{vloss:.3f}", acc=f"{vacc:.2f}"
                )
                if vloss < self.best[0] - 1e-4:
                    self.best = (vloss, copy.deepcopy(model.state_dict()))
                    h["best_epoch"] = epoch
                    bad = 0
                else:
                    bad += 1
                    if bad >= patience:
                        logger.info("early stop at epoch %d (best %d)", epoch, h["best_epoch"])
                        break
            else:
                self.best = (h["train_loss"][-1], copy.deepcopy(model.state_dict()))
                h["best_epoch"] = epoch
