"""The closed loop: optimize in silico -> present -> measure -> update the readout -> repeat.

Every round shows the optimized stimulus and the baselines (a new random 1/f image and a
static grating with the same RMS contrast), in a shuffled order, each as an image flickering
at ``closed_loop.frequency`` so the response is an SSVEP whose amplitude the EEG measures.
Every stimulus passes the safety limiter first; its record goes into the description.

Participants:

- ``offline``: the simulated participant's deterministic ``bci.devices.simulated.simulate`` API,
  one call per round (fast, no window). Its hidden visual model is never imported here: the
  loop only sees the EEG it returns.
- ``live``: the PsychoPy presenter (own process) shows the stimuli with flip-stamped markers
  and descriptions on LSL while the EEG comes from ``config.sources[0]`` on LSL.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bci import ConfigError
from bci.config import SessionConfig
from bci.config._closed_loop import ClosedLoopConfig

from ._safety import SafetyLimiter, px_per_degree
from ._stimulus import Stimulus

logger = logging.getLogger(__name__)


# -- measurement -------------------------------------------------------------------------
def ssvep_amplitude(
    data: np.ndarray, sfreq: float, frequency: float, harmonics: int = 2, skip: float = 0.25
) -> float:
    """SSVEP amplitude (uV) of one trial ``(n_channels, n_times)``: lock-in amplitude at the
    frequency and its harmonics, averaged over channels, summed over harmonics."""
    x = data[:, int(skip * sfreq) :]
    x = x - x.mean(axis=1, keepdims=True)
    t = np.arange(x.shape[1]) / sfreq
    total = 0.0
    for h in range(1, harmonics + 1):
        w = 2 * np.pi * h * frequency * t
        re = (x * np.cos(w)).mean(axis=1)
        im = (x * np.sin(w)).mean(axis=1)
        total += float(np.mean(2 * np.sqrt(re**2 + im**2)))
    return total


def evoked_amplitude(data: np.ndarray, sfreq: float) -> float:
    """Peak-to-peak of the channel-mean evoked response 80-300 ms after onset (uV)."""
    seg = data[:, int(0.08 * sfreq) : int(0.3 * sfreq)].mean(axis=0)
    return float(np.ptp(seg)) if seg.size else 0.0


# -- stimuli -----------------------------------------------------------------------------
def random_image(size: int, contrast: float, seed: int) -> np.ndarray:
    """A random 1/f (natural-image-like) image with RMS contrast ``contrast``."""
    import torch

    from ._optimize import FourierParam, constrain

    with torch.no_grad():
        return constrain(FourierParam(size, seed).raw(), contrast).numpy().astype(np.float64)


def grating(
    size: int, contrast: float, cycles: float = 3.0, orientation: float = 0.0
) -> np.ndarray:
    """A static sinusoidal grating with RMS contrast ``contrast`` (``cycles`` per image)."""
    y, x = np.mgrid[0:size, 0:size] / size
    u = x * np.cos(orientation) + y * np.sin(orientation)
    return np.clip(0.5 + contrast * np.sqrt(2) * np.sin(2 * np.pi * cycles * u), 0, 1)


class TrialDecoder:
    """The session's ONNX decoder applied to the last window of a trial (``feature: decoder``).

    The trial is filtered causally with the filters the decoder was trained with
    (``bci.preprocess`` metadata) and the decoder's last ``bci.n_times`` samples are decoded;
    the measured response is output ``index`` (e.g. the probability of an SSVEP class).
    """

    def __init__(self, decoder_config, sfreq: float, index: int):
        from scipy import signal

        from bci._decoder import DecoderONNX

        path = (
            getattr(decoder_config, "path", "default") if decoder_config is not None else "default"
        )
        self.decoder = DecoderONNX(path, provider="cpu", threads=1)
        meta = self.decoder.metadata
        self.ch_names = list(meta["ch_names"])
        self.n_times = int(meta["n_times"])
        self.index = int(index)
        classes = meta.get("classes") or []
        if classes and not 0 <= self.index < len(classes):
            raise ConfigError(
                f"closed_loop.optimizer.decoder_output={index}: the decoder has {len(classes)} outputs {classes}",
                [("closed_loop.optimizer.decoder_output", index, f"0..{len(classes) - 1}")],
            )
        self.label = classes[self.index] if classes else str(self.index)
        pre = meta.get("preprocess") or {}
        self.sos = []
        if pre.get("bandpass"):
            self.sos.append(
                signal.butter(4, pre["bandpass"], btype="bandpass", fs=sfreq, output="sos")
            )
        if pre.get("notch"):
            b, a = signal.iirnotch(float(pre["notch"]), 30.0, fs=sfreq)
            self.sos.append(signal.tf2sos(b, a))
        logger.info(
            "closed loop measures decoder output %d (%s) of %s",
            self.index,
            self.label,
            self.decoder.path,
        )

    def __call__(self, trial: np.ndarray) -> float:
        """Decoder output ``index`` for one trial ``(n_channels, n_times)``."""
        from scipy import signal

        x = trial
        for sos in self.sos:
            x = signal.sosfilt(sos, x, axis=1)
        x = np.ascontiguousarray(x[:, -self.n_times :], dtype=np.float32)
        return float(self.decoder(x)[self.index])


@dataclass
class Trial:
    """One shown stimulus and its measured response."""

    round: int
    condition: str
    image: np.ndarray
    description: dict
    measured: float = float("nan")
    predicted: float = float("nan")


@dataclass
class LoopResult:
    """Everything a closed-loop run produced."""

    report_dir: Path
    trials: list[Trial] = field(default_factory=list)

    def table(self) -> dict[str, np.ndarray]:
        """Measured objective per round ``(n_rounds,)`` for each condition (round >= 1)."""
        conds = sorted({t.condition for t in self.trials if t.round >= 1})
        n = max(t.round for t in self.trials)
        out = {}
        for c in conds:
            vals = np.full(n, np.nan)
            for t in self.trials:
                if t.condition == c and t.round >= 1:
                    vals[t.round - 1] = (
                        t.measured
                        if np.isnan(vals[t.round - 1])
                        else max(vals[t.round - 1], t.measured)
                    )
            out[c] = vals
        return out


# -- participants ------------------------------------------------------------------------
class OfflineParticipant:
    """The simulated participant through ``bci.devices.simulated.simulate`` (no LSL, no window)."""

    def __init__(self, source_config, cl: ClosedLoopConfig, seed: int = 0):
        from bci.devices.simulated import simulate  # the public offline API only

        self._simulate = simulate
        self.source = source_config
        self.cl = cl
        self.rng = np.random.default_rng(seed + 7919)
        self.recordings: list = []
        self.channels: list[str] | None = (
            None  # set to the decoder's channels for feature 'decoder'
        )

    def show(self, stimuli: list[Stimulus], descriptions: list[dict]) -> list[np.ndarray]:
        """Show the stimuli one after the other; return each trial's EEG (occipital channels)."""
        lead = float(self.rng.uniform(0.5, 3.0))  # new noise alignment every call
        step = self.cl.trial_duration + self.cl.iti
        onsets = [lead + k * step for k in range(len(stimuli))]
        duration = onsets[-1] + step + 0.5
        rec, _truth = self._simulate(
            self.source, duration, list(zip(onsets, descriptions, strict=True))
        )
        sig = rec.signals[0]
        names = list(sig.spec.ch_names)
        channels = self.channels or self.cl.measure.channels
        missing = [c for c in channels if c not in names]
        if missing:
            raise ConfigError(f"closed_loop.measure.channels: {missing} not in the montage {names}")
        idx = [names.index(c) for c in channels]
        sf = sig.spec.sfreq
        self.recordings.append((rec, onsets))
        out = []
        for on in onsets:
            a = int(round(on * sf))
            out.append(
                np.asarray(
                    sig.data[idx, a : a + int(self.cl.trial_duration * sf)], dtype=np.float64
                )
            )
        return out


# -- the loop ----------------------------------------------------------------------------
class ClosedLoop:
    """Closed-loop stimulus optimization against one participant.

    Parameters
    ----------
    cl : ClosedLoopConfig
        The ``closed_loop`` section.
    participant : object
        ``show(stimuli, descriptions) -> list of (n_channels, n_times)`` trial EEG.
    sfreq : float
        Sampling rate of the returned EEG.
    """

    def __init__(self, cl: ClosedLoopConfig, participant, sfreq: float = 250.0, decoder=None):
        import torch

        from ._insilico import build_model
        from ._optimize import CMAESOptimizer, GradientOptimizer, make_objective

        torch.manual_seed(cl.seed)
        torch.set_num_threads(cl.optimizer.threads)
        self.cl = cl
        self.participant = participant
        self.sfreq = sfreq
        self.limiter = SafetyLimiter(cl.safety)
        self.size = cl.model.image_size
        side = int(round(cl.size_deg * px_per_degree(cl.safety.monitor)))
        self.size_px = (side, side)
        device = cl.optimizer.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = build_model(cl.model, n_outputs=1)
        o = cl.optimizer
        # The readout predicts one measured response (an SSVEP amplitude, or the decoder output
        # chosen by optimizer.decoder_output when measure.feature is 'decoder'): index 0.
        self.objective = make_objective(o.objective, o.target, 0)
        self.adam = GradientOptimizer(
            self.model,
            self.objective,
            self.size,
            o.parametrization,
            o.steps,
            o.lr,
            o.jitter,
            o.contrast,
            o.n_gabors,
            device=device,
        )
        self.cmaes = (
            CMAESOptimizer(
                self.size,
                o.parametrization,
                o.contrast,
                o.cma_sigma,
                o.cma_popsize,
                cl.seed,
                o.n_gabors,
            )
            if o.method == "cmaes"
            else None
        )
        self.decoder = None
        if cl.measure.feature == "decoder":
            self.decoder = TrialDecoder(decoder, sfreq, cl.optimizer.decoder_output)
            participant.channels = self.decoder.ch_names
        self.trials: list[Trial] = []
        self.opt_seconds: list[float] = []
        self._next_id = 0

    def _stimulus(self, image: np.ndarray, condition: str) -> tuple[Stimulus, dict]:
        stim = Stimulus(
            kind="image",
            label=f"image_{condition}",
            duration=self.cl.trial_duration,
            image=image,
            frequency=self.cl.frequency,
            depth=self.cl.depth,
            phase=0.0,
            size_px=self.size_px,
        )
        safe, record = self.limiter(stim)
        desc = safe.description(self._next_id, record)
        self._next_id += 1
        return safe, desc

    def _present(
        self, rnd: int, items: list[tuple[str, np.ndarray]], rng: np.random.Generator
    ) -> list[Trial]:
        order = rng.permutation(len(items))
        shown = [items[i] for i in order]
        stims, trials = [], []
        for cond, img in shown:
            safe, desc = self._stimulus(img, cond)
            stims.append(safe)
            trials.append(Trial(rnd, cond, safe.image, desc))
        eeg = self.participant.show(stims, [t.description for t in trials])
        for t, x in zip(trials, eeg, strict=True):
            if self.decoder is not None:
                t.measured = self.decoder(x)
            elif self.cl.measure.feature == "ssvep":
                t.measured = ssvep_amplitude(
                    x, self.sfreq, self.cl.frequency, self.cl.measure.harmonics
                )
            else:
                t.measured = evoked_amplitude(x, self.sfreq)
        self.trials.extend(trials)
        return trials

    def _refit(self) -> None:
        x = np.stack([t.image for t in self.trials])
        y = np.array([[t.measured] for t in self.trials])
        self.model.fit(x, y)

    def run(self, rounds: int | None = None, deadline: float | None = None) -> list[Trial]:
        """Calibrate the readout on random stimuli, then run the rounds."""
        cl = self.cl
        rng = np.random.default_rng(cl.seed)
        contrast = cl.optimizer.contrast
        seeds = iter(range(cl.seed * 100_000 + 1, cl.seed * 100_000 + 100_000))
        calib = [
            ("calibration", random_image(self.size, contrast, next(seeds)))
            for _ in range(cl.calibration_trials)
        ]
        self._present(0, calib, rng)
        static = grating(self.size, contrast)
        for rnd in range(1, (rounds or cl.rounds) + 1):
            if deadline is not None and time.monotonic() > deadline:
                logger.warning("closed loop: duration reached after %d rounds", rnd - 1)
                break
            self._refit()
            t0 = time.perf_counter()
            if self.cmaes is not None:
                items = [("optimized", img) for img in self.cmaes.ask()]
            else:
                res = self.adam(seed=next(seeds))
                items = [("optimized", res.image)]
            self.opt_seconds.append(time.perf_counter() - t0)
            if "random" in cl.baselines:
                items.append(("random", random_image(self.size, contrast, next(seeds))))
            if "grating" in cl.baselines:
                items.append(("grating", static))
            trials = self._present(rnd, items, rng)
            if self.cmaes is not None:
                cand = [t for t in trials if t.condition == "optimized"]
                by_id = {id(t.description): t for t in cand}
                self.cmaes.tell(
                    [
                        by_id[id(t.description)].measured
                        for t in sorted(cand, key=lambda t: t.description["id"])
                    ]
                )
            pred = self.model.predict(np.stack([t.image for t in trials]))[:, 0]
            for t, p in zip(trials, pred, strict=True):
                t.predicted = float(p)
            logger.info("round %d: %s", rnd, {t.condition: round(t.measured, 3) for t in trials})
        return self.trials


# -- report ------------------------------------------------------------------------------
def write_report(result: LoopResult, cl: ClosedLoopConfig, opt_seconds: list[float]) -> Path:
    """Round records (JSON + npz images) and plots into ``result.report_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = result.report_dir
    out.mkdir(parents=True, exist_ok=True)
    rounds = []
    for t in result.trials:
        desc = dict(t.description)
        desc.pop("image", None)
        rounds.append(
            {
                "round": t.round,
                "condition": t.condition,
                "measured": t.measured,
                "predicted": t.predicted,
                "description": desc,
            }
        )
    table = result.table()
    summary = {
        "rounds": cl.rounds,
        "frequency": cl.frequency,
        "mean_measured": {c: float(np.nanmean(v)) for c, v in table.items()},
        "optimizer_seconds_median": float(np.median(opt_seconds)) if opt_seconds else None,
        "iti": cl.iti,
        "ready_within_iti": bool(opt_seconds and max(opt_seconds) <= cl.iti),
        "safety_clamps": sum(
            len(t.description.get("safety", {}).get("clamps", [])) for t in result.trials
        ),
    }
    (out / "rounds.json").write_text(json.dumps({"summary": summary, "trials": rounds}, indent=1))
    np.savez_compressed(
        out / "images.npz",
        **{f"r{t.round:02d}_{t.condition}_{k}": t.image for k, t in enumerate(result.trials)},
    )
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for c, v in table.items():
        ax[0].plot(np.arange(1, len(v) + 1), v, "o-", label=c)
    ax[0].set(
        xlabel="round", ylabel="measured SSVEP amplitude (uV)", title="measured objective per round"
    )
    ax[0].legend()
    opt = [t for t in result.trials if t.condition == "optimized"]
    ax[1].scatter([t.predicted for t in opt], [t.measured for t in opt], c=[t.round for t in opt])
    ax[1].set(xlabel="predicted", ylabel="measured", title="optimized: predicted vs measured")
    fig.tight_layout()
    fig.savefig(out / "objective.png", dpi=90)
    plt.close(fig)
    last = [t for t in result.trials if t.round >= 1]
    shown = [t for t in last if t.condition == "optimized"][-6:] + [
        t for t in last if t.condition != "optimized"
    ][-2:]
    fig, axes = plt.subplots(1, len(shown), figsize=(2 * len(shown), 2.3))
    for a, t in zip(np.atleast_1d(axes), shown, strict=False):
        a.imshow(t.image, cmap="gray", vmin=0, vmax=1)
        a.set_title(f"r{t.round} {t.condition}\n{t.measured:.2f} uV", fontsize=7)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(out / "stimuli.png", dpi=90)
    plt.close(fig)
    logger.info("closed-loop report in %s: %s", out, summary["mean_measured"])
    return out


def run_closed_loop(config: SessionConfig, duration: float | None = None) -> Path:
    """Run the closed loop described by ``config.closed_loop``; return the report directory."""
    cl = config.closed_loop
    if cl is None:
        raise ConfigError(
            "run_closed_loop: the config has no closed_loop section",
            [("closed_loop", None, "a mapping")],
        )
    source = config.sources[0]
    if cl.mode == "live":
        from ._live import LiveParticipant

        participant = LiveParticipant(source, cl)
    else:
        if getattr(source, "kind", None) != "simulated":
            raise ConfigError(
                "closed_loop.mode 'offline' needs sources[0].kind: simulated (it uses the simulator's "
                "offline API); use mode: live for a real headset",
                [("closed_loop.mode", cl.mode, "live, or a simulated first source")],
            )
        participant = OfflineParticipant(source, cl, cl.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = Path(cl.report_dir) / f"{config.name}-{stamp}"
    loop = ClosedLoop(cl, participant, getattr(source, "sfreq", 250.0), decoder=config.decoder)
    deadline = time.monotonic() + duration if duration else None
    try:
        trials = loop.run(deadline=deadline)
    finally:
        if hasattr(participant, "close"):
            participant.close()
    result = LoopResult(report, trials)
    write_report(result, cl, loop.opt_seconds)
    if isinstance(participant, OfflineParticipant):
        _write_xdf(report / "closed_loop.xdf", participant, config.name)
    return report


def _write_xdf(path: Path, participant: OfflineParticipant, name: str) -> None:
    """The simulated EEG and markers of every round, back to back, in one XDF file."""
    try:
        from bci._recorder import RecorderXDF
    except ImportError:  # pragma: no cover - recorder not built
        logger.warning("no XDF recorder available; rounds are in rounds.json only")
        return
    from bci import StreamSpec

    rec = RecorderXDF(str(path))
    try:
        first = participant.recordings[0][0].signals[0]
        eeg = rec.add_stream(first.spec)
        mk = rec.add_stream(
            StreamSpec(
                f"{name}-markers", "Markers", f"{name}-markers", 0.0, ("label",), dtype="string"
            )
        )
        offset = 0.0
        for r, _onsets in participant.recordings:
            sig = r.signals[0]
            rec.write(eeg, np.asarray(sig.data, dtype=np.float32), sig.timestamps + offset)
            if r.markers:
                rec.write(
                    mk,
                    [m.value for m in r.markers],
                    np.array([m.timestamp + offset for m in r.markers]),
                )
            offset += float(sig.timestamps[-1]) + 1.0 / sig.spec.sfreq
    finally:
        rec.close()
