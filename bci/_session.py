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
from ._errors import DecoderError
from .config import SessionConfig

logger = logging.getLogger(__name__)

#: Streams of the stimulus protocol recorded whenever they are on the network.
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
        publish_raw=config.outputs.mqtt.enabled and config.outputs.mqtt.publish_raw,
    )


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
    from ._runtime import Engine

    dcfg = config.decoder
    decoder = DecoderONNX(decoder_path or dcfg.path, provider=dcfg.provider, threads=dcfg.threads)
    sources = _sources.SessionSources()
    engine = recorder = mqtt = broker = presenter = None
    rec_path: Path | None = None
    mqtt_port: int | None = None
    try:
        source, aux = await asyncio.to_thread(sources.start, list(config.sources), config.name)
        protocol = sources.protocol_names
        if config.paradigm is not None:  # on screen, with the decoded result as feedback
            from bci.stimuli._paradigm_show import session_presenter

            presenter, pcfg = session_presenter(config)
            await asyncio.to_thread(presenter.start)
            w = pcfg.window
            extra = (w.marker_stream, w.description_stream, pcfg.frame_stream)
            protocol = tuple(dict.fromkeys((*protocol, *extra)))
        await asyncio.to_thread(source.connect)
        for a in aux:
            await asyncio.to_thread(a.connect)
        aux += await asyncio.to_thread(
            _sources.protocol_sources,
            protocol,
            {source.spec.name, *(a.spec.name for a in aux)},
        )
        settings = _engine_settings(config, decoder)
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
                    password=m.password,
                    tls=m.tls,
                    ca_file=m.ca_file,
                )
            )
            await mqtt.start()
            if not await mqtt.wait_connected(3.0):
                logger.warning(
                    "MQTT broker %s:%s not reachable yet; decisions are queued and counted",
                    m.host,
                    mqtt_port,
                )
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
        await asyncio.to_thread(sources.start_replays)
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
        ends = None
        if presenter is not None:
            presenter.go()

            async def end_of_paradigm() -> None:
                await asyncio.to_thread(presenter.wait)
                await asyncio.sleep(1.0)  # the last decisions and feedback through
                logger.info("paradigm finished: %d trials", presenter.summary["trials"])
                stop.set()

            ends = asyncio.create_task(end_of_paradigm())
        if sources.replays and not any(p.loop for p in sources.replays):

            async def end_of_files() -> None:
                await asyncio.to_thread(sources.wait_replays)
                await asyncio.sleep(0.5)  # the last samples through the inlets
                logger.info("replay finished: end of the recording")
                stop.set()

            ends = asyncio.create_task(end_of_files())
        try:
            await engine.run(duration=duration, stop=stop)
        finally:
            if ends is not None:
                ends.cancel()
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
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
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if recorder is not None:
            await asyncio.to_thread(recorder.close)
        if presenter is not None:
            await asyncio.to_thread(presenter.stop)
        sources.stop()
    return SessionResult(rec_path, summary, mqtt.counts() if mqtt is not None else {}, mqtt_port)


__all__ = ["DecoderError", "SessionResult", "run_session"]
