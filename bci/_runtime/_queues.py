"""Bounded queues with a declared overflow policy (STYLE 7): leaky for the decoder input."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LeakyQueue(Generic[T]):
    """A bounded asyncio queue where the latest item wins: a full queue drops its oldest.

    Parameters
    ----------
    maxsize : int
        Items held at most (``>= 1``). The decoder input uses 1: a window waiting while
        the decoder is busy is replaced by the next one.

    Attributes
    ----------
    dropped : int
        Items dropped because the queue was full.
    """

    def __init__(self, maxsize: int = 1):
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize}: a leaky queue holds at least one item")
        self.maxsize = int(maxsize)
        self._items: deque[T] = deque(maxlen=self.maxsize)
        self._event = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> T | None:
        """Add an item without waiting; return the item dropped to make room, if any."""
        dropped = None
        if len(self._items) == self.maxsize:
            dropped = self._items[0]
            self.dropped += 1
        self._items.append(item)
        self._event.set()
        return dropped

    def get_nowait(self) -> T:
        """Take the oldest item; raises :class:`asyncio.QueueEmpty` when empty."""
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._event.clear()
        return item

    async def get(self) -> T:
        """Wait for an item and take the oldest."""
        while not self._items:
            await self._event.wait()
        return self.get_nowait()
