"""Which failures are the process's own (storage, broker link) and which belong to one message.

A failure of our own storage or broker link says nothing about the messages being processed: they
are held and retried, never refused and never counted toward a delivery limit (issue 22). Any other
exception while processing a batch is narrowed down to the message that causes it (issue 14).
"""

from __future__ import annotations

import asyncio
import sqlite3

import aiormq
import sqlalchemy.exc

# OperationalError: disk full, database locked, I/O error, PostgreSQL down or restarting;
# InterfaceError / DisconnectionError: the database connection itself is gone.
_STORAGE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.DisconnectionError,
            sqlite3.OperationalError, sqlite3.InterfaceError, OSError, MemoryError)
# ChannelInvalidStateError: a publish or ack on a channel the broker (or a missed heartbeat) closed;
# aiormq derives it from RuntimeError, not AMQPError.
_BROKER = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError,
           TimeoutError, asyncio.TimeoutError)


class TransientFailure(Exception):
    """Raised by this process's own plumbing for a failure to retry later, e.g. the broker did not
    take a publish (nodes/plumbing/amqp.py: PublishRefused). The classes of the failures live with the
    code that raises them; this module only knows this base, so it imports nothing of ours."""


def is_transient(exc: BaseException) -> bool:
    """True for a failure of this process's own storage or broker link (retry the same messages)."""
    return isinstance(exc, (*_STORAGE, *_BROKER, TransientFailure))


def is_storage_failure(exc: BaseException) -> bool:
    return isinstance(exc, _STORAGE)


__all__ = ["TransientFailure", "is_storage_failure", "is_transient"]
