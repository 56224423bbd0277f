"""The view's LSL side: one reader thread per stream, state the web server reads.

Each role (signal, decisions, stamps, markers, stimuli, truth, impedance) has a thread that
waits for its stream to appear, connects, pulls with a short liblsl wait, and writes into
bounded structures (rings and ``deque(maxlen=...)``): the view never queues without limit
and never talks to the session's hot path, only to its LSL outlets. A stream that stops
(session ended, cable out) is shown as a gap; when it comes back it is picked up again.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import deque
from typing import Any

import numpy as np
import pylsl

from .._quality import QualityCheck, QualitySettings
from ._display import Decimator, DisplayFilter, TraceRing, decimation_factor
from ._settings import ViewSettings

logger = logging.getLogger(__name__)

HISTORY_S = 30.0  # seconds of display samples kept (the longest time base)
RAW_S = 4.0  # seconds of full-rate samples for spectra and quality
SPECTRUM_EVERY = 1.0  # s
RESOLVE_EVERY = 3.0  # s between looks for missing streams once the signal is attached
READ_EVERY = 0.04  # s between reads of a stream: one read per page frame (25 frames/s)
STAGES = ("transport", "processing", "output", "decision")
_SKIP_TYPES = {"Decision", "LatencyStamps", "Markers", "Events", "Metrics", "GroundTruth"}


def cue_class(label: str, classes: list[str]) -> int | None:
    """Index of the decoder class a cue label asks for (``ssvep_8`` -> ``8.0``), or ``None``."""
    if label in classes:
        return classes.index(label)
    m = re.match(r"^[A-Za-z]+_([0-9.]+)$", label)
    if m:
        try:
            value = float(m.group(1))
        except ValueError:
            return None
        for i, c in enumerate(classes):
            try:
                if abs(float(c) - value) < 1e-6:
                    return i
            except ValueError:
                continue
    if label == "off" and "rest" in classes:
        return classes.index("rest")
    return None


class SignalState:
    """Everything shown about the signal stream: display rings, spectrum, quality."""

    def __init__(self, spec: Any, settings: ViewSettings) -> None:
        self.spec = spec
        self.sfreq = float(spec.sfreq)
        n = spec.n_channels
        self.factor = decimation_factor(self.sfreq)
        self.display_rate = self.sfreq / self.factor
        cap = int(HISTORY_S * self.display_rate) + 16
        self.filtered = TraceRing(n, cap)
        self.raw = TraceRing(n, cap)
        self.full = TraceRing(n, int(RAW_S * self.sfreq))
        self._filter = DisplayFilter(self.sfreq, n, settings.bandpass, settings.notch)
        self._dec_f = Decimator(self.factor, n)
        self._dec_r = Decimator(self.factor, n)
        self.quality_check = QualityCheck(
            self.sfreq, spec.ch_names, QualitySettings(line_freq=settings.line_freq)
        )
        self.spectrum: dict | None = None
        self.quality: list[dict] | None = None
        self.version = 0  # bumped when spectrum/quality change
        self.impedance_kohm: np.ndarray | None = None
        self._last_t = math.nan
        self._last_analysis = 0.0

    def meta(self) -> dict:
        """Stream description for the page."""
        s = self.spec
        return {
            "name": s.name,
            "ch_names": list(s.ch_names),
            "units": list(s.units) if s.units else [],
            "sfreq": self.sfreq,
            "display_rate": self.display_rate,
            "factor": self.factor,
        }

    def gap(self, t: float) -> None:
        """A break: rings get a NaN column, filters restart."""
        if math.isnan(self._last_t):
            return
        self.filtered.gap(self._last_t + 1e-6)
        self.raw.gap(self._last_t + 1e-6)
        self._filter.reset()
        self._dec_f.reset()
        self._dec_r.reset()
        self._last_t = math.nan

    def push(self, x: np.ndarray, t: np.ndarray) -> None:
        """New samples ``(n_channels, n)`` with timestamps."""
        if not math.isnan(self._last_t) and t[0] - self._last_t > max(0.25, 5 / self.sfreq):
            self.gap(t[0])
        xf = np.asarray(x, dtype=np.float64)
        finite = np.isfinite(xf)
        if not finite.all():
            xf = np.where(finite, xf, 0.0)
        self.full.write(x, t)
        y = self._filter(xf)
        d, td = self._dec_f(y, t)
        self.filtered.write(d.astype(np.float32), td)
        d, td = self._dec_r(xf, t)
        self.raw.write(d.astype(np.float32), td)
        self._last_t = float(t[-1])
        now = time.perf_counter()
        if now - self._last_analysis >= SPECTRUM_EVERY:
            self._last_analysis = now
            self.analyse()

    def analyse(self) -> None:
        """Spectrum (Welch, 2 s segments) and quality of the last few seconds."""
        from scipy import signal

        x, _, _, _ = self.full.since(0, self.full.capacity)
        x = x.astype(np.float64)
        if x.shape[1] < self.sfreq:  # wait for a second of data
            return
        x = np.where(np.isfinite(x), x, 0.0)
        nper = int(min(x.shape[1], 2 * self.sfreq))
        f, p = signal.welch(x - x.mean(axis=1, keepdims=True), fs=self.sfreq, nperseg=nper)
        keep = (f >= 0.5) & (f <= min(100.0, self.sfreq / 2))
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(np.maximum(p[:, keep], 1e-12))
        self.spectrum = {"f": np.round(f[keep], 3).tolist(), "db": np.round(db, 2).tolist()}
        imp = self.impedance_kohm
        if imp is not None and imp.size != self.spec.n_channels:
            imp = None
        self.quality = [c.as_dict() for c in self.quality_check(x, imp)]
        self.version += 1


class Hub:
    """Reader threads for every role and the state the server serves.

    Parameters
    ----------
    settings : ViewSettings
        Stream names, filters and budgets.
    """

    def __init__(self, settings: ViewSettings) -> None:
        self.settings = settings
        self.signal: SignalState | None = None
        self.signal_version = 0  # bumped when a (new) signal stream is attached
        self.status: dict[str, str] = {}
        self.classes: list[str] = []
        self.decisions: deque[tuple[int, float, list[float], int]] = deque(maxlen=3000)
        self.n_decisions = 0
        self.markers: deque[tuple[int, float, str]] = deque(maxlen=500)
        self.n_markers = 0
        self.stimulus: dict | None = None
        self.stimulus_version = 0
        self._durations = {s: deque(maxlen=500) for s in STAGES}
        self.overruns = dict.fromkeys(STAGES, 0)
        self.n_stamps = 0
        self.t_last_stamp = math.nan
        self._truth: list[tuple[float, str]] = []
        self.cue: dict | None = None
        self.scored = 0
        self.correct = 0
        self._lock = threading.Lock()
        self._resolve_lock = threading.Lock()
        self._resolved: list = []
        self._resolved_at = -math.inf
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Hub:
        """Start one reader thread per role (idempotent)."""
        if self._threads:
            return self
        s = self.settings
        roles = {
            "signal": (s.signal, self._on_signal),
            "decisions": (s.decisions, self._on_decisions),
            "stamps": (s.stamps_name, self._on_stamps),
            "markers": (s.markers, self._on_markers),
            "stimuli": (s.stimuli, self._on_stimuli),
            "truth": (s.truth, self._on_truth),
            "impedance": (None, self._on_impedance),
        }
        for role, (name, handler) in roles.items():
            self.status[role] = "waiting"
            target = self._stamps_reader if role == "stamps" else self._reader
            t = threading.Thread(
                target=target, args=(role, name, handler), name=f"view-{role}", daemon=True
            )
            self._threads.append(t)
            t.start()
        return self

    def stop(self) -> Hub:
        """Stop the readers and close their inlets (idempotent)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads = []
        return self

    # ------------------------------------------------------------------ readers
    def _visible(self) -> list:
        """Streams on the network, resolved for all readers together.

        Once a second until the signal stream is attached, then every ``RESOLVE_EVERY``
        seconds: each resolution makes every LSL outlet on the network answer (the
        session's too), and a role whose stream never comes (impedance for a stream
        without it) would otherwise ask once a second for as long as the view runs.
        """
        from bci.devices import list_streams

        with self._resolve_lock:
            now = time.monotonic()
            every = 1.0 if self.signal is None else RESOLVE_EVERY
            if now - self._resolved_at > every:
                self._resolved = list_streams(timeout=0.5, desc=False)
                self._resolved_at = time.monotonic()
            return self._resolved

    def _find(self, role: str, name: str | None) -> str | None:
        streams = self._visible()
        if role == "impedance":
            if self.signal is None:
                return None
            want = f"{self.signal.spec.name}-Resistance"
            return want if any(st.name == want for st in streams) else None
        if name is not None:
            return name if any(st.name == name for st in streams) else None
        for st in streams:  # first regular stream that is not one of a session's outputs
            if st.sfreq > 0 and st.stype not in _SKIP_TYPES and not st.name.endswith("-stamps"):
                return st.name
        return None

    def _reader(self, role: str, name: str | None, handler: Any) -> None:
        from bci.devices import SourceLSL

        from .._errors import StreamError

        while not self._stop.is_set():
            found = self._find(role, name)
            if found is None:
                self._stop.wait(0.5)
                continue
            src = SourceLSL(name=found, timeout=2.0, bufsize=2.0, silence_timeout=1.0)
            try:
                src.connect()
            except StreamError as exc:
                logger.debug("view: %s %r not ready: %s", role, found, exc)
                self._stop.wait(1.0)
                continue
            logger.info("view: %s <- LSL %r", role, found)
            self.status[role] = "live"
            if role == "signal":
                self._attach_signal(src.spec)
            elif role == "decisions":
                self.classes = list(src.spec.ch_names[:-1])
            try:
                while not self._stop.is_set():
                    chunk = src.pull(timeout=0.05)
                    for ev in src.events():
                        self._on_source_event(role, ev)
                    if chunk is not None:
                        if self.status[role] != "live":
                            self.status[role] = "live"
                        handler(chunk)
                    # at most one read per page frame: chunks of several samples, not one
                    # wake-up per push (string streams do not wait in liblsl, so this wait is
                    # also their pacing)
                    self._stop.wait(READ_EVERY)
            except Exception:  # the view must outlive a misbehaving stream
                logger.exception("view: reading %s %r failed; attaching again", role, found)
                self._stop.wait(1.0)
            finally:
                src.disconnect()

    def _stamps_reader(self, role: str, name: str, handler: Any) -> None:
        """Stamps are float64 LSL times: read them with a plain inlet, in full precision."""
        while not self._stop.is_set():
            found = pylsl.resolve_byprop("name", name, 1, 1.0) if self._find(role, name) else []
            if not found:
                self._stop.wait(0.5)
                continue
            inlet = pylsl.StreamInlet(found[0], max_buflen=2, recover=False)
            n_ch = found[0].channel_count()
            buf = np.empty((512, n_ch), np.float64)
            self.status[role] = "live"
            logger.info("view: %s <- LSL %r", role, name)
            idle_since = time.perf_counter()
            try:
                while not self._stop.is_set():
                    _, ts = inlet.pull_chunk(timeout=0.0, max_samples=512, dest_obj=buf)
                    if ts:
                        idle_since = time.perf_counter()
                        self.status[role] = "live"
                        handler(buf[: len(ts)].T.copy())
                    else:
                        if time.perf_counter() - idle_since > 2.0:
                            self.status[role] = "silent"
                        self._stop.wait(READ_EVERY)
            except pylsl.util.LostError:
                self.status[role] = "silent"
            finally:
                inlet.close_stream()

    def _on_source_event(self, role: str, ev: Any) -> None:
        try:
            kind = json.loads(ev.value).get("event")
        except (ValueError, AttributeError):
            return
        if kind in ("silent", "lost"):
            self.status[role] = "silent"
            if role == "signal" and self.signal is not None:
                with self._lock:
                    self.signal.gap(ev.timestamp)
        elif kind == "reconnected":
            self.status[role] = "live"

    # ------------------------------------------------------------------ handlers
    def _attach_signal(self, spec: Any) -> None:
        cur = self.signal
        if (
            cur is not None
            and cur.spec.ch_names == spec.ch_names
            and cur.sfreq == float(spec.sfreq)
        ):
            return  # the same stream came back: keep its history, the gap shows
        with self._lock:
            self.signal = SignalState(spec, self.settings)
            self.signal_version += 1

    def _on_signal(self, chunk: Any) -> None:
        with self._lock:
            if self.signal is not None:
                self.signal.push(chunk.data, chunk.timestamps)

    def _on_impedance(self, chunk: Any) -> None:
        sig = self.signal
        if sig is None or chunk.data.shape[0] < sig.spec.n_channels:
            return
        sig.impedance_kohm = chunk.data[: sig.spec.n_channels, -1].astype(np.float64) / 1e3

    def _on_decisions(self, chunk: Any) -> None:
        with self._lock:
            for j in range(chunk.data.shape[1]):
                col = chunk.data[:, j]
                self.n_decisions += 1
                t = float(chunk.timestamps[j])
                label = int(col[-1]) if np.isfinite(col[-1]) else -1
                self.decisions.append((self.n_decisions, t, [float(v) for v in col[:-1]], label))
                self._score(t, label)

    def _on_stamps(self, d: np.ndarray) -> None:
        b = self.settings.budgets_ms
        ts, tp, td, tpub = d[0], d[1], d[2], d[3]
        durs = {
            "transport": (tp - ts) * 1e3,
            "processing": (td - tp) * 1e3,
            "output": (tpub - td) * 1e3,
            "decision": (tpub - ts) * 1e3,
        }
        with self._lock:
            for st, v in durs.items():
                self._durations[st].extend(v.tolist())
                self.overruns[st] += int(np.sum(v > b.get(st, math.inf)))
            self.n_stamps += d.shape[1]
            self.t_last_stamp = float(tpub[-1])

    def _on_markers(self, chunk: Any) -> None:
        with self._lock:
            for v, t in zip(chunk.data[0], chunk.timestamps, strict=True):
                self.n_markers += 1
                self.markers.append((self.n_markers, float(t), str(v)))

    def _on_stimuli(self, chunk: Any) -> None:
        try:
            desc = json.loads(str(chunk.data[0][-1]))
        except ValueError:
            return
        if not isinstance(desc, dict):
            return
        desc["t"] = float(chunk.timestamps[-1])
        with self._lock:
            self.stimulus = desc
            self.stimulus_version += 1

    def _on_truth(self, chunk: Any) -> None:
        with self._lock:
            for v, t in zip(chunk.data[0], chunk.timestamps, strict=True):
                try:
                    truth = json.loads(str(v))
                except ValueError:
                    continue
                label = str(truth.get("label", ""))
                self._truth.append((float(t), label))
                self.cue = {"label": label, "onset": float(t)}
            del self._truth[:-200]

    def _score(self, t: float, label: int) -> None:
        """Score a decision against the cue active one window length before it."""
        if not self._truth or label < 0 or not self.classes:
            return
        active = None
        for onset, cue in reversed(self._truth):
            if onset <= t:
                active = (onset, cue)
                break
        if active is None or t - active[0] < self.settings.cue_lag:
            return
        want = cue_class(active[1], self.classes)
        if want is None:
            return
        self.scored += 1
        self.correct += int(want == label)

    # ------------------------------------------------------------------ reads
    def latency(self) -> dict:
        """p50/p99 per stage over the last 500 decisions, budgets, overruns."""
        with self._lock:
            rows = {}
            for st in STAGES:
                v = np.asarray(self._durations[st])
                rows[st] = {
                    "p50": round(float(np.percentile(v, 50)), 3) if v.size else None,
                    "p99": round(float(np.percentile(v, 99)), 3) if v.size else None,
                    "budget": self.settings.budgets_ms.get(st),
                    "overruns": self.overruns[st],
                }
            age = pylsl.local_clock() - self.t_last_stamp if self.n_stamps else None
            return {"stages": rows, "n": self.n_stamps, "age": age}

    def accuracy(self) -> dict:
        """Running online accuracy against the cued class (decision level)."""
        with self._lock:
            cue = dict(self.cue) if self.cue else None
            if cue is not None:
                idx = cue_class(cue["label"], self.classes) if self.classes else None
                cue["class"] = self.classes[idx] if idx is not None else None
            return {
                "cue": cue,
                "scored": self.scored,
                "correct": self.correct,
                "accuracy": self.correct / self.scored if self.scored else None,
                "chance": 1.0 / len(self.classes) if self.classes else None,
            }

    def decisions_since(self, k: int) -> tuple[list, int]:
        """Decisions after counter ``k``: ``[(t, probs, label_index), ...]``."""
        with self._lock:
            out = [(t, p, lab) for n, t, p, lab in self.decisions if n > k]
            return out, self.n_decisions

    def markers_since(self, k: int) -> tuple[list, int]:
        """Markers after counter ``k``: ``[(t, value), ...]``."""
        with self._lock:
            out = [(t, v) for n, t, v in self.markers if n > k]
            return out, self.n_markers


__all__ = ["Hub", "SignalState", "cue_class"]
