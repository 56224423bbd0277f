"""Calibration data without a headset: the simulated participant runs the paradigm, we record it.

``bci calibrate --live`` uses this when no presenter/headset is wired in: the headless
paradigm schedule (docs/design.md#simulated) drives ``bci.devices.simulated.simulate`` (virtual time, so a
2-minute paradigm takes seconds), the result is written to XDF with ``bci._recorder.RecorderXDF``
exactly as a live session would be, and that file is calibrated like any other recording.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def record_simulated(
    paradigm: str, path: str | Path, *, duration: float = 120.0, seed: int = 0
) -> Path:
    """Run ``paradigm`` headless against the simulated participant and record it to XDF.

    Parameters
    ----------
    paradigm : str
        The simulated participant's paradigm (``ssvep``, ``p300``, ``n170``, ``gestures``).
    path : path-like
        Output ``.xdf`` file.
    duration : float
        Seconds of paradigm.
    seed : int
        Participant seed.

    Returns
    -------
    Path
        The recording.
    """
    from bci import StreamSpec
    from bci._recorder import RecorderXDF
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate

    mode = "emg" if paradigm == "gestures" else "eeg"
    rec, _truth = simulate(SimulatedSourceConfig(paradigm=paradigm, mode=mode, seed=seed), duration)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rx = RecorderXDF(path)
    try:
        for sig in rec.signals:
            sid = rx.add_stream(sig.spec)
            rx.write(sid, sig.data, sig.timestamps)
        if rec.markers:
            spec = StreamSpec(
                "bci-markers", "Markers", "bci-markers-sim", 0.0, ("marker",), dtype="string"
            )
            mid = rx.add_stream(spec)
            rx.write(
                mid, [m.value for m in rec.markers], np.array([m.timestamp for m in rec.markers])
            )
    finally:
        rx.close()
    logger.info(
        "recorded %.0f s of simulated %s (%d markers) to %s",
        duration,
        paradigm,
        len(rec.markers),
        path,
    )
    return path


def parse_source(spec: str, mode: str = "eeg", seed: int = 0, name: str | None = None):
    """A ``--source`` value as a source config.

    ``simulated`` (the simulated participant, ``mode`` eeg or emg), ``brainflow:<board>``
    (``synthetic``, ``cyton``, ``muse_2``... or a numeric id; ``brainflow:cyton:/dev/ttyUSB0``
    gives the serial port), ``lsl:<name>`` (a stream already on the network).

    Raises
    ------
    ConfigError
        For any other value (names the flag and the accepted forms).
    """
    from bci import ConfigError
    from bci.config import BrainFlowSourceConfig, LSLSourceConfig, SimulatedSourceConfig

    kind, _, rest = spec.partition(":")
    if kind == "simulated" and not rest:
        return SimulatedSourceConfig(
            mode=mode, paradigm="none", seed=seed, **({"name": name} if name else {})
        )
    if kind == "brainflow" and rest:
        board, _, port = rest.partition(":")
        params = {"serial_port": port} if port else {}
        return BrainFlowSourceConfig(board=board, params=params, name=name)
    if kind == "lsl" and rest:
        return LSLSourceConfig(name=rest, timeout=10.0)
    raise ConfigError(
        f"--source {spec!r}: use simulated, brainflow:<board>[:<serial port>] or lsl:<name>",
        [("--source", spec, "simulated | brainflow:<board> | lsl:<name>")],
    )


def record_live(
    paradigm,
    source,
    path: str | Path,
    *,
    trials: int | None = None,
    decisions: str | None = None,
    pace_hz: float | None = None,
    tail: float = 1.0,
    unique_streams: bool = False,
) -> tuple[Path, dict]:
    """Show ``paradigm`` in real time and record the headset, markers and frame log to XDF.

    The source starts through the session's source registry (the same drivers ``bci run``
    uses); for the simulated participant it listens to the presenter's markers,
    descriptions and frame log. Recorded streams: the signal, ``bci-markers``,
    ``bci-stimuli``, the frame log, and ``bci-sim-truth`` when the participant is simulated.
    The presenter's timing summary is written next to the file (``<name>.timing.json``).

    Parameters
    ----------
    paradigm : ParadigmConfig
        What to show.
    source : SourceConfig
        Where the signal comes from (:func:`parse_source`).
    path : path-like
        The ``.xdf`` file.
    trials : int | None
        Override ``paradigm.trials``.
    decisions : str | None
        Decision stream for on-screen feedback (online runs).
    pace_hz : float | None
        Pace flips at this rate (emulates a display of that rate).
    tail : float
        Seconds recorded after the last marker (the last trial's response).
    unique_streams : bool
        Suffix every stream name of the run (else only when the names are already taken).

    Returns
    -------
    (Path, dict)
        The recording and the presenter's summary.
    """
    import json
    import time

    from bci._sources import source_driver
    from bci.devices import RecordLSL
    from bci.stimuli._paradigm_show import ParadigmPresenter

    paradigm, source = _unique_names(paradigm, source, force=unique_streams)
    w = paradigm.window
    if getattr(source, "kind", None) == "simulated":
        source = source.model_copy(
            update={
                "paradigm": "none",
                "markers": w.marker_stream,
                "stimuli": w.description_stream,
                "frames": paradigm.frame_stream,
            }
        )
    started = source_driver(source.kind)(source, 0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    presenter = recorder = None
    try:
        signal = started.streams[0] if started.streams else source.name
        presenter = ParadigmPresenter(paradigm, trials, decisions, pace_hz, wait_consumers=10.0)
        presenter.start()
        streams = [signal, w.marker_stream, w.description_stream, paradigm.frame_stream]
        if source.kind == "simulated":
            streams.append(source.truth)
        preds = _predicates(streams)
        recorder = RecordLSL(path, preds, resolve_timeout=1.0).start()
        _wait_connected(recorder, len(preds))
        presenter.go()
        logger.info(
            "showing %s (%d trials, about %.0f s); %s ends the run",
            paradigm.name,
            trials or paradigm.trials,
            presenter.expected_seconds(),
            paradigm.safety.abort_key,
        )
        summary = presenter.wait()
        time.sleep(tail)
    finally:  # inlets before outlets: recorder, then participant/board, then presenter
        if recorder is not None:
            recorder.stop()
        started.stop()
        if presenter is not None:
            presenter.stop()
    summary["recording"] = str(path)
    summary["source"] = source.kind
    path.with_suffix(".timing.json").write_text(json.dumps(summary, indent=1, default=float))
    logger.info(
        "recorded %d trials of %s to %s (refresh %.2f Hz%s, %d dropped frames)",
        summary["trials"],
        paradigm.name,
        path,
        summary["refresh_hz"],
        ", paced by the clock" if summary["paced_by_clock"] else "",
        summary["dropped_frames"],
    )
    return path, summary


def _predicates(names: list[str], timeout: float = 10.0) -> list[str]:
    """An LSL predicate per stream name that matches one outlet (the newest by source_id).

    Raises
    ------
    StreamError
        When a stream does not appear within ``timeout``.
    """
    import pylsl

    from bci import StreamError

    out = []
    for name in names:
        found = pylsl.resolve_bypred(f"name='{name}'", 1, timeout)
        if not found:
            raise StreamError(f"stream {name!r} did not appear within {timeout:g} s")
        more = pylsl.resolve_bypred(f"name='{name}'", 10, 0.3)
        if len({i.source_id() for i in more}) > 1:
            logger.warning(
                "%d streams are named %r on the network; recording %s",
                len(more),
                name,
                [i.source_id() for i in more],
            )
            out.append(f"name='{name}'")
        else:
            out.append(f"name='{name}' and source_id='{found[0].source_id()}'")
    return out


def _wait_connected(recorder, n: int, timeout: float = 10.0) -> None:
    import time

    end = time.monotonic() + timeout
    while len(recorder.stats) < n and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)  # the inlets open their streams


LIVE_PARADIGMS = ("ssvep", "p300", "mi", "gestures", "eyes", "n170")


def live_recording(
    paradigm: str,
    source: str = "simulated",
    *,
    trials: int | None = None,
    screened: str | None = None,
    directory: str | Path = "recordings",
    seed: int = 0,
    pace_hz: float | None = None,
    unique_streams: bool = False,
    images: str | Path | None = None,
):
    """Record one live calibration run of a paradigm; return the file and its calibration config.

    Parameters
    ----------
    paradigm : str
        A shipped paradigm (``ssvep``, ``p300``, ``mi``, ``gestures``, ``eyes``, ``n170``)
        or a ``paradigm_*.yaml`` path.
    source : str
        ``simulated``, ``brainflow:<board>`` or ``lsl:<name>`` (:func:`parse_source`).
    trials : int | None
        Override the paradigm's trial count.
    screened : str | None
        The SSVEP safety opt-in: who screened the participant for photosensitive epilepsy
        and how (sets ``safety.screened_participant``).
    directory : path-like
        Where the XDF goes (``<paradigm>_<date-time>.xdf``).
    images : path-like | None
        Picture folder of an ``images`` paradigm (overrides its ``images`` key). With the
        simulated participant and no folder at all, generated placeholder faces and houses
        are shown (it responds to the labels, not the pictures).

    Returns
    -------
    (Path, CalibrationConfig | None, dict)
        The recording, the paradigm's calibration config (``None`` when it names none) and
        the presenter's timing summary.
    """
    import tempfile
    import time
    from contextlib import ExitStack

    from bci.config import load_config
    from bci.config._calibration import CalibrationConfig
    from bci.stimuli._paradigm_show import load_paradigm

    cfg = load_paradigm(paradigm)
    if images is not None:
        if cfg.task != "images":
            from bci import ConfigError

            raise ConfigError(
                f"--images: paradigm {cfg.name!r} shows no pictures (task {cfg.task!r})",
                [("--images", str(images), "only with an images paradigm such as -p n170")],
            )
        cfg = cfg.model_copy(update={"images": str(images)})
    if screened:
        cfg = cfg.model_copy(
            update={
                "safety": cfg.safety.model_copy(
                    update={"screened_participant": True, "screened_reason": screened}
                )
            }
        )
    src = parse_source(source, mode="emg" if cfg.task == "gestures" else "eeg", seed=seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(directory) / f"{cfg.name}_{stamp}.xdf"
    with ExitStack() as stack:
        if cfg.task == "images" and cfg.images is None and src.kind == "simulated":
            from bci.stimuli._paradigm import write_placeholder_images

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bci-images-"))
            cfg = cfg.model_copy(update={"images": str(write_placeholder_images(folder))})
            logger.info(
                "no 'images' folder given: showing generated placeholder pictures to the "
                "simulated participant (a real participant needs --images FOLDER)"
            )
        if cfg.task == "images":
            from bci.stimuli._paradigm import image_files

            image_files(cfg)  # the folder is checked before the source starts
        path, summary = record_live(
            cfg, src, path, trials=trials, pace_hz=pace_hz, unique_streams=unique_streams
        )
    calib = None
    if cfg.calibration:
        cpath = Path(cfg.calibration)
        if not cpath.is_absolute() and not cpath.exists():
            from bci.config import shipped_config

            cpath = shipped_config(cfg.calibration)
        calib = load_config(cpath, CalibrationConfig)
    return path, calib, summary


def chance_warning(metrics: dict, n_classes: int) -> str | None:
    """A warning when the best cross-validated accuracy is not above chance (binomial, 5 %)."""
    from scipy.stats import binomtest

    best = metrics.get("best", {})
    acc = best.get("accuracy")
    per_class = metrics.get("trials_per_class") or {}
    n = int(sum(per_class.values())) if isinstance(per_class, dict) else 0
    if acc is None or n <= 0:
        return None
    k = int(round(acc * n))
    p = binomtest(k, n, 1.0 / n_classes, alternative="greater").pvalue
    if p < 0.05:
        return None
    return (
        f"accuracy {acc:.2f} over {n} trials is at chance (1/{n_classes} = {1 / n_classes:.2f}, "
        f"binomial p = {p:.2f}): the signal does not follow the paradigm. Check the electrodes "
        "and the stream; BrainFlow's synthetic board does not respond to stimuli."
    )


def _unique_names(paradigm, source, force: bool = False):
    """Suffix the run's stream names when streams of those names are already on the network.

    Another presenter or participant with the same names would otherwise be recorded (or
    heard by the simulated participant) in place of this run's.
    """
    import uuid

    import pylsl

    w = paradigm.window
    names = [w.marker_stream, w.description_stream, paradigm.frame_stream]
    if getattr(source, "kind", None) == "simulated":
        names += [source.name, source.truth]
    taken = [n for n in names if pylsl.resolve_bypred(f"name='{n}'", 1, 0.2)]
    if not taken and not force:
        return paradigm, source
    run = uuid.uuid4().hex[:6]
    logger.log(
        logging.WARNING if taken else logging.DEBUG,
        "streams named %s are already on the network; this run's streams get the suffix -%s",
        taken,
        run,
    )
    window = w.model_copy(
        update={
            "marker_stream": f"{w.marker_stream}-{run}",
            "description_stream": f"{w.description_stream}-{run}",
        }
    )
    paradigm = paradigm.model_copy(
        update={"window": window, "frame_stream": f"{paradigm.frame_stream}-{run}"}
    )
    if getattr(source, "kind", None) == "simulated":
        source = source.model_copy(
            update={"name": f"{source.name}-{run}", "truth": f"{source.truth}-{run}"}
        )
    return paradigm, source


def score_selections(path: str | Path) -> dict:
    """Online selections of a recorded session scored against the participant's truth.

    Every ``selected_<label>`` marker is compared with the target the participant attended
    last before it (``"attend"`` on ``bci-sim-truth``, or on any GroundTruth stream).

    Returns
    -------
    dict
        ``selections``, ``correct``, ``accuracy`` (NaN without selections).
    """
    import json

    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    attends: list[tuple[float, str]] = []
    selected: list[tuple[float, str]] = []
    for s in streams:
        stype = s["info"]["type"][0]
        if stype == "GroundTruth":
            for v, t in zip(s["time_series"], s["time_stamps"], strict=True):
                d = json.loads(v[0])
                if d.get("attend"):
                    attends.append((float(t), str(d["attend"])))
        elif stype == "Markers":
            for v, t in zip(s["time_series"], s["time_stamps"], strict=True):
                if str(v[0]).startswith("selected_"):
                    selected.append((float(t), str(v[0])[len("selected_") :]))
    attends.sort()
    correct = 0
    for t, label in selected:
        before = [a for ta, a in attends if ta <= t]
        correct += bool(before) and before[-1] == label
    n = len(selected)
    return {"selections": n, "correct": correct, "accuracy": correct / n if n else float("nan")}
