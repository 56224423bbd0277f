"""MQTT through a real mosquitto: payloads, retained status, broker death and recovery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from bci import BCIError
from bci._decoder import DecoderONNX
from bci._mqtt import ClientMQTT, EmbeddedBroker, MQTTSettings
from bci._runtime import Engine, EngineSettings
from bci.devices import OutletLSL, SourceLSL

from .conftest import EEGPusher, Mosquitto


async def _collect(port: int, topic: str, into: list, ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"sub-{id(into)}") as sub:
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
