"""The decode path: preprocessing, windowing, decoder, post-processing, budgets, outputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from .._errors import ConfigError
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
    password: SecretStr | None = Field(
        None,
        description="Password, or null. Prefer password_env or password_file: a password in "
        "the YAML file is never logged or recorded, but it sits in the file.",
    )
    password_env: str | None = Field(
        None, description="Name of an environment variable holding the password, or null."
    )
    password_file: str | None = Field(
        None,
        description="File whose first line is the password (keep it chmod 600), or null.",
    )
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: str | None = Field(
        None, description="CA certificate (PEM) for TLS, or null for the system's CAs."
    )
    cert_file: str | None = Field(
        None, description="Client certificate (PEM) for brokers that require one, or null."
    )
    key_file: str | None = Field(None, description="Private key (PEM) of cert_file, or null.")
    key_password_env: str | None = Field(
        None, description="Environment variable holding key_file's passphrase, or null."
    )
    key_password_file: str | None = Field(
        None, description="File whose first line is key_file's passphrase, or null."
    )
    on_auth_error: Literal["stop", "continue"] = Field(
        "stop",
        description="A rejected login or a failed TLS check: 'stop' ends the session with an "
        "error; 'continue' runs on with MQTT marked off (decisions still go to LSL and XDF).",
    )
    publish_raw: bool = Field(False, description="Also publish raw samples (off: privacy).")

    @model_validator(mode="after")
    def _one_secret_source(self) -> MQTTOutputConfig:
        for prefix, keys in (
            ("password", (self.password, self.password_env, self.password_file)),
            ("key_password", (self.key_password_env, self.key_password_file)),
        ):
            if sum(k is not None for k in keys) > 1:
                raise ValueError(f"give only one of {prefix}, {prefix}_env, {prefix}_file")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if (self.ca_file or self.cert_file) and not self.tls:
            raise ValueError("ca_file/cert_file are TLS settings: set tls: true")
        return self

    def resolve_password(self) -> str | None:
        """The broker password from ``password``, ``password_env`` or ``password_file``.

        Raises
        ------
        ConfigError
            The variable is not set or the file cannot be read (the message names the key,
            never the secret).
        """
        return _secret(
            "outputs.mqtt.password",
            self.password.get_secret_value() if self.password is not None else None,
            self.password_env,
            self.password_file,
        )

    def resolve_key_password(self) -> str | None:
        """The passphrase of ``key_file`` (from its ``_env`` or ``_file`` key), or ``None``."""
        return _secret(
            "outputs.mqtt.key_password", None, self.key_password_env, self.key_password_file
        )


def _secret(key: str, value: str | None, env: str | None, file: str | None) -> str | None:
    if env is not None:
        if env not in os.environ:
            raise ConfigError(
                f"{key}_env: the environment variable {env!r} is not set",
                [(f"{key}_env", env, "an environment variable that is set")],
            )
        return os.environ[env]
    if file is not None:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"{key}_file: cannot read {file!r} ({exc.strerror})",
                [(f"{key}_file", file, "a readable file")],
            ) from None
        if not lines or not lines[0]:
            raise ConfigError(
                f"{key}_file: {file!r} is empty", [(f"{key}_file", file, "a non-empty file")]
            )
        return lines[0]
    return value


class OutputsConfig(ConfigModel):
    """Where decisions go."""

    lsl: LSLOutputConfig = Field(default_factory=LSLOutputConfig)
    mqtt: MQTTOutputConfig = Field(default_factory=MQTTOutputConfig)


class RecordingConfig(ConfigModel):
    """Session recording to XDF."""

    enabled: bool = Field(True, description="Record every stream the session touches.")
    directory: str = Field("recordings", description="Folder for session XDF files.")
    streams: list[str] = Field(
        default_factory=list,
        description="Other LSL streams to record: names or LSL predicates (e.g. "
        "\"source_id='lab-presenter'\"). The session's own streams are always recorded; a "
        "marker, stimulus or ground-truth stream it did not start is recorded only when "
        "listed here.",
    )


class ScoringConfig(ConfigModel):
    """Online accuracy: which stream says what was cued, and how its values name classes."""

    cues: list[str] | None = Field(
        None,
        description="Streams whose values are the cued class; null: the ground-truth stream "
        "(bci-sim-truth) when there is one, else every marker stream.",
    )
    mapping: dict[str, str] | str | None = Field(
        None,
        description="Cue value -> decoder class, or a calibration config (calibrate_*.yaml) "
        "whose mapping to use; null matches values to class names (ssvep_8.0 -> 8.0).",
    )


class QualityConfig(ConfigModel):
    """Signal-quality check of the decoded stream before the session starts (``bci check``)."""

    on_bad: Literal["warn", "refuse", "off"] = Field(
        "warn",
        description="What a bad required channel does: 'warn' logs it, 'refuse' stops the "
        "session before it starts, 'off' skips the check (a replay source is never checked).",
    )
    duration: float = Field(2.0, gt=0, le=60, description="Seconds of signal the check reads.")
    channels: list[str] | None = Field(
        None,
        description="Channels that must be good; null: the decoder's channels (or all).",
    )
    flat_uv: float = Field(0.5, gt=0, description="A channel with a lower std (uV) is flat.")
    rail_uv: float = Field(
        187500.0, gt=0, description="Amplifier rail in uV; samples at or beyond it are railed."
    )
    line_ratio: float = Field(
        0.5, gt=0, le=1, description="Share of power at the line frequency that is too much."
    )
    high_variance_uv: float = Field(
        100.0, gt=0, description="1-40 Hz std (uV) above which a channel is too noisy."
    )
    impedance_kohm: float = Field(
        750.0, gt=0, description="Electrode impedance (kOhm) above which it is disconnected."
    )
