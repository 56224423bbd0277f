"""The paradigm presenter: one PsychoPy window process that runs a paradigm config.

At start it measures the display (:class:`~._presenter.FlipClock`: an unpaced display such
as Xvfb is detected and paced by the clock; a refresh rate off by more than the tolerance is
refused unless ``display.allow_mismatch``), applies the safety limiter to every flickering
or flashing target, then runs the instruction screen, the trials and the break screens.

Streams (all stamped with flip times on the LSL clock):

- ``window.marker_stream`` (``bci-markers``): ``cue_<label>`` when a target is cued,
  ``<label>s`` / ``<label>e`` at stimulus onset / offset, ``flash_<label>`` and
  ``target``/``nontarget`` per P300 flash, ``selected_<label>`` for online feedback,
  ``dropped_frames:<n>``, ``pause`` / ``resume`` / ``abort``;
- ``window.description_stream`` (``bci-stimuli``): a JSON object per cue/onset (``attend``
  names the cued target; ``kind: image`` with the picture's file name for the ``images``
  task) and a ``log`` object per trial (achieved flicker frequency per
  target, duration, frames, dropped frames);
- ``frame_stream`` (``bci-frames``): one sample per flip, channels ``frame`` and one per
  target with the intensity drawn on that flip.

Keys: ``continue_key`` ends an instruction/break screen, ``pause_key`` (pressed at any time)
pauses at the end of the current trial and shows a pause screen until ``pause_key`` or
``continue_key`` (``pause`` / ``resume`` markers), ``safety.abort_key`` ends the run at once
(``abort`` then ``run_end`` markers; the recording stays complete).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bci import StimulusError
from bci.config._paradigm import ParadigmConfig

from ._paradigm import (
    DIM,
    Trial,
    achieved_frequency,
    cue_marker,
    end_marker,
    flash_posterior,
    flip_stats,
    image_files,
    image_order,
    layout_deg,
    pair_decisions,
    plan_trials,
    ssvep_level,
    start_marker,
)

logger = logging.getLogger(__name__)


@dataclass
class ShowSettings:
    """What the window process needs (pickled across the process boundary).

    Parameters
    ----------
    config : ParadigmConfig
        The paradigm.
    trials : int | None
        Trials to run (``None``: ``config.trials``).
    decisions : str | None
        LSL decision stream to show feedback from (online runs), or ``None``.
    pace_hz : float | None
        Pace flips by the clock at this rate (emulates a display of that rate).
    wait_consumers : float
        Seconds to wait for a consumer of the frame log before the first trial.
    session_id : str | None
        The session that shows the paradigm: its id tags the streams' source ids.
    """

    config: ParadigmConfig
    trials: int | None = None
    decisions: str | None = None
    pace_hz: float | None = None
    wait_consumers: float = 0.0
    log_level: int = logging.INFO
    session_id: str | None = None
    extra: dict = field(default_factory=dict)


class _Aborted(Exception):
    pass


class _Window:  # pragma: no cover - runs in the child process (tested through run_paradigm)
    """The drawing side: window, stimuli, streams, flip loop."""

    def __init__(self, s: ShowSettings) -> None:
        from psychopy import event, visual

        from bci import StreamSpec
        from bci.devices import MarkerOutletLSL, OutletLSL

        from ._presenter import FlipClock
        from ._safety import px_per_degree

        self.s, self.cfg = s, s.config
        cfg = self.cfg
        self.event = event
        w = cfg.window
        ids = stream_ids(cfg, s.session_id)
        self.markers = MarkerOutletLSL(w.marker_stream, "Markers", source_id=ids[w.marker_stream])
        self.desc = MarkerOutletLSL(
            w.description_stream, "StimulusDescription", ids[w.description_stream]
        )
        labels = cfg.labels
        self.frames_spec = StreamSpec(
            name=cfg.frame_stream,
            stype="FrameLog",
            source_id=ids[cfg.frame_stream],
            sfreq=0.0,
            ch_names=("frame", *labels),
            ch_types=("misc",) * (len(labels) + 1),
            units=("index", *("intensity",) * len(labels)),
            dtype="float64",
            manufacturer="bci-runtime presenter",
        )
        self.frames = OutletLSL(self.frames_spec)
        self.win = visual.Window(
            size=tuple(w.size),
            fullscr=w.fullscreen,
            screen=w.screen,
            units="pix",
            color=(-1, -1, -1),
            colorSpace="rgb",
            allowGUI=False,
            waitBlanking=True,
            checkTiming=False,
        )
        self.clock = FlipClock(self.win, cfg.display.refresh_hz, s.pace_hz)
        self.ppd = px_per_degree(cfg.safety.monitor)
        side = cfg.size_deg * self.ppd
        self.pos = [(x * self.ppd, y * self.ppd) for x, y in layout_deg(cfg)]
        self.rects = [
            visual.Rect(
                self.win, width=side, height=side, pos=p, fillColor=(0, 0, 0), lineColor=None
            )
            for p in self.pos
        ]
        self.rings = [
            visual.Rect(
                self.win,
                width=side * 1.25,
                height=side * 1.25,
                pos=p,
                fillColor=None,
                lineColor=(1, -1, -1),
                lineWidth=max(2.0, 0.08 * self.ppd),
            )
            for p in self.pos
        ]
        self.hits = [
            visual.Rect(
                self.win,
                width=side * 1.35,
                height=side * 1.35,
                pos=p,
                fillColor=None,
                lineColor=(-1, 1, -1),
                lineWidth=max(3.0, 0.12 * self.ppd),
            )
            for p in self.pos
        ]
        text_h = max(12.0, 0.8 * self.ppd)
        self.names = [
            visual.TextStim(
                self.win,
                text=t.label if cfg.task in ("ssvep", "p300") else "",
                pos=(p[0], p[1] - side * 0.75 - text_h),
                height=text_h,
                color=(0.2, 0.2, 0.2),
            )
            for t, p in zip(cfg.targets, self.pos, strict=True)
        ]
        self.cue_text = visual.TextStim(
            self.win, text="", height=cfg.size_deg * self.ppd, color=(1, 1, 1)
        )
        self.fixation = visual.TextStim(self.win, text="+", height=text_h * 2, color=(1, 1, 1))
        self.screen_text = visual.TextStim(
            self.win, text="", height=text_h * 1.2, color=(1, 1, 1), wrapWidth=w.size[0] * 0.8
        )
        self.feedback_bar = visual.Rect(
            self.win, width=1, height=text_h, pos=(0, -side), fillColor=(-1, 1, -1), lineColor=None
        )
        self.images: list[list] = []
        if cfg.task == "images":
            self.images = [[self._image_stim(f) for f in files] for files in image_files(cfg)]
        self.key_buffer: list[str] = []
        self.depths = [cfg.depth] * len(labels)
        self.frame_no = 0
        self.reported_dropped = 0
        self.dec_inlet = None
        self.latencies: list[float] = []
        self.paused_s = 0.0
        self.stop_event = None  # set by the parent (end of stdin): abort like the abort key

    def _image_stim(self, path: Path):
        """A picture scaled so its longer side spans ``size_deg`` (aspect ratio kept)."""
        from PIL import Image
        from psychopy import visual

        with Image.open(path) as im:
            w, h = im.size
        side = self.cfg.size_deg * self.ppd
        scale = side / max(w, h)
        return visual.ImageStim(
            self.win, image=str(path), size=(w * scale, h * scale), units="pix", name=path.name
        )

    # ---------------------------------------------------------------- set-up
    def measure_and_check(self) -> dict:
        cfg = self.cfg
        self.win.flip()
        self.clock.measure(cfg.display.measure_frames)
        warning = self.clock.check(cfg.display.tolerance, cfg.display.allow_mismatch)
        self._safety()
        return {
            "refresh_hz": self.clock.refresh_hz,
            "configured_hz": cfg.display.refresh_hz,
            "paced_by_clock": self.clock.paced_by_clock,
            "refresh_warning": warning,
            "depths": list(self.depths),
        }

    def _safety(self) -> None:
        """Run every flickering/flashing target through the photosensitivity limiter."""
        from ._safety import SafetyLimiter
        from ._stimulus import Stimulus

        cfg = self.cfg
        if cfg.task not in ("ssvep", "p300"):
            return
        safety = cfg.safety.model_copy(
            update={
                "monitor": cfg.safety.monitor.model_copy(
                    update={"refresh_hz": round(self.clock.refresh_hz, 3)}
                )
            }
        )
        limiter = SafetyLimiter(safety)
        side = max(1, int(round(cfg.size_deg * self.ppd)))
        if cfg.task == "ssvep":
            fast = [t.label for t in cfg.targets if (t.frequency or 0.0) > 3.0]
            if fast and not cfg.safety.screened_participant:
                from bci import SafetyError

                raise SafetyError(
                    f"ssvep: targets {fast} flicker periodically above 3 Hz, which needs the "
                    "screened-participant opt-in: bci calibrate --live --screened REASON, or "
                    "safety.screened_participant and safety.screened_reason in the paradigm "
                    "(paradigm.screened_reason in a session config)"
                )
            shown = []
            for i, t in enumerate(cfg.targets):
                stim = Stimulus(
                    kind="flicker",
                    label=t.label,
                    duration=min(cfg.timing.stimulus, 2.0),
                    image=np.ones((8, 8)),
                    frequency=float(t.frequency or 0.0),
                    phase=t.phase,
                    depth=cfg.depth,
                    size_px=(side, side),
                    background=0.0,
                )
                safe, record = limiter(stim)
                shown.append(safe)
                self.depths[i] = float(safe.depth if safe.depth is not None else cfg.depth)
                if safe.size_px != stim.size_px:
                    raise StimulusError(
                        f"target {t.label!r}: size_deg {cfg.size_deg:g} is above the flicker size "
                        f"limit ({cfg.safety.flicker_max_size_deg:g} deg); lower size_deg"
                    )
                if record.get("clamped"):
                    logger.warning("target %r clamped by the safety limiter: %s", t.label, record)
            total = limiter.check_simultaneous(shown)  # all targets flicker at once
            logger.info(
                "flickering area: %d targets, %.1f deg2 in all (limit %g deg2)",
                total["flickering"],
                total["total_deg2"],
                total["limit_deg2"],
            )
        else:
            # One box flashes at a time: flashes per second over the whole array vs the
            # WCAG general-flash area limit (25 % of a 10-degree field).
            flashes_per_s = 1.0 / cfg.timing.soa
            area = len(cfg.targets) * side * side
            if (
                flashes_per_s > 3
                and area > limiter.field_limit_px
                and not (cfg.safety.screened_participant)
            ):
                raise StimulusError(
                    f"p300: {flashes_per_s:.1f} flashes/s over {area:.0f} px2 (limit "
                    f"{limiter.field_limit_px:.0f} px2, 25 % of a 10-degree field): lower "
                    "size_deg, raise timing.soa to >= 0.34 s, or use the screened-participant "
                    "opt-in (safety.screened_participant, safety.screened_reason)"
                )

    def connect_decisions(self) -> None:
        """Resolve the session's decision stream (name, or an LSL predicate)."""
        import pylsl

        from bci.devices import spec_from_info

        d = self.s.decisions
        pred = d if ("=" in d or "(" in d) else f"name='{d}'"
        found = pylsl.resolve_bypred(pred, 1, 15.0)
        if not found:
            raise StimulusError(f"feedback: decision stream {d!r} not found")
        self.dec_inlet = pylsl.StreamInlet(found[0], max_buflen=30)
        self.dec_inlet.open_stream(timeout=5.0)
        self.dec_inlet.time_correction(timeout=5.0)
        self.dec_classes = list(spec_from_info(self.dec_inlet.info(timeout=5.0)).ch_names[:-1])
        self.dec_target = (
            self.dec_classes.index("target")
            if "target" in self.dec_classes
            else len(self.dec_classes) - 1
        )
        self.epoch_offset = float("nan")
        logger.info("feedback from %r (classes %s)", found[0].name(), self.dec_classes)

    # ---------------------------------------------------------------- drawing
    def _poll(self) -> None:
        """Read the keyboard into the key buffer; abort at once on the abort key."""
        keys = self.event.getKeys()
        if keys:
            self.key_buffer.extend(keys)
            logger.debug("keys %s", keys)
        self._check_abort(keys)

    def _keys(self) -> list[str]:
        """Keys pressed since the last call (read by every 6th frame in between)."""
        self._poll()
        keys, self.key_buffer = self.key_buffer, []
        return keys

    def _check_abort(self, keys: list[str]) -> None:
        if self.cfg.safety.abort_key in keys:
            raise _Aborted

    def frame(
        self,
        levels: list[float],
        cued: int | None = None,
        hit: int | None = None,
        text: str | None = None,
        fixation: bool = False,
        bar: float | None = None,
        screen: str | None = None,
        image=None,
    ) -> float:
        """Draw one frame, flip, log it; return the flip time."""
        if image is not None:
            image.draw()
        if screen is not None:
            self.screen_text.text = screen
            self.screen_text.draw()
        else:
            if self.cfg.task in ("ssvep", "p300"):
                for r, lv, name in zip(self.rects, levels, self.names, strict=True):
                    g = 2.0 * lv - 1.0
                    r.fillColor = (g, g, g)
                    r.draw()
                    name.draw()
            if cued is not None and self.cfg.task in ("ssvep", "p300"):
                self.rings[cued].draw()
            if hit is not None and self.cfg.task in ("ssvep", "p300"):
                self.hits[hit].draw()
            if fixation:
                self.fixation.draw()
            if text:
                self.cue_text.text = text
                self.cue_text.draw()
            if bar is not None:
                self.feedback_bar.width = max(1.0, bar * 6 * self.ppd)
                self.feedback_bar.pos = (bar * 3 * self.ppd - 3 * self.ppd, -2 * self.ppd)
                self.feedback_bar.draw()
        t = self.clock.flip()
        self.frames.push(np.array([[float(self.frame_no), *levels]]).T, t)
        self.frame_no += 1
        if self.clock.dropped > self.reported_dropped:
            n = self.clock.dropped - self.reported_dropped
            self.reported_dropped = self.clock.dropped
            self.markers.push(f"dropped_frames:{n}", t)
        if self.frame_no % 6 == 0:
            self._poll()
            if self.stop_event is not None and self.stop_event.is_set():
                raise _Aborted
        return t

    def n_frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.clock.refresh_hz)))

    def static_levels(self) -> list[float]:
        return [0.5 if self.cfg.task == "ssvep" else DIM] * len(self.cfg.targets)

    def screen(self, text: str, seconds: float) -> None:
        """An instruction/break screen: ``seconds`` or until the continue key."""
        n = self.n_frames(seconds) if seconds > 0 else 10**9
        self.event.clearEvents()
        self.key_buffer = []
        for _ in range(n):
            self.frame(self.static_levels(), screen=text)
            keys = self._keys()
            self._check_abort(keys)
            if self.cfg.continue_key in keys:
                break

    def pause_if_asked(self) -> None:
        keys = self._keys()
        self._check_abort(keys)
        if self.cfg.pause_key not in keys:
            return
        text = f"Paused. Press {self.cfg.pause_key} or {self.cfg.continue_key} to continue."
        t0 = self.frame(self.static_levels(), screen=text)
        self.markers.push("pause", t0)
        logger.info("paused (%s or %s resumes)", self.cfg.pause_key, self.cfg.continue_key)
        while True:
            t = self.frame(self.static_levels(), screen=text)
            keys = self._keys()
            self._check_abort(keys)
            if self.cfg.pause_key in keys or self.cfg.continue_key in keys:
                self.markers.push("resume", t)
                self.paused_s += t - t0
                logger.info("resumed after %.1f s", t - t0)
                return

    def push_desc(self, obj: dict, t: float) -> None:
        self.desc.push(json.dumps(obj), t)

    # ---------------------------------------------------------------- feedback
    def _decisions(self) -> list[tuple[float, np.ndarray]]:
        if self.dec_inlet is None:
            return []
        values, stamps = self.dec_inlet.pull_chunk(timeout=0.0)
        if not stamps:
            return []
        corr = self.dec_inlet.time_correction(timeout=0.0) if stamps else 0.0
        return [
            (float(ts) + corr, np.asarray(v, float)) for v, ts in zip(values, stamps, strict=True)
        ]

    # ---------------------------------------------------------------- trials
    def run_trial(self, trial: Trial) -> dict:
        cfg = self.cfg
        label = cfg.targets[trial.target].label
        target = cfg.targets[trial.target]
        static = self.static_levels()
        n_cue = self.n_frames(cfg.timing.cue) if cfg.timing.cue > 0 else 0
        text = target.text or label
        cue_kw: dict = (
            {"cued": trial.target}
            if cfg.task in ("ssvep", "p300")
            else {"fixation": True}
            if cfg.task == "images"
            else {"text": text, "fixation": False}
        )
        for k in range(n_cue):
            t = self.frame(static, **cue_kw)
            if k == 0 and cfg.task != "images":  # the picture itself is the cue
                self.markers.push(cue_marker(label), t)
                self.push_desc(
                    {"v": 1, "id": trial.index, "kind": "cue", "label": cue_marker(label),
                     "attend": label, "duration": cfg.timing.cue},
                    t,
                )  # fmt: skip
        if cfg.task == "p300":
            log = self._p300(trial, label)
        elif cfg.task == "images":
            log = self._image(trial, label)
        else:
            log = self._sustained(trial, label, target)
        # rest (and feedback) -------------------------------------------------------------
        hit = log.get("selected_index")
        n_fb = self.n_frames(cfg.timing.feedback) if hit is not None else 0
        n_rest = max(n_fb, self.n_frames(trial.rest) if trial.rest > 0 else 0)
        fixation = cfg.task in ("mi", "gestures", "images")
        for k in range(n_rest):
            t = self.frame(static, hit=hit if k < n_fb else None, fixation=fixation)
            if k == 0 and hit is not None and not log.get("feedback_shown"):
                sel = cfg.targets[hit].label
                self.markers.push(f"selected_{sel}", t)
                if log.get("t_sample") is not None:
                    lat = t - log["t_sample"]
                    self.latencies.append(lat)
                    log["loop_latency_ms"] = lat * 1e3
        return log

    def _sustained(self, trial: Trial, label: str, target) -> dict:
        """SSVEP flicker, or an MI / gesture / eyes cue held for timing.stimulus."""
        cfg = self.cfg
        n = self.n_frames(cfg.timing.stimulus)
        R = self.clock.refresh_hz
        times: list[float] = []
        levels: list[list[float]] = []
        t_on = float("nan")
        d0 = self.clock.dropped
        decisions: list[tuple[float, np.ndarray]] = []
        text = target.text or label
        k = 0
        last_shown = float("nan")
        while k < n:
            if cfg.task == "ssvep":
                lv = [
                    ssvep_level(float(t.frequency), t.phase, d, k, R)
                    for t, d in zip(cfg.targets, self.depths, strict=True)
                ]
                t_flip = self.frame(lv, cued=trial.target)
            else:
                lv = self.static_levels()
                bar = None
                if self.dec_inlet is not None and decisions:
                    ts_d, v = decisions[-1]
                    p = v[:-1]
                    bar = float(p[trial.target])  # how strongly the cued class is decoded
                t_flip = self.frame(lv, text=text, fixation=cfg.task == "mi", bar=bar)
                if bar is not None and ts_d != last_shown:
                    last_shown = ts_d
                    self.latencies.append(t_flip - ts_d)
            times.append(t_flip)
            levels.append(lv)
            if k == 0:
                t_on = t_flip
                self.markers.push(start_marker(label), t_flip)
                desc = {"v": 1, "id": trial.index, "kind": "cue", "label": label,
                        "attend": label, "duration": cfg.timing.stimulus}  # fmt: skip
                if target.gesture is not None:
                    desc["gesture"] = int(target.gesture)
                if cfg.task == "ssvep":
                    desc["kind"] = "trial"
                self.push_desc(desc, t_flip)
            if self.dec_inlet is not None:
                new = self._decisions()
                decisions.extend(new)
                after = t_on + cfg.selection.ssvep_after
                if cfg.task == "ssvep" and any(v[-1] >= 0 and ts >= after for ts, v in new):
                    break  # selected (threshold and dwell passed): the trial ends here
            # frame-locked to the refresh grid: a dropped frame skips its phase, it does
            # not delay the rest of the flicker
            k = int(round((self.clock.next_time() - t_on) * R))
        # the offset: the first frame without the stimulus (and with the selection)
        selection: dict = {}
        if self.dec_inlet is not None:
            decisions.extend(self._decisions())
            now = self.clock.next_time()
            selection = self._select_sustained(decisions, float(times[0]), now)
        hit = selection.get("selected_index") if cfg.task == "ssvep" else None
        t_end = self.frame(self.static_levels(), hit=hit)
        self.markers.push(end_marker(label), t_end)
        if selection.get("selected_index") is not None:
            self.markers.push(f"selected_{cfg.targets[selection['selected_index']].label}", t_end)
            if selection.get("t_sample") is not None:
                self.latencies.append(t_end - selection["t_sample"])
                selection["loop_latency_ms"] = (t_end - selection["t_sample"]) * 1e3
            selection["feedback_shown"] = True
        times, levels = np.asarray(times), np.asarray(levels)
        dur = t_end - times[0]
        log: dict = {
            "v": 1,
            "kind": "log",
            "trial": trial.index,
            "label": label,
            "onset": float(times[0]),
            "duration": float(dur),
            "requested": cfg.timing.stimulus,
            "n_frames": n,
            "frames_drawn": len(times),
            "frame_error": float((dur - n / R) * R),
            "dropped": self.clock.dropped - d0,
        }
        if cfg.task == "ssvep":
            log["achieved_hz"] = {
                t.label: achieved_frequency(
                    np.r_[times, t_end], np.r_[levels[:, i], 0.5], near=t.frequency
                )
                for i, t in enumerate(cfg.targets)
            }
        log.update(flip_stats(np.r_[times, t_end], 1.0 / R))
        log["dropped"] = self.clock.dropped - d0
        log.update(selection)
        self.push_desc(log, t_end)
        return log

    def _image(self, trial: Trial, label: str) -> dict:
        """One picture of the cued target for ``timing.stimulus`` (onset marker: the label)."""
        cfg = self.cfg
        n = self.n_frames(cfg.timing.stimulus)
        R = self.clock.refresh_hz
        stim = self.images[trial.target][self.image_index[trial.index]]
        d0 = self.clock.dropped
        times: list[float] = []
        k = 0
        t_on = float("nan")
        while k < n:
            t = self.frame(self.static_levels(), image=stim)
            times.append(t)
            if k == 0:
                t_on = t
                self.markers.push(label, t)
                self.push_desc(
                    {"v": 1, "id": trial.index, "kind": "image", "label": label,
                     "duration": cfg.timing.stimulus, "file": stim.name},
                    t,
                )  # fmt: skip
            # on the refresh grid: a dropped frame does not lengthen the picture
            k = max(k + 1, int(round((self.clock.next_time() - t_on) * R)))
        t_end = self.frame(self.static_levels(), fixation=True)
        self.markers.push(end_marker(label), t_end)
        self.push_desc(
            {"v": 1, "id": trial.index, "kind": "off", "label": "off", "duration": 0.0}, t_end
        )
        dur = t_end - t_on
        log = {
            "v": 1,
            "kind": "log",
            "trial": trial.index,
            "label": label,
            "file": stim.name,
            "onset": t_on,
            "duration": float(dur),
            "requested": cfg.timing.stimulus,
            "n_frames": n,
            "frames_drawn": len(times),
            "frame_error": float((dur - n / R) * R),
            **flip_stats(np.r_[times, t_end], 1.0 / R),
        }
        log["dropped"] = self.clock.dropped - d0
        self.push_desc(log, t_end)
        return log

    def _select_sustained(self, decisions, onset: float, end: float) -> dict:
        """One selection per trial: the first decision after ``selection.ssvep_after`` that
        passed threshold and dwell (label_index >= 0); else, at the trial's end, the class
        with the highest mean probability over the decisions from ``ssvep_after`` on."""
        after = onset + self.cfg.selection.ssvep_after
        inside = [(ts, v) for ts, v in decisions if after <= ts <= end + 0.05]
        if not inside:
            inside = [(ts, v) for ts, v in decisions if onset < ts <= end + 0.05][-1:]
        if not inside:
            return {"selected_index": None, "selection": "none"}
        for ts, v in inside:
            if int(v[-1]) >= 0:
                return {"selected_index": int(v[-1]), "t_sample": ts, "selection": "threshold"}
        mean = np.mean([v[:-1] for _, v in inside], axis=0)
        return {
            "selected_index": int(np.argmax(mean)),
            "t_sample": inside[-1][0],
            "selection": "end",
        }

    def _p300(self, trial: Trial, label: str) -> dict:
        cfg = self.cfg
        k_targets = len(cfg.targets)
        n_on = self.n_frames(cfg.timing.flash)
        n_soa = max(n_on + 1, self.n_frames(cfg.timing.soa))
        d0 = self.clock.dropped
        onsets: list[tuple[float, int]] = []
        on_durations = []
        R = self.clock.refresh_hz
        online = self.dec_inlet is not None
        evidence: list[tuple[float, int, float]] = []  # (decision time, flashed target, p)
        pending: list[tuple[float, np.ndarray]] = []
        rounds = 0
        stopped_early = False
        for j, flashed in enumerate(trial.flashes):
            if j % k_targets == 0:
                if online and rounds >= cfg.selection.min_repetitions:
                    pending = self._pair_flashes(pending + self._decisions(), onsets, evidence)
                    if self._posterior(evidence).max() >= cfg.selection.threshold:
                        stopped_early = True
                        break
                rounds += 1
                self.pause_if_asked_nonblocking()
            t_on = float("nan")
            k = 0
            off = False
            while k < n_soa:
                lv = [DIM] * k_targets
                if k < n_on:
                    lv[flashed] = 1.0
                t = self.frame(lv)
                if k == 0:
                    t_on = t
                    name = cfg.targets[flashed].label
                    self.markers.push(f"flash_{name}", t)
                    self.markers.push("target" if flashed == trial.target else "nontarget", t)
                    onsets.append((t, flashed))
                if k >= n_on and not off:
                    on_durations.append(t - t_on)
                    off = True
                if online and k % 3 == 0:
                    pending += self._decisions()
                # on the refresh grid: a dropped frame does not lengthen a flash or the SOA
                k = max(k + 1, int(round((self.clock.next_time() - t_on) * R)))
        err = (np.asarray(on_durations) - n_on / R) * R
        log = {
            "v": 1,
            "kind": "log",
            "trial": trial.index,
            "label": label,
            "onset": onsets[0][0] if onsets else float("nan"),
            "flashes": len(onsets),
            "repetitions": rounds,
            "stopped_early": stopped_early,
            "flash_ms_median": float(np.median(on_durations) * 1e3),
            "flash_frame_error_max": float(np.max(np.abs(err))) if err.size else 0.0,
            "dropped": self.clock.dropped - d0,
        }
        if online:
            # the decisions of the last flashes are still on their way (one per onset)
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                pending = self._pair_flashes(pending + self._decisions(), onsets, evidence)
                if len(evidence) >= len(onsets):
                    break
                self.frame([DIM] * k_targets)
            post = self._posterior(evidence)
            log.update(
                selected_index=int(np.argmax(post)),
                posterior=[round(float(x), 4) for x in post],
                decisions=len(evidence),
                selection="threshold" if stopped_early else "max_repetitions",
            )
            if evidence:
                log["t_sample"] = max(e[0] for e in evidence)
        self.push_desc(log, self.clock.last)
        return log

    def _pair_flashes(self, decisions, onsets, evidence) -> list:
        left, self.epoch_offset = pair_decisions(
            decisions, onsets, evidence, self.epoch_offset, self.dec_target
        )
        return left

    def _posterior(self, evidence) -> np.ndarray:
        return flash_posterior(evidence, len(self.cfg.targets))

    def pause_if_asked_nonblocking(self) -> None:
        self._poll()  # abort at once; a pause key waits in the buffer for the trial's end

    def close(self) -> None:
        self.win.close()
        self.frames.close() if hasattr(self.frames, "close") else None


def stream_ids(cfg: ParadigmConfig, session_id: str | None = None) -> dict[str, str]:
    """Source ids of the presenter's streams (markers, descriptions, frame log), by name."""
    from bci._ownership import owned_source_id

    names = (cfg.window.marker_stream, cfg.window.description_stream, cfg.frame_stream)
    return {n: owned_source_id(f"{n}-paradigm", session_id) for n in names}


def _paradigm_main(settings: ShowSettings, say, stop_event, go=None) -> int:  # pragma: no cover
    """The window process: measure, say ready (or error), run, say done."""
    try:
        w = _Window(settings)
        info = w.measure_and_check()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        say({"error": type(exc).__name__, "message": str(exc)})
        return 1
    say({"ready": info})
    cfg = settings.config
    if go is not None:  # the parent connects its recorder, then says go
        end = time.monotonic() + 60.0
        while not go.is_set() and not stop_event.is_set() and time.monotonic() < end:
            w.frame(w.static_levels(), screen=cfg.instructions or "")
    if settings.wait_consumers > 0:
        w.frames.wait_for_consumers(settings.wait_consumers)
        w.markers.wait_for_consumers(settings.wait_consumers)
    if settings.decisions:
        try:
            w.connect_decisions()
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            say({"error": type(exc).__name__, "message": str(exc)})
            w.close()
            return 1
    plan = plan_trials(cfg, settings.trials)
    if w.images:
        w.image_index = image_order(cfg, plan, [len(x) for x in w.images])
    logs: list[dict] = []
    aborted = False
    t_start = float("nan")
    w.stop_event = stop_event  # from now on, the parent's stop aborts like the abort key
    try:
        if cfg.instructions and cfg.instruction_seconds > 0:
            w.screen(cfg.instructions, cfg.instruction_seconds)
        t_start = w.frame(w.static_levels())
        w.markers.push("run_start", t_start)
        for trial in plan:
            if stop_event.is_set():
                raise _Aborted
            logs.append(w.run_trial(trial))
            w.pause_if_asked()
            if cfg.break_every and (trial.index + 1) % cfg.break_every == 0:
                if trial.index + 1 < len(plan):
                    t = w.frame(w.static_levels(), screen=cfg.break_text)
                    w.markers.push("break", t)
                    w.screen(cfg.break_text, cfg.instruction_seconds)
    except _Aborted:
        aborted = True
        w.stop_event = None
        t = w.frame(w.static_levels(), screen="Stopped")
        w.markers.push("abort", t)
    except Exception as exc:  # noqa: BLE001
        say({"error": type(exc).__name__, "message": str(exc)})
        w.close()
        return 1
    t_end = w.frame(w.static_levels())
    w.markers.push("run_end", t_end)
    lat = np.asarray(w.latencies) * 1e3
    summary = {
        **info,
        "trials": len(logs),
        "planned": len(plan),
        "aborted": aborted,
        "dropped_frames": w.clock.dropped,
        "flips": w.clock.n_flips,
        "t_start": t_start,
        "t_end": t_end,
        "logs": logs,
        "loop_latency_ms": {
            "n": int(lat.size),
            "p50": float(np.percentile(lat, 50)) if lat.size else None,
            "p99": float(np.percentile(lat, 99)) if lat.size else None,
        },
    }
    if w.dec_inlet is not None:  # before the session drops its decision outlet
        w.dec_inlet.close_stream()
        w.dec_inlet = None
    say({"done": summary})
    # Inlets close before their outlets: the parent stops its recorder, then closes stdin.
    stop_event.wait(30.0)
    w.close()
    return 0


def _child(argv: list[str]) -> int:  # pragma: no cover - the window process
    """``python -m bci.stimuli._paradigm_show SETTINGS_JSON``: JSON lines on stdout."""
    import os
    import sys
    import threading

    args = json.loads(argv[0])
    logging.basicConfig(
        level=args.pop("log_level", logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = ShowSettings(config=ParadigmConfig.model_validate(args.pop("config")), **args)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the protocol pipe

    def say(obj: dict) -> None:
        out.write(json.dumps(obj, default=float) + "\n")
        out.flush()

    stop, go = threading.Event(), threading.Event()

    def _watch() -> None:
        try:
            for line in sys.stdin.buffer:  # "go": start the trials
                if line.strip() == b"go":
                    go.set()
        finally:
            stop.set()  # end of file: the parent asks to stop, or died

    threading.Thread(target=_watch, daemon=True).start()
    code = _paradigm_main(settings, say, stop, go)
    sys.stderr.flush()
    out.flush()
    os._exit(code)  # no interpreter shutdown while the stdin reader blocks


class ParadigmPresenter:
    """Run a paradigm in a window process of its own (``python -m``, JSON lines).

    Parameters
    ----------
    config : ParadigmConfig
        The paradigm.
    trials : int | None
        Trials to run (default ``config.trials``).
    decisions : str | None
        Decision stream for online feedback (``outputs.lsl.name`` of a running session).
    pace_hz : float | None
        Pace flips by the clock at this rate whatever the display (tests: a wrong display).
    wait_consumers : float
        Seconds to wait for a consumer of the frame log before the first trial.

    Examples
    --------
    >>> p = ParadigmPresenter(cfg).start()   # measures the display; raises if refused
    >>> summary = p.wait()                   # runs every trial
    """

    def __init__(
        self,
        config: ParadigmConfig,
        trials: int | None = None,
        decisions: str | None = None,
        pace_hz: float | None = None,
        wait_consumers: float = 0.0,
        session_id: str | None = None,
    ) -> None:
        self.settings = ShowSettings(
            config,
            trials,
            decisions,
            pace_hz,
            wait_consumers,
            logging.getLogger().getEffectiveLevel(),
            session_id,
        )
        #: Source ids of the presenter's streams, by name.
        self.source_ids = stream_ids(config, session_id)
        self.proc = None
        self.info: dict = {}
        self.summary: dict | None = None

    def _get(self, timeout: float) -> dict:
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode(errors="replace").strip() if ready else ""
        if not line:
            if not ready:
                raise StimulusError(f"the presenter did not answer within {timeout:g} s")
            code = self.proc.wait(5.0)
            raise StimulusError(
                f"the presenter window process ended (exit code {code}) without a result "
                "(its traceback, if any, is above; is DISPLAY set?)"
            )
        return json.loads(line)

    def start(self, timeout: float = 60.0) -> ParadigmPresenter:
        """Open the window, measure the display, check safety; raise if refused.

        Raises
        ------
        StimulusError, SafetyError
            When the display check or the safety limiter refuses the paradigm.
        """
        import subprocess
        import sys

        from ._presenter import require_display

        s = self.settings
        if s.config.task == "images":
            image_files(s.config)  # a ConfigError naming 'images' before the window opens
            s.config = s.config.model_copy(
                update={"images": str(Path(s.config.images).expanduser().resolve())}
            )
        require_display()
        args = {
            "config": s.config.model_dump(mode="json", by_alias=True),
            "trials": s.trials,
            "decisions": s.decisions,
            "pace_hz": s.pace_hz,
            "wait_consumers": s.wait_consumers,
            "log_level": s.log_level,
            "session_id": s.session_id,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bci.stimuli._paradigm_show", json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        msg = self._get(timeout)
        if "error" in msg:
            self.proc.wait(10.0)
            from bci import SafetyError

            cls = SafetyError if msg["error"] == "SafetyError" else StimulusError
            raise cls(msg["message"])
        self.info = msg["ready"]
        return self

    def expected_seconds(self) -> float:
        """Rough length of the run (instructions, trials, breaks)."""
        cfg = self.settings.config
        n = self.settings.trials or cfg.trials
        t = cfg.timing
        per = (
            t.cue
            + t.rest
            + (t.soa * t.repetitions * len(cfg.targets) if cfg.task == "p300" else t.stimulus)
            + (1.0 / cfg.display.refresh_hz if cfg.task == "images" else 0.0)
        )
        if self.settings.decisions:
            per += t.feedback
        breaks = (n // cfg.break_every) if cfg.break_every else 0
        return cfg.instruction_seconds * (1 + breaks) + n * (per + t.jitter)

    def wait(self, timeout: float | None = None) -> dict:
        """Wait for the run to end; return its summary (timing, logs, latency)."""
        timeout = timeout if timeout is not None else self.expected_seconds() * 2 + 60
        msg = self._get(timeout)
        if "error" in msg:
            raise StimulusError(f"presenter failed: {msg['error']}: {msg['message']}")
        self.summary = msg["done"]
        return self.summary

    def go(self) -> None:
        """Start the trials (the window shows the instructions until then)."""
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def abort(self) -> None:
        """Ask the window to end after the current trial's frame (like the abort key)."""
        if self.proc is not None and self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def stop(self, timeout: float = 10.0) -> None:
        """End the process (idempotent)."""
        import subprocess

        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5.0)
        finally:
            proc.stdout.close()


def session_presenter(
    config, session_id: str | None = None
) -> tuple[ParadigmPresenter, ParadigmConfig]:
    """The presenter a session config names (``paradigm:``), fed by the session's decisions.

    Raises
    ------
    ConfigError
        When the session publishes no LSL decisions (``outputs.lsl.enabled: false``).
    """
    from bci import ConfigError

    pc = config.paradigm
    if not config.outputs.lsl.enabled:
        raise ConfigError(
            "paradigm: feedback reads the session's LSL decisions; set outputs.lsl.enabled: true",
            [("outputs.lsl.enabled", False, "true when a paradigm is shown")],
        )
    cfg = load_paradigm(pc.name)
    if pc.images is not None:
        cfg = cfg.model_copy(update={"images": pc.images})
    if pc.screened_reason:
        cfg = cfg.model_copy(
            update={
                "safety": cfg.safety.model_copy(
                    update={"screened_participant": True, "screened_reason": pc.screened_reason}
                )
            }
        )
    lsl = config.outputs.lsl.name
    decisions = f"name='{lsl}' and source_id='{config.name}-{lsl}'"
    return ParadigmPresenter(cfg, pc.trials, decisions, pc.pace_hz, session_id=session_id), cfg


def load_paradigm(name_or_path: str | Path) -> ParadigmConfig:
    """A paradigm by name (``ssvep`` -> ``configs/paradigm_ssvep.yaml``) or by path."""
    from bci import ConfigError
    from bci.config import load_config, shipped_config, shipped_configs

    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return load_config(p, ParadigmConfig)
    try:
        shipped = shipped_config(f"paradigm_{name_or_path}.yaml")
    except ConfigError:
        names = [
            n.removeprefix("paradigm_").removesuffix(".yaml")
            for n in shipped_configs()
            if n.startswith("paradigm_")
        ]
        raise ConfigError(
            f"unknown paradigm {name_or_path!r}; shipped: {names}, or a YAML path"
        ) from None
    return load_config(shipped, ParadigmConfig)


__all__ = ["ParadigmPresenter", "ShowSettings", "load_paradigm", "session_presenter"]

if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(_child(sys.argv[1:]))
