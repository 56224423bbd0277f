"""Which LSL streams belong to a session: a session records its own, never a namesake's.

Two sessions on one network (two users, or two terminals on one laptop) publish streams
with the same names (``bci-sim``, ``bci-markers``...). A session therefore gets a unique
*session id* (``<name>-<8 hex digits>``) and tags the ``source_id`` of every stream it
starts itself: ``<base>@<session id>`` (simulated participant, its stimulus schedule and
ground truth) or ``<session id>/<original>`` (a replayed file). Protocol streams (markers,
stimulus descriptions, ground truth) are recorded only when tagged with the session's id or
named in ``recording.streams``; a stream of the same name from another session or host is
skipped, and the log says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from ._types import StreamSpec

#: The id of the session whose sources are being started (set by the session wiring while
#: source drivers run, so that a driver can tag the streams it starts).
current_session_id: ContextVar[str | None] = ContextVar("current_session_id", default=None)


def new_session_id(name: str) -> str:
    """A unique id for one run of session ``name`` (``name-1a2b3c4d``)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def owned_source_id(base: str, session_id: str | None) -> str:
    """``base`` tagged with the session id (``base@session_id``); ``base`` when there is none."""
    return f"{base}@{session_id}" if session_id else base


def is_owned(source_id: str, session_id: str) -> bool:
    """Whether ``source_id`` was tagged by the session ``session_id``."""
    if not session_id:
        return False
    return source_id.endswith(f"@{session_id}") or source_id.startswith(f"{session_id}/")


def session_of(source_id: str) -> str | None:
    """The session id a ``source_id`` is tagged with, or ``None`` for an untagged stream."""
    if "@" in source_id:
        return source_id.rsplit("@", 1)[1] or None
    return None


@dataclass(frozen=True)
class ProtocolSelection:
    """The protocol streams a session records, and the namesakes it leaves alone."""

    own: list[StreamSpec]
    foreign: list[StreamSpec]


def select_protocol_streams(
    visible: Iterable[StreamSpec],
    names: Sequence[str],
    session_id: str,
    exclude_source_ids: Iterable[str] = (),
) -> ProtocolSelection:
    """Pick this session's protocol streams among those visible.

    Parameters
    ----------
    visible : iterable of StreamSpec
        Streams on the network now.
    names : sequence of str
        Protocol stream names (markers, stimulus descriptions, ground truth).
    session_id : str
        This session's id.
    exclude_source_ids : iterable of str
        Streams already recorded (the decoded source and configured sources).
    """
    skip = set(exclude_source_ids)
    own, foreign = [], []
    for spec in visible:
        if spec.name not in names or spec.source_id in skip:
            continue
        (own if is_owned(spec.source_id, session_id) else foreign).append(spec)
    return ProtocolSelection(own, foreign)
