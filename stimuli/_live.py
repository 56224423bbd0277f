"""The live participant: PsychoPy presenter on screen, EEG from LSL (closed_loop.mode: live)."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from bci import StreamError
from bci.config._closed_loop import ClosedLoopConfig

from ._presenter import Presenter, Shown
from ._stimulus import Stimulus

logger = logging.getLogger(__name__)


class LiveParticipant:
    """``show(stimuli, descriptions) -> trial EEG`` through the presenter and an LSL EEG stream.

    With a ``simulated`` first source, the simulated participant is started here (listening to
    the presenter's marker and description streams); otherwise the EEG stream named by the
    source (``lsl``) must already be on the network.
    """

    def __init__(
        self, source, cl: ClosedLoopConfig, bufsize: float = 120.0, record: str | None = "auto"
    ):
        from bci.devices import SourceLSL

        self.cl = cl
        self.sim = None
        self.recorder = None
        if getattr(source, "kind", None) == "simulated":
            from bci.devices.simulated._live import SimulatedParticipant

            cfg = source.model_copy(
                update={
                    "paradigm": "none",
                    "markers": cl.presenter.marker_stream,
                    "stimuli": cl.presenter.description_stream,
                }
            )
            self.sim = SimulatedParticipant(cfg).start()
        name = getattr(source, "name", None)
        self.presenter = Presenter(cl.presenter, cl.safety).start()
        self.source = SourceLSL(name=name, timeout=10.0).connect()
        names = list(self.source.spec.ch_names)
        missing = [c for c in cl.measure.channels if c not in names]
        if missing:
            self.close()
            raise StreamError(
                f"closed_loop.measure.channels {missing} are not in stream {name!r} ({names})"
            )
        self.names = names
        self.channels: list[str] | None = (
            None  # set to the decoder's channels for feature 'decoder'
        )
        self.sfreq = float(self.source.spec.sfreq)
        n = int(bufsize * self.sfreq)
        self._data = np.zeros((len(names), n), np.float64)
        self._ts = np.full(n, -np.inf)
        self._w = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pull, daemon=True, name="closed-loop-eeg")
        self._thread.start()
        if self.sim is not None:  # wait until the participant hears the presenter
            end = time.monotonic() + 10.0
            while not {"marker", "desc"} <= self.sim.listening and time.monotonic() < end:
                time.sleep(0.05)
        if record is not None:  # the EEG and the stimulus streams, like every session
            self._record(name, record)

    def _record(self, name: str | None, record: str) -> None:
        from pathlib import Path

        from bci.devices import RecordLSL

        p = self.cl.presenter
        path = (
            Path(self.cl.report_dir) / f"live_{time.strftime('%Y%m%d-%H%M%S')}.xdf"
            if record == "auto"
            else Path(record)
        )
        streams = [
            f"name='{name}' and source_id='{self.source.spec.source_id}'",
            f"name='{p.marker_stream}' and source_id='{p.marker_stream}-presenter'",
            f"name='{p.description_stream}' and source_id='{p.description_stream}-presenter'",
        ]
        if self.sim is not None:
            streams.append(self.sim.config.truth)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.recorder = RecordLSL(path, streams, resolve_timeout=1.0).start()
        self.recording = path
        end = time.monotonic() + 10.0
        while len(self.recorder.stats) < len(streams) and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.5)  # the inlets open their streams
        logger.info("closed loop (live): recording to %s", path)

    def _pull(self) -> None:
        while not self._stop.is_set():
            chunk = self.source.pull()
            if chunk is None or chunk.n_times == 0:
                time.sleep(0.01)
                continue
            with self._lock:
                n = self._data.shape[1]
                for k in range(chunk.n_times):  # small chunks (20 ms); ring buffer
                    self._data[:, self._w % n] = chunk.data[:, k]
                    self._ts[self._w % n] = chunk.timestamps[k]
                    self._w += 1

    def _segment(self, onset: float, seconds: float, timeout: float = 5.0) -> np.ndarray:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if self._ts.max() >= onset + seconds:
                    order = np.argsort(self._ts)
                    ts, data = self._ts[order], self._data[:, order]
                    a = int(np.searchsorted(ts, onset))
                    wanted = self.channels or self.cl.measure.channels
                    missing = [c for c in wanted if c not in self.names]
                    if missing:
                        raise StreamError(
                            f"channels {missing} are not in the EEG stream ({self.names})"
                        )
                    idx = [self.names.index(c) for c in wanted]
                    return data[idx, a : a + int(seconds * self.sfreq)].copy()
            time.sleep(0.02)
        raise StreamError(
            f"no EEG up to {onset + seconds:.3f} s on the LSL clock within {timeout} s"
        )

    def show(self, stimuli: list[Stimulus], descriptions: list[dict]) -> list[np.ndarray]:
        """Present each stimulus (then the background for the ITI); return its EEG."""
        shown: list[Shown] = []
        for stim, desc in zip(stimuli, descriptions, strict=True):
            self.presenter.show(stim, int(desc["id"]))
            (reply,) = self.presenter.results(1, timeout=stim.duration + 30.0)
            if not isinstance(reply, Shown):
                raise StreamError(f"presenter refused stimulus {desc['id']}: {reply.error}")
            if reply.aborted:
                raise KeyboardInterrupt("presentation aborted (abort key)")
            shown.append(reply)
            if self.cl.iti > 0:
                self.presenter.show(
                    Stimulus(kind="off", label="off", duration=self.cl.iti), 10**9 + int(desc["id"])
                )
                self.presenter.results(1, timeout=self.cl.iti + 30.0)
        return [self._segment(s.flip_time, self.cl.trial_duration) for s in shown]

    def close(self) -> None:
        """Stop the presenter, the EEG reader and the simulated participant (idempotent)."""
        if getattr(self, "recorder", None) is not None:  # inlets before outlets
            self.recorder.stop()
            self.recorder = None
        self._stop_event = getattr(self, "_stop", None)
        if self._stop_event is not None:
            self._stop.set()
        if getattr(self, "_thread", None) is not None:
            self._thread.join(2.0)
        if getattr(self, "source", None) is not None:
            self.source.disconnect()
        self.presenter.stop()
        if self.sim is not None:
            self.sim.stop()
