"""Real-time scheduling for the hot path.

Under Linux's ordinary scheduler a woken thread can wait for another process's time slice
to end, and a thread preempted in the middle of a decode can wait in one CPU's queue while
the other CPU idles: a few milliseconds each time, on a machine that also runs a browser
drawing the live view, a recorder or a compiler. A ``SCHED_FIFO`` thread runs as soon as it
is woken and keeps its CPU until it blocks. The hot path suits it: it blocks on its inlet
between samples and decodes for about a millisecond per window, so it never holds a CPU for
long (and the kernel keeps 5 % of every second for ordinary threads whatever happens).

Two kinds of thread carry a sample to a decision: liblsl's receiving thread, which reads the
decoded stream from its socket, and the hot-path thread, which pulls, filters and decodes.
The engine runs both under ``SCHED_FIFO``: the hot-path thread asks for it when it starts,
and the source is connected from a thread that holds it for the moment, since the threads
liblsl starts for the inlet inherit their creator's scheduling.

Switching to a real-time policy needs root, the ``CAP_SYS_NICE`` capability or a real-time
priority limit (``ulimit -r``; ``rtprio`` in ``/etc/security/limits.conf``). Without them
the hot path keeps ordinary scheduling, and the engine's ``started`` event says so.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["connect_source", "promote_thread", "promoted"]

NOT_PERMITTED = "SCHED_FIFO not permitted: raise ulimit -r (rtprio) or grant CAP_SYS_NICE"


def promote_thread(priority: int | None) -> str:
    """Run the calling thread under ``SCHED_FIFO`` at ``priority`` when the system allows it.

    Threads it starts afterwards inherit the policy.

    Parameters
    ----------
    priority : int | None
        Real-time priority, 1-99; ``None`` leaves the thread's scheduling as it is.

    Returns
    -------
    str
        What the thread runs under: ``"SCHED_FIFO 10"``, ``"ordinary"``, or
        ``"ordinary (why)"`` when real-time scheduling was asked for and not granted.
    """
    if priority is None:
        return "ordinary"
    if not hasattr(os, "sched_setscheduler"):  # macOS, Windows
        return "ordinary (no real-time scheduling on this platform)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        return f"ordinary ({NOT_PERMITTED})"
    except OSError as exc:  # e.g. a cgroup that grants no real-time time
        return f"ordinary (SCHED_FIFO refused: {exc.strerror})"
    return f"SCHED_FIFO {priority}"


@contextmanager
def promoted(priority: int | None) -> Iterator[str]:
    """The calling thread under ``SCHED_FIFO`` for the block, then back to what it was.

    Yields :func:`promote_thread`'s description. Threads started inside the block keep the
    real-time policy after it ends.
    """
    before = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    param = os.sched_getparam(0) if before is not None else None
    got = promote_thread(priority)
    try:
        yield got
    finally:
        if got.startswith("SCHED_FIFO"):
            os.sched_setscheduler(0, before, param)  # giving up a priority is always allowed


# what each source's receiving threads got when connect_source connected it
_receiving: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def connect_source(source: Any, priority: int | None) -> str:
    """Connect ``source`` so that the threads liblsl starts to receive it run real-time too.

    Returns what those threads run under (see :func:`promote_thread`). A source that is
    already connected keeps the threads it has: what they got when this function connected
    it, or ``"as connected elsewhere"``.
    """
    if getattr(source, "connected", False):
        return _receiving.get(source, "as connected elsewhere")
    with promoted(priority) as got:
        source.connect()
    _receiving[source] = got
    return got
