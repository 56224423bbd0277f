"""What the live view attaches to and how it serves the page."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field, fields

from .._errors import ConfigError

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ViewSettings:
    """Streams the view reads (LSL names) and how it serves the page.

    Parameters
    ----------
    signal : str | None
        Signal stream to show; ``None`` takes the first regular-rate stream on the network.
    decisions : str
        Decision outlet of a session (class probabilities + label index).
    stamps : str | None
        Latency stamps outlet; ``None`` means ``<decisions>-stamps``.
    markers, stimuli, truth : str
        Marker, stimulus-description and ground-truth streams.
    budgets_ms : dict
        Latency budget per stage (transport, processing, output, decision).
    bandpass, notch : display filters (Hz).
    line_freq : float
        Mains frequency for the line-noise test.
    required : tuple of str | None
        Channels the decoder needs (marked on the page); ``None``: all.
    cue_lag : float
        Seconds after a cue before decisions are scored against it (one window length).
    host, port, token : where the page is served; a token is needed off loopback.
    session : str
        Session name shown in the page title.
    """

    signal: str | None = None
    decisions: str = "bci-decisions"
    stamps: str | None = None
    markers: str = "bci-markers"
    stimuli: str = "bci-stimuli"
    truth: str = "bci-sim-truth"
    budgets_ms: dict = field(
        default_factory=lambda: {
            "transport": 10.0,
            "processing": 10.0,
            "output": 5.0,
            "decision": 20.0,
        }
    )
    bandpass: tuple[float, float] | None = (1.0, 40.0)
    notch: float | None = 50.0
    line_freq: float = 50.0
    required: tuple[str, ...] | None = None
    cue_lag: float = 1.0
    host: str = LOOPBACK
    port: int = 8080
    token: str | None = None
    session: str = ""

    @property
    def stamps_name(self) -> str:
        """The stamps stream's name."""
        return self.stamps or f"{self.decisions}-stamps"

    def check(self) -> ViewSettings:
        """Refuse a non-loopback address without a token, and bad ports."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: use 0-65535 (0 picks a free port)")
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"--host {self.host} serves signals beyond this machine: it needs a token "
                "(bci view --host ADDRESS --expose creates one)"
            )
        return self

    def to_json(self) -> str:
        """Serialize (for the view's own process)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ViewSettings:
        """Inverse of :meth:`to_json`."""
        raw = json.loads(text)
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in raw.items() if k in names}
        for key in ("bandpass", "required"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)


def settings_from_session(config, **overrides) -> ViewSettings:  # noqa: ANN001 - SessionConfig
    """The view of a session: its signal, decision, stamps and protocol streams, its budgets."""
    src = config.sources[0]
    kind = src.kind
    signal = getattr(src, "name", None) if kind in ("simulated", "lsl") else None
    if kind == "brainflow" and src.name:
        signal = src.name
    markers = getattr(src, "markers", "bci-markers")
    stimuli = getattr(src, "stimuli", "bci-stimuli")
    truth = getattr(src, "truth", "bci-sim-truth")
    b = config.budgets
    pre = config.preprocess
    kw = {
        "signal": signal,
        "decisions": config.outputs.lsl.name,
        "markers": markers,
        "stimuli": stimuli,
        "truth": truth,
        "budgets_ms": {
            "transport": b.transport_ms,
            "processing": b.processing_ms,
            "output": b.output_ms,
            "decision": b.decision_ms,
        },
        "bandpass": tuple(pre.bandpass) if pre.bandpass else (1.0, 40.0),
        "notch": pre.notch,
        "line_freq": pre.notch or 50.0,
        "required": tuple(pre.channels) if pre.channels else None,
        "cue_lag": config.window.length,
        "session": config.name,
    }
    kw.update(overrides)
    return ViewSettings(**kw)


__all__ = ["LOOPBACK", "ViewSettings", "is_loopback", "settings_from_session"]
