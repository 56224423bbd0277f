"""The default decoder of ``bci run``: the encoder fine-tuned on the simulated SSVEP paradigm.

``python -m bci.models._default -o models/weights`` rebuilds ``models/weights/default.onnx``:
simulated participants (``bci.devices.simulated.simulate``, default 16-channel montage at
250 Hz, default SSVEP paradigm 8/10/12/15 Hz, 2 s on / 1 s rest) are filtered causally
the way the runtime will (:data:`PREPROCESS`), cut into 1 s windows, and the shipped
encoder is fine-tuned (``full``); accuracy is measured on a participant seed never
trained on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Filters the default decoder was trained with (``bci.preprocess``).
PREPROCESS = {"bandpass": [3.0, 40.0], "notch": 50.0}
WINDOW = 1.0
#: Window starts relative to a stimulus onset (s): the 2 s flicker gives 4 windows.
OFFSETS = (0.2, 0.45, 0.7, 0.95)


def causal_filter(data: np.ndarray, sfreq: float, preprocess: dict = PREPROCESS) -> np.ndarray:
    """Causal band-pass + notch (``sosfilt`` from rest), as the runtime filters a stream."""
    from scipy.signal import butter, iirnotch, sosfilt, tf2sos

    out = np.asarray(data, dtype=np.float64)
    if preprocess.get("notch"):
        b, a = iirnotch(preprocess["notch"], 30.0, fs=sfreq)
        out = sosfilt(tf2sos(b, a), out, axis=-1)
    if preprocess.get("bandpass"):
        lo, hi = preprocess["bandpass"]
        out = sosfilt(butter(4, [lo, hi], btype="bandpass", fs=sfreq, output="sos"), out, axis=-1)
    return out.astype(np.float32)


def ssvep_windows(
    seeds: Sequence[int], minutes: float, snr: float = 1.0
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Labelled 1 s windows of simulated SSVEP sessions.

    Parameters
    ----------
    seeds : sequence of int
        Participant seeds (one session each).
    minutes : float
        Minutes per session.
    snr : float
        The simulator's response scale (1 = realistic).

    Returns
    -------
    X : ndarray, shape (n_windows, 16, 250), float32, microvolts
    y : ndarray of int
    classes : list of str
        ``["8.0", "10.0", "12.0", "15.0", "rest"]``.
    ch_names : list of str
    """
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import SSVEP_FREQUENCIES, simulate

    classes = [f"{float(f):.1f}" for f in SSVEP_FREQUENCIES] + ["rest"]
    X, y = [], []
    ch_names: list[str] = []
    for seed in seeds:
        rec, _ = simulate(SimulatedSourceConfig(seed=seed, snr=snr), duration=60.0 * minutes)
        sig = rec.signals[0]
        sf = sig.spec.sfreq
        ch_names = list(sig.spec.ch_names)
        data = causal_filter(sig.data, sf)
        n = int(WINDOW * sf)
        for m in rec.markers:
            if m.value == "rest":
                label, offsets = "rest", (0.0,)
            elif m.value.startswith("ssvep_"):
                label, offsets = f"{float(m.value[6:]):.1f}", OFFSETS
            else:
                continue
            for off in offsets:
                a = int(round((m.timestamp + off) * sf))
                if a >= int(5 * sf) and a + n <= data.shape[1]:  # skip the filter's settling
                    X.append(data[:, a : a + n])
                    y.append(classes.index(label))
    return np.stack(X), np.array(y), classes, ch_names


def build_default(
    out: str | Path,
    train_seeds: Sequence[int] = (0, 1, 2, 3),
    test_seed: int = 7,
    minutes: float = 8.0,
    max_epochs: int = 80,
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    """Fine-tune the shipped encoder on simulated SSVEP and export ``default.onnx``.

    Returns
    -------
    dict
        Accuracies (validation and the held-out participant), sizes, and the paths written.
    """
    import torch

    from ._classifier import build_classifier
    from ._export import data_hash, export_onnx
    from ._fit import fit
    from ._weights import load_encoder, save_classifier

    out = Path(out)
    X, y, classes, ch = ssvep_windows(train_seeds, minutes)
    Xt, yt, _, _ = ssvep_windows([test_seed], minutes / 2)
    logger.info("default decoder: %d training windows, %d test windows", len(X), len(Xt))
    model = build_classifier(
        load_encoder("default"), ch, 250.0, X.shape[-1], len(classes), "full", classes=classes
    )
    model, hist = fit(
        model, X, y, strategy="full", max_epochs=max_epochs, patience=12, seed=seed, device=device
    )
    with torch.no_grad():
        pred = (
            torch.cat([model(torch.from_numpy(Xt[i : i + 256])) for i in range(0, len(Xt), 256)])
            .argmax(1)
            .numpy()
        )
    acc = float((pred == yt).mean())
    meta = {
        "preprocess": PREPROCESS,
        "data_hash": data_hash(X, y),
        "model_id": "bci-default-ssvep-v1",
        "paradigm": "ssvep",
        "montage": "simulated-16",
        "user": "simulated",
    }
    save_classifier(model, out / "default.pt", meta)
    export_onnx(model, out / "default.onnx", meta, Xt[:8])
    report = {
        "train_seeds": list(train_seeds),
        "test_seed": test_seed,
        "minutes_per_seed": minutes,
        "n_train_windows": int(len(X)),
        "n_test_windows": int(len(Xt)),
        "val_acc": hist["val_acc"][hist["best_epoch"]] if hist["val_acc"] else None,
        "test_acc": acc,
        "chance": float(np.bincount(yt).max() / len(yt)),
        "confusion": np.bincount(yt * len(classes) + pred, minlength=len(classes) ** 2)
        .reshape(len(classes), len(classes))
        .tolist(),
        "classes": classes,
        "epochs": len(hist["train_loss"]),
    }
    (out / "default_metrics.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    """``python -m bci.models._default -o DIR``."""
    import argparse

    ap = argparse.ArgumentParser(description="build the default SSVEP decoder")
    ap.add_argument("-o", "--out", default=str(Path(__file__).parent / "weights"))
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--epochs", type=int, default=80)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps(build_default(a.out, minutes=a.minutes, max_epochs=a.epochs), indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
