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


def probe_image(size: int, contrast: float, seed: int) -> np.ndarray:
    """A calibration probe: oriented band-pass noise with RMS contrast ``contrast``.

    Centre frequency (1.5-24 cycles per image, log-uniform), orientation, bandwidth (0.5-1.5
    octaves) and orientation spread (from isotropic to grating-like) are drawn from ``seed``,
    so a set of probes spans the spatial-frequency x orientation space the front end encodes.
    """
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size, 1.0 / size)[:, None]
    fx = np.fft.fftfreq(size, 1.0 / size)[None, :]
    rad = np.hypot(fx, fy)
    ang = np.arctan2(fy, fx)
    f0 = 2 ** rng.uniform(np.log2(1.5), np.log2(24.0))
    theta = rng.uniform(0.0, np.pi)
    kappa = float(rng.choice([0.0, 0.0, 1.0, 4.0, 16.0]))
    bw = rng.uniform(0.5, 1.5)
    amp = np.exp(-(np.log2(np.maximum(rad, 1e-6) / f0) ** 2) / (2 * bw**2))
    amp = amp * np.exp(kappa * (np.cos(2 * (ang - theta)) - 1.0))
    amp[0, 0] = 0.0
    img = np.real(np.fft.ifft2(amp * np.exp(2j * np.pi * rng.random((size, size)))))
    img = (img - img.mean()) / (img.std() + 1e-12) * contrast
    return np.clip(0.5 + img, 0.0, 1.0)


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
    """One shown stimulus and its measured response.

    ``predicted`` is the model's prediction made *before* the response was measured (for
    calibration trials: the cross-validated, held-out prediction). ``block`` and
    ``position`` (1 = first) say where it was shown; ``key`` names the image (a repeated
    calibration stimulus has the key of its first showing).
    """

    round: int
    condition: str
    image: np.ndarray
    description: dict
    measured: float = float("nan")
    predicted: float = float("nan")
    block: int = 0
    position: int = 0
    key: str = ""
    target: float | None = None


@dataclass
class LoopResult:
    """Everything a closed-loop run produced."""

    report_dir: Path | None
    trials: list[Trial] = field(default_factory=list)
    validity: dict = field(default_factory=dict)
    prep_seconds: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    target: float | None = None

    def table(self) -> dict[str, np.ndarray]:
        """Measured objective per round ``(n_rounds,)`` for each condition (round >= 1)."""
        rounds = [t for t in self.trials if t.round >= 1]
        if not rounds:
            return {}
        conds = sorted({t.condition for t in rounds})
        n = max(t.round for t in rounds)
        out = {}
        for c in conds:
            vals = np.full(n, np.nan)
            for t in rounds:
                if t.condition == c:
                    vals[t.round - 1] = t.measured
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


# -- measured-only search ------------------------------------------------------------------
class MeasuredSearch:
    """One candidate per presentation for the measured-only methods (``cmaes``, ``random``).

    ``ask()`` gives the next image to show, ``tell(value)`` its measured objective (higher is
    better). CMA-ES is told a generation once ``cma_popsize`` candidates are measured; random
    search draws a new calibration-like stimulus every time and learns nothing.
    """

    def __init__(self, cl: ClosedLoopConfig, make_image):
        from ._optimize import CMAESOptimizer

        o = cl.optimizer
        self.method = o.method
        self.make_image = make_image
        self.cma = (
            CMAESOptimizer(
                cl.model.image_size,
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
        self._queue: list[np.ndarray] = []
        self._values: list[float] = []
        self._asked = 0

    @property
    def can_ask(self) -> bool:
        """False while a CMA-ES generation is fully asked but not yet fully told."""
        return self.cma is None or bool(self._queue) or not self._values

    def ask(self) -> np.ndarray:
        """The next candidate image."""
        if self.cma is None:
            return self.make_image()
        if not self._queue and not self._values:
            self._queue = self.cma.ask()
            self._asked = len(self._queue)
        return self._queue.pop(0)

    def tell(self, value: float) -> None:
        """Measured objective of the last asked candidate."""
        if self.cma is None:
            return
        self._values.append(float(value))
        if len(self._values) == self._asked:
            self.cma.tell(self._values)
            self._values = []


# -- the loop ----------------------------------------------------------------------------
class ClosedLoop:
    """Closed-loop stimulus optimization against one participant.

    Calibration stimuli are shown first (in blocks of ``block_size``, some of them twice for
    the noise ceiling) and the readout is cross-validated on them; then every round is one
    block: the optimized stimulus and the baselines in a shuffled order.

    Parameters
    ----------
    cl : ClosedLoopConfig
        The ``closed_loop`` section.
    participant : object
        ``show(stimuli, descriptions) -> list of (n_channels, n_times)`` trial EEG.
    sfreq : float
        Sampling rate of the returned EEG.
    decoder : DecoderConfig | None
        The session's decoder (``measure.feature: decoder``).
    """

    def __init__(self, cl: ClosedLoopConfig, participant, sfreq: float = 250.0, decoder=None):
        import torch

        from ._insilico import build_model
        from ._optimize import GradientOptimizer, make_objective

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
        self._seeds = iter(range(cl.seed * 100_000 + 1, cl.seed * 100_000 + 100_000))
        self.search = (
            MeasuredSearch(cl, lambda: self._calibration_image(next(self._seeds)))
            if o.method in ("cmaes", "random")
            else None
        )
        self.decoder = None
        if cl.measure.feature == "decoder":
            self.decoder = TrialDecoder(decoder, sfreq, cl.optimizer.decoder_output)
            participant.channels = self.decoder.ch_names
        self.trials: list[Trial] = []
        self.prep_seconds: list[float] = []
        self.steps: list[int] = []
        self.validity: dict = {}
        self._next_id = 0
        self._block = 0
        self._shuffle = np.random.default_rng([cl.seed, 17])
        self._error_sum = 0.0
        self._param = None
        self._reference: float | None = None
        self._safe: dict = {}
        self._check_seconds = 0.0
        self._rng = np.random.default_rng(cl.seed)  # block orders
        self.calibrated = False

    # -- presentation ------------------------------------------------------------------
    def _calibration_image(self, seed: int) -> np.ndarray:
        contrast = self.cl.optimizer.contrast
        if self.cl.calibration_stimuli == "probes":
            return probe_image(self.size, contrast, seed)
        return random_image(self.size, contrast, seed)

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
        # the limiter is a pure function of the stimulus: a repeated image (the grating of
        # every round) is checked once
        key = (condition, image.shape, image.tobytes())
        if key not in self._safe:
            self._safe[key] = self.limiter(stim)
        safe, record = self._safe[key]
        desc = safe.description(self._next_id, record)
        self._next_id += 1
        return safe, desc

    def _measure(self, x: np.ndarray) -> float:
        if self.decoder is not None:
            return self.decoder(x)
        if self.cl.measure.feature == "ssvep":
            return ssvep_amplitude(x, self.sfreq, self.cl.frequency, self.cl.measure.harmonics)
        return evoked_amplitude(x, self.sfreq)

    def _present(
        self,
        rnd: int,
        items: list[tuple[str, np.ndarray, str]],
        rng: np.random.Generator,
    ) -> list[Trial]:
        """Show ``(condition, image, key)`` items as one block, in a shuffled order."""
        return self._show(*self._prepare(rnd, items, rng))

    def _prepare(
        self, rnd: int, items: list[tuple[str, np.ndarray, str]], rng: np.random.Generator
    ) -> tuple[list[Stimulus], list[Trial]]:
        """Shuffle a block and pass every stimulus through the safety limiter."""
        order = rng.permutation(len(items))
        self._block += 1
        stims, trials = [], []
        for pos, i in enumerate(order, start=1):
            cond, img, key = items[i]
            safe, desc = self._stimulus(img, cond)
            stims.append(safe)
            trials.append(
                Trial(rnd, cond, safe.image, desc, block=self._block, position=pos, key=key)
            )
        return stims, trials

    def _show(self, stims: list[Stimulus], trials: list[Trial]) -> list[Trial]:
        """Show a prepared block and measure every trial."""
        eeg = self.participant.show(stims, [t.description for t in trials])
        for t, x in zip(trials, eeg, strict=True):
            t.measured = self._measure(x)
        self.trials.extend(trials)
        return trials

    # -- readout -----------------------------------------------------------------------
    def _fit(self) -> None:
        """Fit the readout as configured (fitted, shuffled or untrained) on every trial so far."""
        trials = [t for t in self.trials if np.isfinite(t.measured)]
        x = np.stack([t.image for t in trials])
        y = np.array([t.measured for t in trials])
        kind = self.cl.model.readout
        if kind == "untrained":
            if not self.model.fitted:
                self.model.fit_untrained(x, seed=self.cl.seed)
            return
        if kind == "shuffled":
            y = self._shuffle.permutation(y)
        self.model.fit(x, y[:, None])

    def calibrate(self) -> None:
        """Show the calibration stimuli and cross-validate the readout on them."""
        self._calibrate(self._rng)
        self.calibrated = True

    def calibration_state(self) -> dict:
        """A copy of everything the calibration left behind (trials, random states)."""
        import copy

        if not self.calibrated or self.search is not None:
            raise RuntimeError("calibration_state() needs a calibrated gradient (adam) loop")
        return copy.deepcopy(
            {
                "trials": self.trials,
                "rng": self._rng,
                "seeds": self._seeds,
                "block": self._block,
                "next_id": self._next_id,
                "participant_rng": getattr(self.participant, "rng", None),
                "key": self._calibration_key(),
            }
        )

    def _calibration_key(self) -> tuple:
        cl = self.cl
        return (
            cl.seed,
            cl.calibration_trials,
            cl.calibration_repeats,
            cl.calibration_stimuli,
            cl.block_size,
            cl.model.image_size,
            cl.optimizer.contrast,
            cl.model_dump(include={"safety", "frequency", "depth", "size_deg", "trial_duration"}),
        )

    def restore_calibration(self, state: dict) -> None:
        """Continue from another loop's calibration of the same participant (same stimuli,
        responses and random states: the rounds are exactly what a fresh run would give);
        the readout is cross-validated again with this loop's own model."""
        import copy

        if self.search is not None or state["key"] != self._calibration_key():
            raise ValueError("restore_calibration: the calibrations differ")
        st = copy.deepcopy(state)
        self.trials = st["trials"]
        self._rng, self._seeds = st["rng"], st["seeds"]
        self._block, self._next_id = st["block"], st["next_id"]
        if st["participant_rng"] is not None:
            self.participant.rng = st["participant_rng"]
        for t in self.trials:
            t.predicted = float("nan")
        self.validity = self._validity([t for t in self.trials if t.condition == "calibration"])
        self.calibrated = True

    def _calibrate(self, rng: np.random.Generator) -> None:
        cl = self.cl
        n = cl.calibration_trials
        reps = min(cl.calibration_repeats, n)
        if self.search is not None:
            # measured-only methods spend the calibration presentations on their own search
            shown = 0
            while shown < n + reps:
                items: list[tuple[str, np.ndarray, str]] = []
                while len(items) < cl.block_size and shown < n + reps and self.search.can_ask:
                    items.append(("calibration", self.search.ask(), f"s{shown}"))
                    shown += 1
                # CMA-ES is told in the order it asked: by key, not by the shuffled position
                trials = self._present(0, items, rng)
                for t in sorted(trials, key=lambda t: int(t.key[1:])):
                    self.search.tell(self._search_value(t.measured))
            return
        images = [self._calibration_image(next(self._seeds)) for _ in range(n)]
        items = [("calibration", img, f"c{k}") for k, img in enumerate(images)]
        # repeats come after all first showings, in other blocks
        items += [("calibration_repeat", images[k], f"c{k}") for k in range(reps)]
        for start in range(0, len(items), cl.block_size):
            self._present(0, items[start : start + cl.block_size], rng)
        first = [t for t in self.trials if t.condition == "calibration"]
        self.validity = self._validity(first)

    def _validity(self, first: list[Trial]) -> dict:
        """Cross-validated readout accuracy on calibration stimuli and its noise ceiling."""
        from ._insilico import cross_validate

        first = sorted(first, key=lambda t: int(t.key[1:]))
        x = np.stack([t.image for t in first])
        y = np.array([t.measured for t in first])
        out: dict = {"n_calibration": len(first), "folds": None, "r": None, "r2": None}
        if len(first) >= 4 and self.cl.model.readout == "fitted":
            pred = cross_validate(self.model, x, y, self.cl.cv_folds)
            for t, p in zip(first, pred, strict=True):
                t.predicted = float(p)
            out.update(
                folds=int(min(self.cl.cv_folds, len(first) // 2)),
                r=_pearson(pred, y),
                r2=float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)),
            )
        rep = {t.key: t.measured for t in self.trials if t.condition == "calibration_repeat"}
        pairs = np.array([(t.measured, rep[t.key]) for t in first if t.key in rep])
        out.update(_noise_ceiling(pairs, y))
        return out

    # -- rounds ------------------------------------------------------------------------
    def _search_value(self, measured: float) -> float:
        """What a measured-only search maximizes: the response, or minus the tracking error."""
        o = self.cl.optimizer
        return measured if o.objective != "target" else -abs(measured - self.target)

    @property
    def target(self) -> float | None:
        """Objective 'target': the requested level in the measured unit (None otherwise)."""
        o = self.cl.optimizer
        if o.objective != "target":
            return None
        if o.target_reference == "absolute":
            return float(o.target[0])
        if self._reference is None:
            cal = [t.measured for t in self.trials if t.round == 0 and np.isfinite(t.measured)]
            self._reference = float(np.median(cal)) if cal else 1.0
        return float(o.target[0]) * self._reference

    def _asked_level(self) -> float | None:
        """Objective 'target': the level asked of the model this round."""
        o = self.cl.optimizer
        if o.objective != "target":
            return None
        level = self.target
        if self.cl.model.update == "every_round":
            level -= o.target_gain * self._error_sum
        return level

    def run(self, rounds: int | None = None, deadline: float | None = None) -> list[Trial]:
        """Calibrate the readout, then run the rounds (each round: one block)."""
        from ._optimize import make_objective

        cl = self.cl
        o = cl.optimizer
        rng = self._rng
        if not self.calibrated:
            self.calibrate()
        if self.search is None:
            self._fit()
            self.adam(seed=0, steps=3)  # warm-up: the first round is not slower than the rest
        static = grating(self.size, o.contrast)
        live = cl.mode == "live"
        for rnd in range(1, (rounds or cl.rounds) + 1):
            if deadline is not None and time.monotonic() > deadline:
                logger.warning("closed loop: duration reached after %d rounds", rnd - 1)
                break
            t0 = time.perf_counter()
            level = self._asked_level()
            if self.search is not None:
                items = [("optimized", self.search.ask(), f"o{rnd}")]
                self.steps.append(0)
            else:
                if cl.model.update == "every_round" and rnd > 1:
                    self._fit()
                if level is not None:
                    self.adam.objective = make_objective("target", [level], 0)
                # live: the block (optimized stimulus + safety checks) must be ready within the
                # inter-trial interval; the optimizer stops early to leave time for the checks
                stop = t0 + 0.9 * cl.iti - self._check_seconds if live else None
                # a target is held by changing the stimulus smoothly: warm start from the last one
                init = self._param if level is not None else None
                res = self.adam(seed=next(self._seeds), deadline=stop, init=init)
                self._param = res.param
                self.steps.append(res.steps)
                items = [("optimized", res.image, f"o{rnd}")]
            if "random" in cl.baselines:
                items.append(
                    ("random", random_image(self.size, o.contrast, next(self._seeds)), f"r{rnd}")
                )
            if "grating" in cl.baselines:
                items.append(("grating", static, "grating"))
            t1 = time.perf_counter()
            stims, trials = self._prepare(rnd, items, rng)
            self._check_seconds = time.perf_counter() - t1
            if self.model.fitted:
                pred = self.model.predict(np.stack([t.image for t in trials]))[:, 0]
            else:
                pred = np.full(len(trials), np.nan)
            self.prep_seconds.append(time.perf_counter() - t0)
            self._show(stims, trials)
            for t, p in zip(trials, pred, strict=True):
                t.predicted = float(p)
                t.target = self.target
            opt = next(t for t in trials if t.condition == "optimized")
            if self.search is not None:
                self.search.tell(self._search_value(opt.measured))
            if level is not None:
                self._error_sum += opt.measured - self.target
            logger.info("round %d: %s", rnd, {t.condition: round(t.measured, 3) for t in trials})
        return self.trials

    def result(self, report_dir: Path | None = None) -> LoopResult:
        """The run as a :class:`LoopResult`."""
        return LoopResult(
            report_dir,
            list(self.trials),
            dict(self.validity),
            list(self.prep_seconds),
            list(self.steps),
            self.target if self.trials else None,
        )


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _noise_ceiling(pairs: np.ndarray, y: np.ndarray) -> dict:
    """Noise ceiling of single-trial prediction accuracy from repeated presentations.

    The trial-to-trial noise variance is half the variance of the repeat differences; the
    ceiling on r is ``sqrt(1 - noise_var / var(y))`` (the best a noiseless model could reach
    against single measurements) and the repeat correlation is reported with it.
    """
    out: dict = {
        "n_repeats": int(len(pairs)),
        "repeat_r": None,
        "noise_sd": None,
        "ceiling_r": None,
    }
    if len(pairs) >= 3:
        noise_var = float(np.var(pairs[:, 0] - pairs[:, 1], ddof=1) / 2)
        total = float(np.var(y, ddof=1))
        out.update(
            repeat_r=_pearson(pairs[:, 0], pairs[:, 1]),
            noise_sd=float(np.sqrt(noise_var)),
            ceiling_r=float(np.sqrt(max(0.0, 1.0 - noise_var / total))) if total > 0 else None,
        )
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
        loop.run(deadline=deadline)
    finally:
        if hasattr(participant, "close"):
            participant.close()
    from ._loop_report import write_report

    write_report(loop.result(report), cl)
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
