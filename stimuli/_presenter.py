"""The PsychoPy presenter: a window in its own process, driven by a small typed command queue.

The window process owns its main thread (PsychoPy/pyglet need it), its LSL outlets and the
safety limiter (applied again here, so nothing reaches the screen unchecked). For every
stimulus it draws the frames, calls ``win.callOnFlip`` to read ``pylsl.local_clock()`` right
after the buffer swap of the first frame, and pushes the label to ``bci-markers`` and the
stimulus description JSON (docs/design.md#stimulus-protocol) to ``bci-stimuli`` with that flip time. The abort key (or an :class:`Abort`
command) ends the presentation at once; screenshots are taken from the back buffer before the
flip (``win.getMovieFrame(buffer='back')``).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
from dataclasses import dataclass, field
from pathlib import Path

from bci import StimulusError
from bci.config._closed_loop import PresenterConfig, SafetyConfig

from ._stimulus import Stimulus

logger = logging.getLogger(__name__)


# -- commands and replies (pickled across the process boundary) ---------------------------
@dataclass(frozen=True)
class Show:
    """Show ``stimulus`` (id ``stim_id``); then the background."""

    stim_id: int
    stimulus: Stimulus


@dataclass(frozen=True)
class Abort:
    """End the current presentation at once and drop the queued stimuli."""


@dataclass(frozen=True)
class Stop:
    """Close the window and end the process."""


@dataclass(frozen=True)
class Shown:
    """Reply: a stimulus was shown."""

    stim_id: int
    label: str
    flip_time: float
    n_frames: int
    last_flip: float
    screenshot: str | None = None
    safety: dict | None = None
    aborted: bool = False


@dataclass(frozen=True)
class Failed:
    """Reply: a stimulus was refused (safety) or the window failed."""

    stim_id: int
    error: str
    kind: str = "StimulusError"


@dataclass
class _Settings:
    presenter: PresenterConfig
    safety: SafetyConfig
    screenshot_dir: str | None
    ready_timeout: float = 30.0
    extra: dict = field(default_factory=dict)


def _window_process(
    settings: _Settings, commands: mp.Queue, replies: mp.Queue
) -> None:  # pragma: no cover - child
    import numpy as np
    import pylsl
    from psychopy import event, visual

    from bci import SafetyError
    from bci.devices import MarkerOutletLSL

    from ._safety import SafetyLimiter, SequenceGuard

    p = settings.presenter
    limiter = SafetyLimiter(settings.safety)
    markers = MarkerOutletLSL(p.marker_stream, "Markers", source_id=f"{p.marker_stream}-presenter")
    descriptions = MarkerOutletLSL(
        p.description_stream, "StimulusDescription", source_id=f"{p.description_stream}-presenter"
    )
    win = visual.Window(
        size=tuple(p.size),
        fullscr=p.fullscreen,
        screen=p.screen,
        units="pix",
        color=(0, 0, 0),
        colorSpace="rgb",
        allowGUI=False,
        waitBlanking=True,
        checkTiming=False,
    )
    refresh = float(settings.safety.monitor.refresh_hz)
    guard = SequenceGuard(limiter, tuple(win.size))
    diode = None
    if p.photodiode:
        w, h = p.size
        s = p.photodiode_size
        diode = visual.Rect(
            win,
            width=s,
            height=s,
            pos=(-w / 2 + s / 2, -h / 2 + s / 2),
            fillColor=(1, 1, 1),
            lineColor=None,
            colorSpace="rgb",
        )
    shots = Path(settings.screenshot_dir) if settings.screenshot_dir else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    win.flip()
    replies.put(("ready", pylsl.local_clock()))
    abort_key = settings.safety.abort_key
    flip_box: list[float] = []

    def _stamp() -> None:
        flip_box.append(pylsl.local_clock())

    def _aborted() -> bool:
        if event.getKeys(keyList=[abort_key]):
            return True
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            return False
        if isinstance(cmd, (Abort, Stop)):
            commands_pending.append(cmd)
            return True
        commands_pending.append(cmd)
        return False

    commands_pending: list = []
    running = True
    while running:
        cmd = commands_pending.pop(0) if commands_pending else commands.get()
        if isinstance(cmd, Stop):
            break
        if isinstance(cmd, Abort):
            continue
        if not isinstance(cmd, Show):
            continue
        try:
            stim, record = limiter(cmd.stimulus)
        except SafetyError as exc:
            replies.put(Failed(cmd.stim_id, str(exc), "SafetyError"))
            continue
        periodic_ok = record.get("opt_in") is not None
        seq_violations = [] if periodic_ok else guard.check(stim)
        if seq_violations:
            why = "; ".join(v.detail for v in seq_violations)
            replies.put(
                Failed(cmd.stim_id, f"stimulus {stim.label!r} refused: {why}", "SafetyError")
            )
            continue
        n = max(1, int(round(stim.duration * refresh)))
        frames = stim.render(refresh, stim.duration)[1:-1] if stim.frames is not None else None
        w, h = stim.display_px
        if stim.kind == "cue":
            drawable = visual.TextStim(
                win, text=stim.text or stim.label, color=(1, 1, 1), height=32
            )
        elif stim.kind == "off":
            drawable = None
        else:
            base = stim.base_image() if frames is None else frames[0]
            tex = np.flipud(base * 2.0 - 1.0)  # psychopy: [-1, 1], row 0 at the bottom
            drawable = visual.ImageStim(win, image=tex, size=(w, h), units="pix", colorSpace="rgb")
        modulated = (
            frames is None and bool(stim.frequency) and drawable is not None and stim.kind != "cue"
        )
        depth = float(stim.depth if stim.depth is not None else 1.0)
        flip_box.clear()
        shot = None
        aborted = False
        last = float("nan")
        for k in range(n):
            if k and _aborted():
                aborted = True
                break
            if drawable is not None:
                if frames is not None and k:
                    drawable.image = np.flipud(frames[min(k, len(frames) - 1)] * 2.0 - 1.0)
                if modulated:
                    t = k / refresh
                    m = (
                        1.0
                        - depth
                        * (1.0 - np.cos(2 * np.pi * stim.frequency * t + (stim.phase or 0.0)))
                        / 2.0
                    )
                    # ImageStim.contrast scales around mid-gray (0 in psychopy rgb), i.e. the
                    # formula bg + (img - bg) * m for the default mid-gray background
                    drawable.contrast = m
                drawable.draw()
            if diode is not None and drawable is not None:
                diode.draw()
            if k == 0:
                if shots is not None and settings.presenter.screenshots:
                    frame = win.getMovieFrame(buffer="back")
                    shot = str(shots / f"stim_{cmd.stim_id:05d}.png")
                    frame.save(shot)
                    win.movieFrames.clear()
                win.callOnFlip(_stamp)
            win.flip()
            if k == 0:
                onset = flip_box[0]
                markers.push(stim.label, onset)
                descriptions.push(stim.description_json(cmd.stim_id, record), onset)
        win.callOnFlip(_stamp)
        win.flip()  # back to the background
        last = flip_box[-1]
        if aborted:
            markers.push("abort", last)
        guard.shown(stim, periodic_ok)
        replies.put(
            Shown(
                cmd.stim_id,
                stim.label,
                flip_box[0],
                k + 1 if not aborted else k,
                last,
                shot,
                record,
                aborted,
            )
        )
        if aborted:
            # drop everything queued before the abort; keep a Stop
            while True:
                try:
                    nxt = commands.get_nowait()
                except queue.Empty:
                    break
                if isinstance(nxt, Stop):
                    commands_pending.append(nxt)
            if any(isinstance(c, Stop) for c in commands_pending):
                running = False
            commands_pending[:] = [c for c in commands_pending if isinstance(c, Stop)]
    win.close()
    replies.put(("closed", pylsl.local_clock()))


class Presenter:
    """A PsychoPy window in its own (spawned) process.

    Parameters
    ----------
    presenter : PresenterConfig
        Window, photodiode, screenshots, stream names.
    safety : SafetyConfig
        The limiter applied in the window process before drawing.
    screenshot_dir : str | Path | None
        Where first-frame screenshots go (``None``: no screenshots).
    queue_size : int
        Bound of the command queue (``show`` blocks when full: lossless, with backpressure).
    """

    def __init__(
        self,
        presenter: PresenterConfig | None = None,
        safety: SafetyConfig | None = None,
        screenshot_dir: str | Path | None = None,
        queue_size: int = 256,
    ):
        self.settings = _Settings(
            presenter or PresenterConfig(),
            safety or SafetyConfig(),
            str(screenshot_dir) if screenshot_dir else None,
        )
        self._ctx = mp.get_context("spawn")
        self._commands = self._ctx.Queue(maxsize=queue_size)
        self._replies = self._ctx.Queue(maxsize=queue_size * 2)
        self._proc = None
        self._next = 0

    def start(self, timeout: float = 60.0) -> Presenter:
        """Open the window (idempotent); returns once it is on screen."""
        if self._proc is not None and self._proc.is_alive():
            return self
        self._proc = self._ctx.Process(
            target=_window_process,
            args=(self.settings, self._commands, self._replies),
            daemon=True,
            name="bci-presenter",
        )
        self._proc.start()
        try:
            msg = self._replies.get(timeout=timeout)
        except queue.Empty as exc:
            self.stop()
            raise StimulusError(
                f"presenter window did not open within {timeout} s (is DISPLAY set?)"
            ) from exc
        if msg[0] != "ready":
            raise StimulusError(f"presenter failed to start: {msg}")
        return self

    def show(self, stimulus: Stimulus, stim_id: int | None = None) -> int:
        """Queue a stimulus; returns its id."""
        if self._proc is None or not self._proc.is_alive():
            raise StimulusError("presenter is not running; call start() first")
        sid = self._next if stim_id is None else stim_id
        self._next = max(self._next, sid) + 1
        self._commands.put(Show(sid, stimulus), timeout=10.0)
        return sid

    def abort(self) -> None:
        """End the current presentation at once (like the abort key)."""
        self._commands.put(Abort(), timeout=1.0)

    def results(self, n: int, timeout: float = 30.0) -> list[Shown | Failed]:
        """Wait for ``n`` replies (shown or refused)."""
        import time

        out: list = []
        end = time.monotonic() + timeout
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise StimulusError(
                    f"presenter: {len(out)} of {n} stimuli reported within {timeout} s"
                )
            try:
                msg = self._replies.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(msg, (Shown, Failed)):
                out.append(msg)
        return out

    def stop(self, timeout: float = 10.0) -> Presenter:
        """Close the window and end the process (idempotent)."""
        if self._proc is None:
            return self
        if self._proc.is_alive():
            try:
                self._commands.put(Stop(), timeout=1.0)
            except queue.Full:
                pass
            self._proc.join(timeout)
            if self._proc.is_alive():
                logger.warning("presenter did not close within %s s; terminating it", timeout)
                self._proc.terminate()
                self._proc.join(2.0)
        self._proc = None
        return self

    def __enter__(self) -> Presenter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
