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

import json
import logging
import math
import multiprocessing as mp
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path

from bci import StimulusError
from bci.config._closed_loop import PresenterConfig, SafetyConfig

from ._stimulus import Stimulus

logger = logging.getLogger(__name__)


def require_display() -> None:
    """Raise a :class:`StimulusError` that says why, when no screen can be opened.

    Call it before importing ``psychopy.visual`` or ``psychopy.event``: importing them
    connects to the display, and pyglet's own message is only ``Cannot connect to "None"``.
    """
    import os

    import pyglet

    try:
        pyglet.canvas.get_display()
    except Exception as exc:
        if type(exc).__name__ != "NoSuchDisplayException":
            raise
        display = os.environ.get("DISPLAY")
        where = f"display {display!r} cannot be reached" if display else "DISPLAY is not set"
        raise StimulusError(
            f"no screen to show the paradigm on: {where}. Run it on the participant's screen "
            "(set DISPLAY, e.g. DISPLAY=:0), or under a virtual display for a dry run: "
            "xvfb-run -a bci ..."
        ) from None


# -- flip timing (shared by every presenter) ---------------------------------------------
def frame_period(times) -> float:
    """Frame period (s) from flip times, robust to late wake-ups and dropped frames.

    Starting from the median interval, the estimate is refined over ever longer spans
    (4, 16, 64... flips, up to half the run): each span's time is divided by its number of
    refresh slots counted with the current estimate, and the median is taken. A flip stamped
    late on a busy machine moves a few spans, not the median; a dropped frame adds a slot.
    """
    import numpy as np

    t = np.asarray(times, float)
    p = float(np.median(np.diff(t)))
    m = 4
    while True:
        m = min(m, max(1, len(t) // 2))
        span = t[m:] - t[:-m]
        slots = np.maximum(1, np.round(span / p))
        p = float(np.median(span / slots))
        if m >= len(t) // 2:
            return p
        m *= 4


class FlipClock:
    """Flips a PsychoPy window and says when each frame reached the screen.

    At :meth:`measure` it first times a few raw flips: when they return much faster than
    the expected frame period, the display does not pace flips (Xvfb, or vsync off) and the
    clock paces them itself on an absolute grid (sleep then spin), logging that it does.
    Then it times ``n`` flips and takes the median interval as the refresh rate that every
    frame-locked stimulus uses; :meth:`check` compares it with the configured rate.

    Parameters
    ----------
    win : psychopy.visual.Window
        The window (any object with ``flip()``).
    expected_hz : float
        The configured refresh rate.
    pace_hz : float | None
        Pace flips by the clock at this rate whatever the display does (emulates a display
        of that rate; used to test the refresh check).
    """

    def __init__(self, win, expected_hz: float, pace_hz: float | None = None) -> None:
        self.win = win
        self.expected_hz = float(expected_hz)
        self.pace_hz = pace_hz
        self.paced_by_clock = pace_hz is not None
        self.refresh_hz = float(pace_hz or expected_hz)
        self.period = 1.0 / self.refresh_hz
        self.dropped = 0
        self.n_flips = 0
        self.last = float("nan")
        self._next = float("nan")

    def flip(self) -> float:
        """Flip; return the flip time on the LSL clock. Counts dropped frames."""
        import pylsl

        if self.paced_by_clock:
            # Emulated vsync: the swap happens now, the frame shows at the next refresh
            # slot of the clock's grid; a swap that completes after its slot is a dropped
            # frame (shown one or more slots later), as on a real display.
            self.win.flip()
            done = pylsl.local_clock()
            if not math.isfinite(self._next):
                self._next = done
            elif done > self._next:
                missed = math.ceil((done - self._next) / self.period)
                self.dropped += missed
                self._next += missed * self.period
            wait = self._next - pylsl.local_clock()
            if wait > 0.002:
                time.sleep(wait - 0.0015)
            while pylsl.local_clock() < self._next:
                pass
            t = self._next
            self._next += self.period
        else:
            self.win.flip()
            t = pylsl.local_clock()
            if math.isfinite(self.last) and t - self.last > 1.5 * self.period:
                self.dropped += int(round((t - self.last) / self.period)) - 1
        self.last = t
        self.n_flips += 1
        return t

    def next_time(self) -> float:
        """When the next flip is expected to reach the screen (NaN before the first)."""
        if self.paced_by_clock:
            return self._next
        return self.last + self.period

    def measure(self, n: int = 120) -> float:
        """Detect an unpaced display, then measure the refresh rate over ``n`` flips."""
        import numpy as np
        import pylsl

        if not self.paced_by_clock:
            raw = [pylsl.local_clock()]
            for _ in range(40):
                self.win.flip()
                raw.append(pylsl.local_clock())
            d = np.diff(raw)
            med = float(np.median(d))
            ratio = d / med
            regular = float(np.mean(np.abs(ratio - np.maximum(1, np.round(ratio))) < 0.1))
            # No display refreshes faster than 600 Hz: flips that mostly return within
            # 1.5 ms of the previous one are not paced. Flips faster than half the expected
            # period that do not fall on a regular grid (whole multiples of one interval)
            # are a busy machine rendering without vsync; a faster display paces on its
            # grid (and is then refused below).
            fast = float(np.percentile(d, 10)) < 0.0015
            if fast or (med < 0.5 / self.expected_hz and regular < 0.6):
                self.paced_by_clock = True
                logger.warning(
                    "the display does not pace flips (flips return in %.2f-%.2f ms, expected "
                    "%.2f ms at %g Hz: no vsync, e.g. Xvfb); pacing flips by the clock at %g Hz",
                    float(np.percentile(d, 10)) * 1e3,
                    med * 1e3,
                    1e3 / self.expected_hz,
                    self.expected_hz,
                    self.expected_hz,
                )
        times = np.array([self.flip() for _ in range(n)])
        self.refresh_hz = float(1.0 / frame_period(times))
        self.period = 1.0 / self.refresh_hz
        self.dropped = 0
        logger.info(
            "measured refresh %.3f Hz over %d flips (configured %g Hz; %s)",
            self.refresh_hz,
            n,
            self.expected_hz,
            "paced by the clock" if self.paced_by_clock else "paced by the display",
        )
        return self.refresh_hz

    def check(self, tolerance: float, allow: bool, key: str = "display.refresh_hz") -> str | None:
        """Compare measured and configured refresh.

        Returns
        -------
        str | None
            The warning when they differ by more than ``tolerance`` and ``allow`` is set.

        Raises
        ------
        StimulusError
            When they differ by more than ``tolerance`` and ``allow`` is not set.
        """
        rel = abs(self.refresh_hz - self.expected_hz) / self.expected_hz
        if rel <= tolerance:
            return None
        msg = (
            f"measured refresh {self.refresh_hz:.2f} Hz differs from the configured "
            f"{self.expected_hz:g} Hz by {rel * 100:.1f} % (> {tolerance * 100:g} %)"
        )
        if not allow:
            raise StimulusError(
                f"{msg}: set {key} to the display's rate (or set the display to "
                f"{self.expected_hz:g} Hz), or set display.allow_mismatch: true to run with "
                "flicker computed from the measured rate"
            )
        logger.warning("%s; running anyway (display.allow_mismatch)", msg)
        return msg


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


#: Description pushed at the flip that ends a stimulus (the background is back).
_OFFSET = {
    "v": 1, "kind": "off", "label": "end", "duration": 0.0, "frequency": None, "phase": None,
    "depth": None, "target": None, "gesture": None, "image": None, "safety": None,
}  # fmt: skip


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
    clock = FlipClock(win, float(settings.safety.monitor.refresh_hz))
    clock.measure(60)  # paces flips by the clock where the display does not (Xvfb)
    clock.check(0.01, allow=True, key="closed_loop.safety.monitor.refresh_hz")
    refresh = clock.refresh_hz  # frames are counted at the measured rate
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
    clock.flip()
    replies.put(("ready", pylsl.local_clock()))
    abort_key = settings.safety.abort_key
    flip_box: list[float] = []

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
        k = 0
        while k < n:
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
            if k == 0 and shots is not None and settings.presenter.screenshots:
                frame = win.getMovieFrame(buffer="back")
                shot = str(shots / f"stim_{cmd.stim_id:05d}.png")
                frame.save(shot)
                win.movieFrames.clear()
            t_flip = clock.flip()
            if k == 0:
                flip_box.append(t_flip)
                onset = flip_box[0]
                markers.push(stim.label, onset)
                descriptions.push(stim.description_json(cmd.stim_id, record), onset)
            # on the refresh grid: a dropped frame is skipped, not appended to the stimulus
            k = max(k + 1, int(round((clock.next_time() - onset) * refresh)))
        flip_box.append(clock.flip())  # back to the background
        last = flip_box[-1]
        # the offset, stamped with its flip: recordings give every stimulus's duration
        descriptions.push(json.dumps(_OFFSET | {"id": cmd.stim_id}), last)
        if aborted:
            markers.push("abort", last)
        guard.shown(stim, periodic_ok)
        replies.put(
            Shown(
                cmd.stim_id,
                stim.label,
                flip_box[0],
                min(k, n),  # refresh periods it lasted (dropped frames included)
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
        require_display()
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
