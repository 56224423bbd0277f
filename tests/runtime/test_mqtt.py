"""MQTT through a real mosquitto: payloads, retained status, broker death and recovery."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiomqtt
import pytest
from pydantic import ValidationError

from bci import BCIError, ConfigError
from bci._decoder import DecoderONNX
from bci._mqtt import ClientMQTT, EmbeddedBroker, MQTTSettings
from bci._runtime import Engine, EngineSettings
from bci.config import SessionConfig
from bci.config._runtime import MQTTOutputConfig
from bci.devices import OutletLSL, SourceLSL

from .conftest import EEGPusher, Mosquitto, SecureBroker


async def _collect(port: int, topic: str, into: list, ready: asyncio.Event, **kw) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"sub-{id(into)}", **kw) as sub:
        await sub.subscribe(topic, qos=1)
        ready.set()
        async for msg in sub.messages:
            into.append((str(msg.topic), json.loads(msg.payload), bool(msg.retain)))


async def _wait_for(cond, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_client_publishes_versioned_json_and_retained_status(
    mosquitto: Mosquitto, uid: str
) -> None:
    got: list = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(mosquitto.port, f"bci/s{uid}/#", got, ready))
    await asyncio.wait_for(ready.wait(), 5)
    client = await ClientMQTT(MQTTSettings(port=mosquitto.port, session=f"s{uid}")).start()
    assert await client.wait_connected(5)
    for i in range(20):
        assert client.publish(
            "decision", {"seq": i, "label": "ssvep_10.0", "values": [0.1, float("nan")]}
        )
    client.publish("metrics", {"decisions_per_s": 10.0})
    await _wait_for(lambda: sum(t.endswith("/decision") for t, _, _ in got) == 20)
    await client.stop()
    await _wait_for(
        lambda: any(p.get("state") == "offline" for t, p, _ in got if t.endswith("/status"))
    )
    sub.cancel()
    decisions = [p for t, p, _ in got if t.endswith("/decision")]
    assert [p["seq"] for p in decisions] == list(range(20))  # QoS 1, in order
    assert all(p["v"] == 1 and p["values"][1] is None for p in decisions)  # NaN -> null
    assert client.sent >= 22 and client.unsent == 0
    # a late subscriber still sees the retained status
    late: list = []
    ready2 = asyncio.Event()
    sub2 = asyncio.create_task(_collect(mosquitto.port, f"bci/s{uid}/status", late, ready2))
    await _wait_for(lambda: late, 5)
    sub2.cancel()
    assert late[0][2] is True and late[0][1]["state"] == "offline"
    with pytest.raises(Exception, match="kind"):
        client.publish("bogus", {})


async def test_dead_broker_never_blocks_and_counts_unsent(uid: str) -> None:
    from .conftest import free_port

    client = await ClientMQTT(MQTTSettings(port=free_port(), session=f"s{uid}", outbox=10)).start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    results = [client.publish("decision", {"seq": i}) for i in range(25)]
    assert loop.time() - t0 < 0.05  # publishing is an append, whatever the broker does
    assert results.count(False) == 15 and client.unsent == 15
    await asyncio.sleep(0.3)
    assert not client.connected
    await client.stop(flush_timeout=0.1)
    assert client.unsent == 26  # 15 overflowed + 10 decisions + offline status never sent


async def test_broker_killed_and_restarted_mid_session(
    mosquitto: Mosquitto, uid: str, tiny_onnx: Path
) -> None:
    import pylsl

    session = f"s{uid}"
    with EEGPusher(f"eeg-{uid}"):
        mqtt = await ClientMQTT(
            MQTTSettings(port=mosquitto.port, session=session, backoff_max=0.5)
        ).start()
        assert await mqtt.wait_connected(5)
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}"),
            DecoderONNX(tiny_onnx),
            EngineSettings(session=session, lsl_name=f"dec-{uid}", warmup=2, publish_raw=True),
            publisher=mqtt,
            outlet_factory=OutletLSL,
        )
        await asyncio.to_thread(engine.prepare)
        inlet = pylsl.StreamInlet(
            pylsl.resolve_byprop("name", f"dec-{uid}", 1, 5.0)[0], max_buflen=30
        )
        inlet.open_stream(timeout=5)
        run = asyncio.create_task(engine.run(duration=30.0))

        await _wait_for(lambda: engine.counters.decisions >= 10, 10)
        sent_before = mqtt.sent
        await asyncio.to_thread(mosquitto.stop)  # kill -9 the broker
        await _wait_for(lambda: not mqtt.connected, 5)
        d_dead = engine.counters.decisions
        await asyncio.sleep(1.0)  # decisions keep flowing while the broker is dead
        assert engine.counters.decisions >= d_dead + 5
        await asyncio.to_thread(mosquitto.start)
        got: list = []
        ready = asyncio.Event()
        sub = asyncio.create_task(_collect(mosquitto.port, f"bci/{session}/#", got, ready))
        await asyncio.wait_for(ready.wait(), 5)
        await _wait_for(lambda: mqtt.connected and mqtt.reconnects >= 1, 10)
        # MQTT resumed: what the outbox held while the broker was dead goes out first, then
        # decisions made after it died (a loaded host may need seconds to get there)
        await _wait_for(
            lambda: any(t.endswith("/decision") and p["seq"] > d_dead for t, p, _ in got), 15
        )
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        sub.cancel()
        values, _ = inlet.pull_chunk(timeout=0.5, max_samples=10_000)
        inlet.close_stream()
        engine.close()
        await mqtt.stop()
    assert mqtt.reconnects >= 1 and mqtt.sent > sent_before
    snap = engine.snapshot()
    assert (
        snap["counters"]["mqtt_sent"] == mqtt.sent
        and snap["counters"]["mqtt_unsent"] == mqtt.unsent
    )
    assert len(values) >= engine.counters.decisions - 2  # LSL got every decision, broker or not
    # decisions made after the broker died reached MQTT once it was back
    assert max(p["seq"] for t, p, _ in got if t.endswith("/decision")) > d_dead
    raw = [p for t, p, _ in got if t.endswith("/raw")]  # publish_raw=True: raw chunks too
    assert (
        raw and len(raw[-1]["data"]) == 16 and len(raw[-1]["data"][0]) == len(raw[-1]["timestamps"])
    )


def test_embedded_broker_round_trip(uid: str) -> None:
    broker = EmbeddedBroker(port=0).start()

    async def main() -> list:
        got: list = []
        ready = asyncio.Event()
        sub = asyncio.create_task(_collect(broker.port, f"bci/e{uid}/#", got, ready))
        await asyncio.wait_for(ready.wait(), 5)
        client = await ClientMQTT(MQTTSettings(port=broker.port, session=f"e{uid}")).start()
        assert await client.wait_connected(5)
        client.publish("decision", {"seq": 1})
        await _wait_for(lambda: any(t.endswith("decision") for t, _, _ in got), 5)
        await client.stop()
        sub.cancel()
        return got

    try:
        got = asyncio.run(main())
    finally:
        broker.stop()
    assert any(p == {"v": 1, "seq": 1} for t, p, _ in got if t.endswith("decision"))


def test_embedded_default_defers_to_a_broker_already_listening(mosquitto) -> None:
    """Debian's mosquitto service holds 1883: the default session must publish to it, not die."""
    from bci._mqtt import EmbeddedBroker, is_listening

    from .conftest import free_port

    assert is_listening("127.0.0.1", mosquitto.port)
    assert not is_listening("127.0.0.1", free_port())
    with pytest.raises(BCIError, match="cannot listen"):
        EmbeddedBroker("127.0.0.1", mosquitto.port).start()


def test_embedded_broker_runs_in_its_own_process_and_dies_with_its_session(tmp_path: Path) -> None:
    """The broker is a child process (no GIL shared with the hot path) that never outlives
    the session's process, even one killed without a chance to stop it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from bci._mqtt import is_listening

    script = tmp_path / "session.py"
    script.write_text(
        "import os, sys, time\n"
        "from bci._mqtt import EmbeddedBroker\n"
        "b = EmbeddedBroker(port=0).start()\n"
        "print(b.port, b._child.proc.pid, os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    port, broker_pid, session_pid = map(int, proc.stdout.readline().split())
    assert broker_pid != session_pid
    assert is_listening("127.0.0.1", port)
    os.kill(session_pid, signal.SIGKILL)  # no stop(), no atexit
    proc.wait(10)
    deadline = time.monotonic() + 15
    while is_listening("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_listening("127.0.0.1", port)


# --------------------------------------------------------------------- auth, TLS, status
def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_password_broker_right_credentials_deliver(
    secure_mosquitto: SecureBroker, uid: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = secure_mosquitto
    pw_file = tmp_path / "mqtt-password"
    pw_file.write_text(b.password + "\n")
    monkeypatch.setenv(f"BCI_TEST_PW_{uid.replace('-', '_')}", b.password)
    got: list = []
    ready = asyncio.Event()
    sub = asyncio.create_task(
        _collect(
            b.password_port, f"bci/p{uid}/#", got, ready, username=b.username, password=b.password
        )
    )
    await asyncio.wait_for(ready.wait(), 5)
    for i, secret in enumerate(
        ({"password_file": str(pw_file)}, {"password_env": f"BCI_TEST_PW_{uid.replace('-', '_')}"})
    ):
        m = MQTTOutputConfig(broker="external", username=b.username, **secret)
        client = await ClientMQTT(
            MQTTSettings(
                port=b.password_port,
                session=f"p{uid}",
                username=m.username,
                password=m.resolve_password(),
            )
        ).start()
        assert await client.wait_connected(5), client.failure
        client.publish("decision", {"seq": i})
        await _wait_for(lambda i=i: any(p.get("seq") == i for _, p, _ in got), 5)
        await client.stop()
        assert client.state == "closed" and client.failure is None
    sub.cancel()


async def test_wrong_password_is_one_clear_error_and_no_retry(
    secure_mosquitto: SecureBroker, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    b = secure_mosquitto
    client = await ClientMQTT(
        MQTTSettings(
            port=b.password_port,
            session=f"w{uid}",
            username=b.username,
            password="wrong-secret",
            backoff_min=0.05,
        )
    ).start()
    assert not await client.wait_connected(5)
    assert client.failed.is_set() and client.state == "off"
    assert client.failure.kind == "not_authorized"
    await asyncio.sleep(0.5)  # no retry loop behind our back
    assert client._task.done()
    assert client.publish("decision", {"seq": 1}) is False  # counted, not queued forever
    assert client.pending == 0 and client.unsent == 1
    await client.stop()
    errors = _errors(caplog)
    assert len(errors) == 1, errors
    assert "refused the login" in errors[0] and "outputs.mqtt.username" in errors[0]
    assert "wrong-secret" not in caplog.text  # never logged, not even at DEBUG
    assert "wrong-secret" not in repr(client.settings)


async def test_tls_right_ca_delivers_wrong_ca_is_one_clear_error(
    secure_mosquitto: SecureBroker, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    import ssl

    b = secure_mosquitto
    got: list = []
    ready = asyncio.Event()
    tls = ssl.create_default_context(cafile=str(b.ca_file))
    sub = asyncio.create_task(_collect(b.tls_port, f"bci/t{uid}/#", got, ready, tls_context=tls))
    await asyncio.wait_for(ready.wait(), 5)
    good = await ClientMQTT(
        MQTTSettings(port=b.tls_port, session=f"t{uid}", tls=True, ca_file=str(b.ca_file))
    ).start()
    assert await good.wait_connected(5), good.failure
    good.publish("decision", {"seq": 1})
    await _wait_for(lambda: any(p.get("seq") == 1 for _, p, _ in got), 5)
    await good.stop()
    sub.cancel()
    caplog.clear()
    bad = await ClientMQTT(
        MQTTSettings(port=b.tls_port, session=f"t{uid}", tls=True, ca_file=str(b.other_ca_file))
    ).start()
    assert not await bad.wait_connected(5)
    assert bad.failure.kind == "tls" and bad.state == "off"
    await bad.stop()
    errors = _errors(caplog)
    assert len(errors) == 1, errors
    assert "certificate verify failed" in errors[0] and "outputs.mqtt.ca_file" in errors[0]
    missing = await ClientMQTT(
        MQTTSettings(port=b.tls_port, session=f"t{uid}", tls=True, ca_file="/nonexistent/ca.pem")
    ).start()
    assert not await missing.wait_connected(5)
    assert missing.failure.kind == "tls" and missing.state == "off"
    await missing.stop()


def test_unreachable_broker_is_reported_once_and_retried(
    uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    from .conftest import free_port

    async def main() -> ClientMQTT:
        client = await ClientMQTT(
            MQTTSettings(port=free_port(), session=f"u{uid}", backoff_min=0.02, backoff_max=0.05)
        ).start()
        await asyncio.sleep(1.0)
        assert client.connections == 0 and client.state == "connecting"
        await client.stop(flush_timeout=0.1)
        return client

    client = asyncio.run(main())
    warnings = _errors(caplog)
    assert len(warnings) == 1 and "is not reachable" in warnings[0], warnings
    assert client.failure.kind == "unreachable"


def test_secrets_are_never_in_the_config_dump(tmp_path: Path) -> None:
    cfg = SessionConfig.model_validate(
        {"outputs": {"mqtt": {"broker": "external", "password": "hunter2"}}}
    )
    assert "hunter2" not in repr(cfg) and "hunter2" not in cfg.model_dump_json()
    assert cfg.outputs.mqtt.resolve_password() == "hunter2"
    with pytest.raises(ConfigError, match="password_env"):
        MQTTOutputConfig(password_env="BCI_SURELY_NOT_SET_ANYWHERE").resolve_password()
    with pytest.raises(ConfigError, match="password_file"):
        MQTTOutputConfig(password_file=str(tmp_path / "none")).resolve_password()
    with pytest.raises(ValidationError, match="only one of password"):
        MQTTOutputConfig(password="a", password_env="B")


async def test_retained_status_after_reconnect_is_the_sessions_and_the_will_has_no_time(
    mosquitto: Mosquitto, uid: str, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    session = f"r{uid}"
    client = await ClientMQTT(
        MQTTSettings(port=mosquitto.port, session=session, backoff_max=0.2)
    ).start()
    assert await client.wait_connected(5)
    client.publish("status", {"session": session, "state": "running"})
    await _wait_for(lambda: client.pending == 0, 5)
    await asyncio.to_thread(mosquitto.stop)  # persistence false: the retained status is gone
    await _wait_for(lambda: not client.connected, 5)
    await asyncio.to_thread(mosquitto.start)
    await _wait_for(lambda: client.connected, 10)
    got: list = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(mosquitto.port, f"bci/{session}/status", got, ready))
    await _wait_for(lambda: got, 5)
    sub.cancel()
    assert got[0][2] is True and got[0][1]["state"] == "running"  # retained, not "online"
    await client.stop()

    # a killed process: the broker publishes the will, which carries no (stale) time
    script = tmp_path / "victim.py"
    script.write_text(
        "import asyncio, sys, time\n"
        "from bci._mqtt import ClientMQTT, MQTTSettings\n"
        "async def main():\n"
        f"    c = await ClientMQTT(MQTTSettings(port={mosquitto.port}, session='v{uid}')).start()\n"
        "    assert await c.wait_connected(5)\n"
        "    print('up', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        got = []
        ready = asyncio.Event()
        sub = asyncio.create_task(_collect(mosquitto.port, f"bci/v{uid}/status", got, ready))
        await asyncio.wait_for(ready.wait(), 5)
        proc.send_signal(signal.SIGKILL)
        await _wait_for(lambda: any(p["state"] == "offline" for _, p, _ in got), 10)
        sub.cancel()
    finally:
        proc.kill()
        proc.wait(5)
    will = next(p for _, p, _ in got if p["state"] == "offline")
    assert "t" not in will and "wall" not in will and will["reason"] == "connection lost"


def _session_cfg(tmp_path: Path, uid: str, mqtt: dict) -> dict:
    return {
        "name": f"a{uid}",
        "sources": [{"kind": "lsl", "name": f"eeg-{uid}"}],
        "decoder": {"warmup": 2},
        "outputs": {"lsl": {"name": f"dec-{uid}"}, "mqtt": {"broker": "external", **mqtt}},
        "recording": {"directory": str(tmp_path / "rec")},
    }


def test_session_with_a_wrong_password_stops_with_exit_2_and_no_recording(
    secure_mosquitto: SecureBroker, uid: str, tmp_path: Path, tiny_onnx: Path
) -> None:
    import subprocess
    import sys

    import yaml

    b = secure_mosquitto
    cfg = _session_cfg(
        tmp_path,
        uid,
        {"port": b.password_port, "username": b.username, "password": "not-the-password"},
    )
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with EEGPusher(f"eeg-{uid}"):
        proc = subprocess.run(
            [sys.executable, "-c", "from bci._commands.main import run; run()", "run", str(path),
             "--duration", "20", "--decoder", str(tiny_onnx), "--no-live"],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "refused the login" in proc.stderr and "outputs.mqtt.username" in proc.stderr
    assert "on_auth_error" in proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr
    assert not list((tmp_path / "rec").glob("*.xdf"))  # no empty recording left behind


def test_session_with_a_wrong_ca_continues_with_mqtt_off(
    secure_mosquitto: SecureBroker, uid: str, tmp_path: Path, tiny_onnx: Path
) -> None:
    from bci._session import run_session

    b = secure_mosquitto
    cfg = SessionConfig.model_validate(
        _session_cfg(
            tmp_path,
            uid,
            {
                "port": b.tls_port,
                "tls": True,
                "ca_file": str(b.other_ca_file),
                "on_auth_error": "continue",
            },
        )
    )
    with EEGPusher(f"eeg-{uid}"):
        result = run_session(cfg, duration=3.0, decoder=tiny_onnx, handle_signals=False)
    assert result.summary["counters"]["decisions"] > 5  # decoding went on without MQTT
    assert result.mqtt["state"] == "off" and result.mqtt["error"] == "tls"
    assert result.summary["mqtt"] == result.mqtt  # one set of numbers
    c = result.summary["counters"]
    assert (c["mqtt_sent"], c["mqtt_unsent"]) == (result.mqtt["sent"], result.mqtt["unsent"])
    assert result.mqtt["unsent"] >= c["decisions"]
    from bci._runtime._status import summary_lines

    assert "MQTT off: tls" in "\n".join(summary_lines(result.summary))
    assert result.recording is not None and result.recording.stat().st_size > 1000


# --------------------------------------------------------------------- event rate limits
async def _nan_session(
    mosquitto: Mosquitto,
    uid: str,
    tmp_path: Path,
    tiny_onnx: Path,
    duration: float,
    caplog: pytest.LogCaptureFixture,
    **nan: object,
) -> tuple[list[dict], list[dict], list[dict]]:
    """Run an engine on a NaN-emitting stream; nonfinite events from the log, MQTT, the XDF."""
    import pyxdf

    from bci._recorder import RecorderXDF

    caplog.set_level(logging.INFO, logger="bci")
    session = f"n{uid}"
    got: list = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(mosquitto.port, f"bci/{session}/events", got, ready))
    await asyncio.wait_for(ready.wait(), 5)
    rec = RecorderXDF(tmp_path / "nan.xdf")
    with EEGPusher(f"eeg-{uid}", **nan):
        mqtt = await ClientMQTT(MQTTSettings(port=mosquitto.port, session=session)).start()
        assert await mqtt.wait_connected(5)
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}"),
            DecoderONNX(tiny_onnx),
            EngineSettings(session=session, lsl_name=f"dec-{uid}", warmup=2),
            recorder=rec,
            publisher=mqtt,
            outlet_factory=OutletLSL,
        )
        await asyncio.to_thread(engine.prepare)
        await engine.run(duration=duration)
        engine.close()
        await _wait_for(lambda: any(p.get("event") == "stopped" for _, p, _ in got), 10)
        await mqtt.stop()
    sub.cancel()
    await asyncio.to_thread(rec.close)
    logged = [
        json.loads(r.getMessage().split(" ", 1)[1])
        for r in caplog.records
        if r.getMessage().startswith("event {")
    ]
    logged = [e for e in logged if e["event"] == "nonfinite"]
    on_mqtt = [p for _, p, _ in got if p.get("event") == "nonfinite"]
    streams, _ = pyxdf.load_xdf(str(tmp_path / "nan.xdf"), dejitter_timestamps=False)
    events = next(s for s in streams if s["info"]["name"][0] == f"{session}-events")
    in_xdf = [json.loads(v[0]) for v in events["time_series"]]
    in_xdf = [e for e in in_xdf if e["event"] == "nonfinite"]
    assert engine.counters.nonfinite_samples > 0
    return logged, on_mqtt, in_xdf


async def test_a_10_s_nan_burst_is_one_start_and_one_end_event(
    mosquitto: Mosquitto,
    uid: str,
    tmp_path: Path,
    tiny_onnx: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged, on_mqtt, in_xdf = await _nan_session(
        mosquitto, uid, tmp_path, tiny_onnx, 15.0, caplog, nan_at=(2.0, 2500)
    )
    for where in (logged, on_mqtt, in_xdf):
        assert [e["state"] for e in where] == ["start", "end"], where
        end = where[1]
        assert end["count"] == 2500 and end["at_stop"] is False
        assert 9.9 < end["duration"] < 10.1


async def test_a_permanently_nan_channel_is_one_start_event_while_it_lasts(
    mosquitto: Mosquitto,
    uid: str,
    tmp_path: Path,
    tiny_onnx: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged, on_mqtt, in_xdf = await _nan_session(
        mosquitto, uid, tmp_path, tiny_onnx, 4.0, caplog, nan_channel=3
    )
    for where in (logged, on_mqtt, in_xdf):
        # one start while it lasts; the session's stop closes it (marked at_stop)
        assert [e["state"] for e in where] == ["start", "end"], where
        assert where[1]["at_stop"] is True and where[1]["count"] > 500


def test_session_with_password_env_delivers_and_never_logs_or_records_it(
    secure_mosquitto: SecureBroker,
    uid: str,
    tmp_path: Path,
    tiny_onnx: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bci._session import run_session

    caplog.set_level(logging.DEBUG)
    b = secure_mosquitto
    var = f"BCI_TEST_PW_{uid.replace('-', '_')}"
    monkeypatch.setenv(var, b.password)
    cfg = SessionConfig.model_validate(
        _session_cfg(
            tmp_path, uid, {"port": b.password_port, "username": b.username, "password_env": var}
        )
    )
    with EEGPusher(f"eeg-{uid}"):
        result = run_session(cfg, duration=2.0, decoder=tiny_onnx, handle_signals=False)
    assert result.mqtt["error"] is None and result.mqtt["sent"] > 5
    assert result.summary["counters"]["decisions"] > 5
    assert b.password not in caplog.text
    assert b.password.encode() not in result.recording.read_bytes()
