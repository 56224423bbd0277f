"""``python -m bci.devices.simulated CONFIG_JSON``: the simulated participant in a process of its own.

``CONFIG_JSON`` is a :class:`bci.config.SimulatedSourceConfig` as JSON; an optional second
argument is the id of the session that owns it (its streams' source ids carry it). It runs
until stdin closes (:func:`bci._child.serve`); sessions start it this way so that its signal
and schedule threads never compete with the runtime's hot path for the GIL, and it talks to
the runtime over LSL only, like a real headset. For a participant of your own, use
``bci stream --board simulated``.
"""

from __future__ import annotations

import sys


def _start(config_json: str, session_id: str | None = None):  # noqa: ANN202 - the stopper
    from bci.config import SimulatedSourceConfig

    from ._live import SimulatedParticipant

    participant = SimulatedParticipant(
        SimulatedSourceConfig.model_validate_json(config_json), session_id=session_id
    )
    participant.start()
    return participant.stop


if __name__ == "__main__":
    from bci._child import serve

    sys.exit(serve(lambda: _start(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
