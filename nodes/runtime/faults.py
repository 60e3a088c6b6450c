"""Which failures are the process's own (storage, broker link) and which belong to one message.

A failure of our own storage or broker link says nothing about the messages being processed: they
are held and retried, never refused and never counted toward a delivery limit (issue 22). Any other
exception while processing a batch is narrowed down to the message that causes it (issue 14).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiormq
import sqlalchemy.exc

# OperationalError: disk full, database locked, I/O error, PostgreSQL down or restarting;
# InterfaceError / DisconnectionError: the database connection itself is gone.
_STORAGE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.DisconnectionError,
            sqlite3.OperationalError, sqlite3.InterfaceError, OSError, MemoryError)
_BROKER = (aiormq.exceptions.AMQPError, ConnectionError, TimeoutError, asyncio.TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """True for a failure of this process's own storage or broker link (retry the same messages)."""
    from nodes.runtime.amqp import PublishRefused  # the broker did not take a publish: retry later

    return isinstance(exc, (*_STORAGE, *_BROKER, PublishRefused))


def is_storage_failure(exc: BaseException) -> bool:
    return isinstance(exc, _STORAGE)


@dataclass
class Alarm:
    kind: str
    reason: str
    detail: str
    action: str
    at: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "detail": self.detail, "action": self.action,
                "at": self.at}


class Alarms:
    """Alarms held in memory: those about our own storage cannot be written to it."""

    def __init__(self) -> None:
        self._open: dict[str, Alarm] = {}
        self.raised = 0  # how many times an alarm was raised (tests and metrics)
        self.cleared = 0
        self.retries = 0  # batches retried after a storage or broker failure

    def raise_(self, alarm: Alarm) -> bool:
        """Open `alarm` (replacing one of its kind); True if none of its kind was open."""
        new = alarm.kind not in self._open
        self._open[alarm.kind] = alarm
        self.raised += new
        return new

    def clear(self, kind: str) -> bool:
        """Close the alarm of `kind`; True if one was open."""
        if self._open.pop(kind, None) is None:
            return False
        self.cleared += 1
        return True

    def is_open(self, kind: str) -> bool:
        return kind in self._open

    def open(self) -> list[Alarm]:
        return list(self._open.values())


__all__ = ["Alarm", "Alarms", "is_storage_failure", "is_transient"]
