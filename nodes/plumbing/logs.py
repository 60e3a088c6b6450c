"""structlog set-up: JSON lines when not on a terminal (production), readable text on one.

Every library's records (aiormq, aio_pika, aiohttp, asyncio, sqlalchemy ...) go through the same
processors and renderer as ours, via a stdlib handler with structlog's ProcessorFormatter: in JSON
mode every line of a process's output is one JSON object. A field whose value is None is dropped
(a message without a thread logs no `thread`).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

_HANDLER_NAME = "somex-structlog"
LIBRARY_LEVEL = logging.WARNING  # aio-pika/aiormq log every reconnect attempt at lower levels


class _Stderr:
    """Whatever sys.stderr is when a line is written, not when logging was configured: a caller that
    swaps it (a test's capture, a daemon's redirect) and closes the old one never breaks logging."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def drop_none_fields(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if v is not None}


def configure_logging(level: str | None = None, *, json: bool | None = None) -> None:
    level = (level or os.environ.get("SOMEX_LOG_LEVEL", "INFO")).upper()
    if json is None:
        fmt = os.environ.get("SOMEX_LOG_FORMAT")
        json = fmt == "json" if fmt else not sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_none_fields,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_Stderr())  # type: ignore[arg-type]
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    ))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:  # configured again: replace, not double
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LIBRARY_LEVEL)
    logging.captureWarnings(True)  # a library's RuntimeWarning is a log line too, not a raw stderr line
    handler.addFilter(_retry_noise)


def _retry_noise(record: logging.LogRecord) -> bool:
    """aiormq logs an ERROR per failed reconnect attempt; somex's own warning says the same once per
    attempt with what to do (nodes.plumbing.amqp), so aiormq's copy is dropped."""
    return not (record.name == "aiormq.connection" and record.getMessage().startswith("error when creating transport"))
