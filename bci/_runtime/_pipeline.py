"""The decode path without any transport: clean -> preprocess -> cut -> decode -> post-process.

:class:`Pipeline` is what the live :class:`~bci._runtime.Engine` runs on its hot path and
what virtual time (``bci.decode_recording``) runs on a file: the same filters with their
state carried from chunk to chunk, the same sliding windows on a fixed hop grid or
event-locked epochs, the same decoder and the same smoothing/threshold/dwell. Only the
clock and the source of chunks differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import BCIError, DecoderError
from ._epochs import Epocher, EpochSettings
from ._filters import NonFiniteGuard, Preprocessor, PreprocessSettings
from ._postprocess import PostProcessor
from ._window import Window, Windower

if TYPE_CHECKING:
    from .._types import StreamSpec
    from ._engine import Decoder, EngineSettings

logger = logging.getLogger(__name__)


@dataclass
class Cut:
    """What one chunk produced.

    Parameters
    ----------
    windows : list of Window
        Windows or epochs to decode, oldest first (windows over non-finite samples left out).
    skipped : int
        Hop boundaries passed without a window (live only: a late chunk crossed several).
    nonfinite : int
        Non-finite samples in the chunk (replaced before filtering).
    t_nonfinite, t_nonfinite_last : float
        Timestamps of the first and the last of them (NaN when none).
    bad_windows : list of Window
        Windows or epochs left out because they overlap non-finite samples.
    """

    windows: list[Window] = field(default_factory=list)
    skipped: int = 0
    nonfinite: int = 0
    t_nonfinite: float = float("nan")
    t_nonfinite_last: float = float("nan")
    bad_windows: list[Window] = field(default_factory=list)


def epoch_settings(decoder: Any, settings: EngineSettings) -> EpochSettings | None:
    """Event-locked epochs from the decoder's metadata, unless ``settings.mode`` is sliding."""
    if settings.mode == "sliding":
        return None
    ep = EpochSettings.from_metadata(getattr(decoder, "metadata", {}) or {})
    if ep is None:
        if settings.mode == "event":
            raise DecoderError(
                "window.mode is 'event' but the decoder's metadata has no bci.epochs (onset "
                "markers, tmin/tmax): calibrate it on onset epochs or use window.mode: auto"
            )
        return None
    if settings.marker_stream is not None:
        ep = EpochSettings(ep.markers, ep.tmin, ep.tmax, settings.marker_stream, ep.baseline)
    return ep


class Pipeline:
    """Preprocessing, windowing (or epoching), decoder and post-processing for one stream.

    Parameters
    ----------
    spec : StreamSpec
        The decoded stream (rate, channel names).
    decoder : Decoder
        The decoder; its ``n_channels``/``n_times`` must match the preprocessed windows.
    settings : EngineSettings
        Filters, window/hop, post-processing, window mode.

    Raises
    ------
    DecoderError
        When the preprocessed channels, rate or window length differ from the decoder's.
    """

    def __init__(self, spec: StreamSpec, decoder: Decoder, settings: EngineSettings):
        s = settings
        if spec.sfreq <= 0:
            raise BCIError(f"stream {spec.name!r} is irregular (sfreq=0): it cannot be windowed")
        self.spec = spec
        self.decoder = decoder
        self.settings = settings
        self.pre = Preprocessor(
            PreprocessSettings(
                sfreq=spec.sfreq,
                ch_names=tuple(spec.ch_names),
                bandpass=s.bandpass,
                notch=s.notch,
                reref=s.reref,
                resample=s.resample,
                channels=s.channels,
            )
        )
        check = getattr(decoder, "check_input", None)
        if check is not None:
            check(self.pre.ch_names, self.pre.sfreq)
        n_ch = len(self.pre.ch_names)
        self.guard = NonFiniteGuard(spec.n_channels)
        self.epochs = epoch_settings(decoder, s)
        self.windower: Windower | None = None
        self.epocher: Epocher | None = None
        if self.epochs is not None:
            if n_ch != decoder.n_channels:
                raise DecoderError(
                    f"epochs of {n_ch} ch do not fit the decoder's {decoder.n_channels} ch; "
                    "map channels with preprocess.channels"
                )
            self.epocher = Epocher(n_ch, self.pre.sfreq, decoder.n_times, self.epochs)
            logger.info(
                "event-locked decoding: one epoch of %d samples (%.3f..%.3f s) per onset %s on %s",
                decoder.n_times,
                self.epochs.tmin,
                self.epochs.tmin + decoder.n_times / self.pre.sfreq,
                list(self.epochs.markers),
                self.epochs.marker_stream or "any marker stream",
            )
        else:
            n_times = round(s.window * self.pre.sfreq)
            hop = max(1, round(s.hop * self.pre.sfreq))
            if n_times != decoder.n_times or n_ch != decoder.n_channels:
                raise DecoderError(
                    f"windows of {n_ch} ch x {n_times} samples ({s.window:g} s at "
                    f"{self.pre.sfreq:g} Hz) do not fit the decoder's {decoder.n_channels} ch x "
                    f"{decoder.n_times} samples; set window.length to "
                    f"{decoder.n_times / self.pre.sfreq:g} s or map channels/resample"
                )
            self.windower = Windower(n_ch, n_times, hop, grid=s.grid_windows)
        n_out = getattr(decoder, "n_outputs", None)
        if n_out is None:
            zeros = np.zeros((decoder.n_channels, decoder.n_times), np.float32)
            n_out = int(np.asarray(decoder(zeros)).size)
        self.classes = list(getattr(decoder, "classes", None) or [str(i) for i in range(n_out)])
        if len(self.classes) != n_out:
            logger.warning(
                "decoder has %d outputs but %d classes: labels are indices",
                n_out,
                len(self.classes),
            )
            self.classes = [str(i) for i in range(n_out)]
        self.post = PostProcessor(s.postprocess, n_out, self.classes)

    @property
    def event_locked(self) -> bool:
        """Whether one epoch per onset marker is decoded (instead of sliding windows)."""
        return self.epocher is not None

    def describe(self) -> str:
        """One line: the preprocessing and how windows are cut."""
        if self.windower is not None:
            cut = f"windows {self.windower.n_times} samples, hop {self.windower.hop}"
        else:
            cut = f"one {self.decoder.n_times}-sample epoch per onset"
        return f"preprocessing: {self.pre.describe()}; {cut}"

    def add_marker(self, stream: str, timestamp: float, value: str) -> bool:
        """Offer a marker; returns True when it is an onset to decode (thread-safe)."""
        if self.epocher is None or self.epochs is None:
            return False
        if not self.epochs.accepts(stream, value):
            return False
        self.epocher.add_onset(timestamp, value.strip())
        return True

    def cut(
        self, data: np.ndarray, timestamps: np.ndarray, t_pull: float, every: bool = False
    ) -> Cut:
        """Clean, filter and cut one chunk.

        Parameters
        ----------
        data : ndarray, shape (n_channels, n_times)
            Raw samples of the decoded stream.
        timestamps : ndarray, shape (n_times,)
            Their timestamps.
        t_pull : float
            When the chunk was in hand (stamped into the windows).
        every : bool
            Return a window for every hop boundary crossed (virtual time); live decoding
            takes only the newest and counts the rest as skipped.
        """
        out = Cut()
        clean, bad = self.guard(data)
        if bad is not None:
            out.nonfinite = int(bad.size)
            out.t_nonfinite = float(timestamps[bad[0]])
            out.t_nonfinite_last = float(timestamps[bad[-1]])
        y = self.pre(clean)
        if self.pre.resampler is not None:
            ts = timestamps[0] + self.pre.resampler.offsets / self.pre.settings.sfreq
            bad_out = None if bad is None or y.shape[1] == 0 else np.array([y.shape[1] - 1])
        else:
            ts, bad_out = timestamps, bad
        if self.windower is None:
            epocher: Epocher = self.epocher  # type: ignore[assignment]  # one of the two exists
            if bad_out is not None:
                epocher.mark_bad(bad_out)
            wins = epocher(y, ts, t_pull)
            is_bad = epocher.epoch_is_bad
        else:
            if bad_out is not None:
                self.windower.mark_bad(bad_out)
            if every:
                wins = self.windower.all_windows(y, ts, t_pull)
            else:
                win = self.windower(y, ts, t_pull)
                wins = [] if win is None else [win]
                out.skipped = 0 if win is None else win.skipped
            is_bad = self.windower.window_is_bad
        for w in wins:
            (out.bad_windows if is_bad(w) else out.windows).append(w)
        return out

    def decode_batch(self, windows: list[Window]) -> np.ndarray:
        """Decoder outputs of several windows, ``(n_windows, n_outputs)`` (one batched run)."""
        if not windows:
            return np.zeros((0, len(self.classes)), np.float32)
        batch = getattr(self.decoder, "decode_batch", None)
        x = np.stack([w.data for w in windows])
        if batch is not None:
            return np.asarray(batch(x))
        return np.stack([np.asarray(self.decoder(xi)).copy() for xi in x])


__all__ = ["Cut", "Pipeline", "epoch_settings"]
