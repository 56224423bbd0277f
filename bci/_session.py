"""The wiring layer: a :class:`~bci.config.SessionConfig` becomes a running session.

It starts the configured sources through the source registry (:mod:`bci._sources`:
simulated participant, BrainFlow board, LSL stream, replay), loads the decoder, opens the recording and the MQTT client (with the embedded
broker by default), runs the :class:`~bci._runtime.Engine` until the duration passes or
Ctrl-C, and closes everything in order: inlets before outlets, the recording last, so the
file is complete and loadable. Concrete components are imported lazily here, never in the
runtime core.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _sources
from ._errors import ConfigError, DecoderError
from .config import SessionConfig

logger = logging.getLogger(__name__)

#: Streams of the stimulus protocol, recorded when the session started them (see
#: ``bci._ownership``) or when ``recording.streams`` names them.
PROTOCOL_STREAMS = _sources.PROTOCOL_STREAMS


@dataclass
class SessionResult:
    """What a finished session reports.

    Parameters
    ----------
    recording : Path | None
        The XDF file written (``None`` when recording was off).
    summary : dict
        The engine's final snapshot (latency percentiles, counters, rates).
    mqtt : dict
        MQTT counts (``sent``, ``unsent``, ``reconnects``...), empty when MQTT was off.
    mqtt_port : int | None
        The broker port used (the embedded broker's may be chosen at start).
    """

    recording: Path | None
    summary: dict
    mqtt: dict = field(default_factory=dict)
    mqtt_port: int | None = None


def _engine_settings(config: SessionConfig, decoder: Any):
    from ._runtime import Budgets, EngineSettings, PostprocessSettings

    pre = config.preprocess
    bandpass = tuple(pre.bandpass) if pre.bandpass is not None else None
    notch = pre.notch
    trained = getattr(decoder, "preprocess", {}) or {}
    if trained:
        t_bp = tuple(trained["bandpass"]) if trained.get("bandpass") else None
        t_notch = trained.get("notch")
        if (t_bp, t_notch) != (bandpass, notch):
            logger.warning(
                "decoder was trained with bandpass=%s notch=%s; applying those instead of the "
                "config's bandpass=%s notch=%s",
                t_bp,
                t_notch,
                bandpass,
                notch,
            )
        bandpass, notch = t_bp, t_notch
    logger.info("preprocessing applied: bandpass=%s notch=%s", bandpass, notch)
    reref = pre.reref if isinstance(pre.reref, str) or pre.reref is None else tuple(pre.reref)
    b = config.budgets
    return EngineSettings(
        session=config.name,
        window=config.window.length,
        hop=config.window.hop,
        mode=config.window.mode,
        marker_stream=config.window.markers,
        cue_streams=tuple(config.scoring.cues) if config.scoring.cues is not None else None,
        cue_mapping=_cue_mapping(config.scoring.mapping),
        bandpass=bandpass,
        notch=notch,
        reref=reref,
        resample=pre.resample,
        channels=tuple(pre.channels) if pre.channels else None,
        postprocess=PostprocessSettings(
            config.postprocess.smoothing, config.postprocess.threshold, config.postprocess.dwell
        ),
        budgets=Budgets(b.transport_ms, b.processing_ms, b.output_ms, b.decision_ms),
        lsl_outputs=config.outputs.lsl.enabled,
        lsl_name=config.outputs.lsl.name,
        warmup=config.decoder.warmup,
        realtime_priority=config.realtime_priority,
        publish_raw=config.outputs.mqtt.enabled and config.outputs.mqtt.publish_raw,
    )


def _cue_mapping(mapping: dict | str | None) -> dict | None:
    """``scoring.mapping``: a dict, or a calibration config whose ``mapping`` to use."""
    if mapping is None or isinstance(mapping, dict):
        return mapping
    from .config import load_config
    from .config._calibration import CalibrationConfig

    return dict(load_config(mapping, CalibrationConfig).mapping)


def _check_mqtt(mqtt: Any, on_auth_error: str) -> None:
    """Stop the session (``on_auth_error: stop``) when the broker refused us for good."""
    failure = mqtt.failure
    if mqtt.off and failure is not None:
        s = mqtt.settings
        if on_auth_error == "stop":
            raise ConfigError(
                f"{failure.message(s.host, s.port)}. The session stops "
                "(outputs.mqtt.on_auth_error: stop; 'continue' runs on without MQTT)."
            )
        logger.warning(
            "MQTT is off for this session (%s); decisions still go to LSL and the recording "
            "(outputs.mqtt.on_auth_error: continue)",
            failure.kind,
        )


async def _stop_when(event: asyncio.Event, stop: asyncio.Event) -> None:
    await event.wait()
    stop.set()


def run_session(
    config: SessionConfig,
    duration: float | None = None,
    decoder: str | Path | None = None,
    on_metrics: Callable[[dict], None] | None = None,
    handle_signals: bool = True,
) -> SessionResult | Path:
    """Run a session from its config until ``duration`` passes or Ctrl-C.

    Parameters
    ----------
    config : SessionConfig
        The validated session config.
    duration : float | None
        Seconds to run (overrides ``config.duration``); ``None`` runs until Ctrl-C.
    decoder : str | Path | None
        ``.onnx`` file or calibration directory (overrides ``config.decoder.path``).
    on_metrics : callable | None
        Receives the engine snapshot about once a second (the live status).
    handle_signals : bool
        Turn SIGINT/SIGTERM into a clean stop (main thread only).

    Returns
    -------
    SessionResult | Path
        The result; a closed-loop session returns ``bci.stimuli.run_closed_loop``'s report dir.

    Raises
    ------
    DecoderError
        When the decoder file is missing or does not fit the stream (before the session starts).
    """
    duration = duration if duration is not None else config.duration
    if config.closed_loop is not None:
        from bci import stimuli

        return stimuli.run_closed_loop(config, duration)
    return asyncio.run(_run(config, duration, decoder, on_metrics, handle_signals))


async def _run(
    config: SessionConfig,
    duration: float | None,
    decoder_path: str | Path | None,
    on_metrics: Callable[[dict], None] | None,
    handle_signals: bool,
) -> SessionResult:
    from ._decoder import DecoderONNX
    from ._ownership import new_session_id
    from ._runtime import Engine
    from ._runtime._realtime import connect_source

    dcfg = config.decoder
    decoder = DecoderONNX(decoder_path or dcfg.path, provider=dcfg.provider, threads=dcfg.threads)
    session_id = new_session_id(config.name)
    logger.info("session id %s (tags the source_id of every stream it starts)", session_id)
    sources = _sources.SessionSources(session_id)
    engine = recorder = mqtt = broker = presenter = None
    summary: dict | None = None
    started = False
    rec_path: Path | None = None
    mqtt_port: int | None = None
    try:
        source, aux = await asyncio.to_thread(sources.start, list(config.sources))
        # warn or refuse on bad required channels (not for a replay: it would skip its start)
        if config.quality.on_bad != "off" and config.sources[0].kind != "replay":
            from bci.devices import SourceLSL

            from ._quality import startup_check

            probe = SourceLSL(source.name, source.stype, source.source_id, timeout=10.0)
            need = config.preprocess.channels or decoder.ch_names
            await asyncio.to_thread(
                startup_check, probe, config.quality, need, config.preprocess.notch or 50.0
            )
        protocol, expected = sources.protocol_names, dict(sources.protocol_ids)
        if config.paradigm is not None:  # on screen, with the decoded result as feedback
            from bci.stimuli._paradigm_show import session_presenter

            presenter, pcfg = session_presenter(config, session_id)
            await asyncio.to_thread(presenter.start)
            protocol = tuple(dict.fromkeys((*protocol, *presenter.source_ids)))
            expected |= presenter.source_ids
        settings = _engine_settings(config, decoder)
        # liblsl's receiving threads inherit real-time scheduling from the connecting thread
        await asyncio.to_thread(connect_source, source, settings.realtime_priority)
        for a in aux:
            await asyncio.to_thread(a.connect)
        aux += await asyncio.to_thread(
            _sources.protocol_sources,
            protocol,
            {source.spec.source_id, *(a.spec.source_id for a in aux)},
            session_id,
            list(config.recording.streams) if config.recording.enabled else [],
            expected,
        )
        if config.recording.enabled:
            from ._recorder import RecorderXDF

            stamp = time.strftime("%Y%m%d-%H%M%S")
            rec_path = Path(config.recording.directory) / f"{config.name}_{stamp}.xdf"
            recorder = RecorderXDF(rec_path)
        m = config.outputs.mqtt
        if m.enabled:
            from ._mqtt import ClientMQTT, EmbeddedBroker, MQTTSettings, is_listening

            mqtt_port = m.port
            if m.broker == "embedded" and m.port and is_listening("127.0.0.1", m.port):
                # Debian's mosquitto package (tools/install.sh) starts a service on 1883.
                logger.warning(
                    "a broker already listens on 127.0.0.1:%d; publishing to it instead of "
                    "starting the embedded one",
                    m.port,
                )
            elif m.broker == "embedded":
                broker = await asyncio.to_thread(EmbeddedBroker("127.0.0.1", m.port).start)
                mqtt_port = broker.port
            mqtt = ClientMQTT(
                MQTTSettings(
                    host="127.0.0.1" if m.broker == "embedded" else m.host,
                    port=mqtt_port,
                    session=config.name,
                    topic_prefix=m.topic_prefix,
                    qos=m.qos,
                    username=m.username,
                    password=m.resolve_password(),
                    tls=m.tls,
                    ca_file=m.ca_file,
                    cert_file=m.cert_file,
                    key_file=m.key_file,
                    key_password=m.resolve_key_password(),
                )
            )
            await mqtt.start()
            await mqtt.wait_connected(3.0)  # an unreachable broker is reported by the client
            _check_mqtt(mqtt, m.on_auth_error)
        engine = Engine(
            source,
            decoder,
            settings,
            aux,
            recorder=recorder,
            publisher=mqtt,
            on_metrics=on_metrics,
            outlet_factory=_sources.outlet_factory,
        )
        await asyncio.to_thread(engine.prepare)
        await asyncio.to_thread(sources.begin)  # replays start once the engine is connected
        if mqtt is not None:
            mqtt.publish(
                "status",
                {
                    "session": config.name,
                    "state": "running",
                    "model_id": engine.model_id,
                    "provider": decoder.provider,
                    "classes": engine.classes,
                },
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        logger.info(
            "session %r running%s; Ctrl-C stops it",
            config.name,
            f" for {duration:g} s" if duration else "",
        )
        ends: list[asyncio.Task] = []  # what stops the session by itself
        if presenter is not None:
            presenter.go()

            async def end_of_paradigm() -> None:
                await asyncio.to_thread(presenter.wait)
                await asyncio.sleep(1.0)  # the last decisions and feedback through
                logger.info("paradigm finished: %d trials", presenter.summary["trials"])
                stop.set()

            ends.append(asyncio.create_task(end_of_paradigm()))
        if sources.finite:

            async def end_of_data() -> None:
                await asyncio.to_thread(sources.wait_end)
                await asyncio.sleep(0.5)  # the last samples through the inlets
                logger.info("replay finished: end of the recording")
                stop.set()

            ends.append(asyncio.create_task(end_of_data()))
        watch = (
            asyncio.create_task(_stop_when(mqtt.failed, stop))
            if mqtt is not None and m.on_auth_error == "stop"
            else None
        )
        started = True
        try:
            await engine.run(duration=duration, stop=stop)
        finally:
            for task in (*ends, watch):
                if task is not None:
                    task.cancel()
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
        if mqtt is not None:
            _check_mqtt(mqtt, m.on_auth_error)
        summary = engine.snapshot()
        if presenter is not None and presenter.summary is not None:
            from bci.stimuli._paradigm import selection_summary

            summary["paradigm"] = selection_summary(presenter.summary, pcfg.labels)
            if mqtt is not None:
                mqtt.publish("paradigm", {"session": config.name, **summary["paradigm"]})
    finally:
        if engine is not None:
            engine.close()
        if mqtt is not None:
            await mqtt.stop()
            if summary is not None:  # one set of MQTT numbers: the final ones, after the flush
                summary["mqtt"] = mqtt.counts()
                summary["counters"]["mqtt_sent"] = mqtt.sent
                summary["counters"]["mqtt_unsent"] = mqtt.unsent
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if recorder is not None:
            await asyncio.to_thread(recorder.close)
            if not started:  # failed before the first sample: leave no empty file behind
                rec_path.unlink(missing_ok=True)
                logger.info("the session did not start; no recording kept")
                rec_path = None
        sources.stop()  # the participant stops listening before the presenter's outlets go
        if presenter is not None:
            await asyncio.to_thread(presenter.stop)
    return SessionResult(rec_path, summary, mqtt.counts() if mqtt is not None else {}, mqtt_port)


__all__ = ["DecoderError", "SessionResult", "run_session"]
