"""The decode path: preprocessing, windowing, decoder, post-processing, budgets, outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._base import ConfigModel


class PreprocessConfig(ConfigModel):
    """Stateful causal filters applied to every chunk before windowing."""

    bandpass: tuple[float, float] | None = Field(
        (1.0, 40.0), description="Band-pass edges in Hz (Butterworth, order 4), or null."
    )
    notch: float | None = Field(
        50.0, gt=0, description="Line frequency to notch out in Hz, or null."
    )
    reref: Literal["average"] | list[str] | None = Field(
        None, description="'average', a list of reference channels, or null."
    )
    resample: float | None = Field(None, gt=0, description="Target rate in Hz, or null.")
    channels: list[str] | None = Field(
        None, description="Channels to keep, in the decoder's order; null keeps all."
    )

    @model_validator(mode="after")
    def _check_band(self) -> PreprocessConfig:
        if self.bandpass is not None and not 0 < self.bandpass[0] < self.bandpass[1]:
            raise ValueError("bandpass must be [low, high] with 0 < low < high")
        return self


class WindowConfig(ConfigModel):
    """Sliding windows over the preprocessed signal."""

    length: float = Field(1.0, gt=0, description="Window length in seconds.")
    hop: float = Field(0.1, gt=0, description="Seconds between decisions.")
    mode: Literal["auto", "sliding", "event"] = Field(
        "auto",
        description="auto: one epoch per onset marker when the decoder was calibrated on onset "
        "epochs (its metadata says so), sliding windows otherwise; sliding: always windows; "
        "event: require an event-locked decoder.",
    )
    markers: str | None = Field(
        None,
        description="Marker stream whose onsets start event-locked epochs; null takes the "
        "decoder's (or any marker stream when it names none).",
    )


class DecoderConfig(ConfigModel):
    """The ONNX decoder."""

    path: str = Field(
        "default",
        description="'default' (shipped model), an .onnx file, or a calibration output directory.",
    )
    provider: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="'auto' takes CUDA when onnxruntime offers it, else CPU."
    )
    threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads.")
    warmup: int = Field(10, ge=0, description="Warm-up runs before the session starts.")


class PostprocessConfig(ConfigModel):
    """From decoder outputs to emitted labels."""

    smoothing: int = Field(1, ge=1, description="Average the last N outputs.")
    threshold: float = Field(0.0, ge=0, le=1, description="Minimum probability to emit a label.")
    dwell: int = Field(1, ge=1, description="Emit a label after N consecutive agreeing windows.")


class BudgetConfig(ConfigModel):
    """Latency budgets in milliseconds (docs/design.md#latency). An overrun is counted."""

    transport_ms: float = Field(10.0, gt=0, description="t_pull - t_sample.")
    processing_ms: float = Field(10.0, gt=0, description="t_decoded - t_pull.")
    output_ms: float = Field(5.0, gt=0, description="t_published - t_decoded.")
    decision_ms: float = Field(20.0, gt=0, description="t_published - t_sample.")


class LSLOutputConfig(ConfigModel):
    """Decisions and latency stamps as LSL outlets."""

    enabled: bool = Field(True, description="Publish decisions and stamps on LSL.")
    name: str = Field("bci-decisions", description="Name of the decision outlet.")


class MQTTOutputConfig(ConfigModel):
    """Decisions, events, metrics and status on MQTT."""

    enabled: bool = Field(True, description="Publish on MQTT.")
    broker: Literal["embedded", "external"] = Field(
        "embedded", description="'embedded' starts an amqtt broker on loopback."
    )
    host: str = Field("127.0.0.1", description="Broker host (external broker).")
    port: int = Field(
        1883, ge=0, le=65535, description="Broker port; 0 picks a free one (embedded)."
    )
    topic_prefix: str = Field("bci", description="Topics are <prefix>/<session>/<kind>.")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of decision messages.")
    username: str | None = Field(None, description="Username, or null.")
    password: str | None = Field(None, description="Password, or null.")
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: str | None = Field(None, description="CA certificate for TLS, or null.")
    publish_raw: bool = Field(False, description="Also publish raw samples (off: privacy).")


class OutputsConfig(ConfigModel):
    """Where decisions go."""

    lsl: LSLOutputConfig = Field(default_factory=LSLOutputConfig)
    mqtt: MQTTOutputConfig = Field(default_factory=MQTTOutputConfig)


class RecordingConfig(ConfigModel):
    """Session recording to XDF."""

    enabled: bool = Field(True, description="Record every stream the session touches.")
    directory: str = Field("recordings", description="Folder for session XDF files.")
