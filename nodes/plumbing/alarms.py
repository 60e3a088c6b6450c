"""Conditions an operator must see now (health page, console, ERROR log): raised and cleared by the
watchdogs of a hub or node and by its consumers when its own storage or broker link fails, kept in
memory (an alarm about the storage cannot be written to it; the condition is re-detected after a
restart).

An alarm has a key (one per condition: "hub_silent", "overdue:<id>", "rejected:clock_skew"); raising
it again updates its detail and count but logs only the first time, so a watchdog polling every
second does not flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from nodes.plumbing.config import utcnow
from protocol.timefmt import format_time


@dataclass
class Alarm:
    key: str
    reason: str  # a reason code (docs/reason-codes.md)
    detail: str  # what is wrong and what to do
    since: str
    count: int = 1
    context: dict[str, Any] = field(default_factory=dict)  # message_id, recipient, ...

    def as_json(self) -> dict[str, Any]:
        return {"kind": "watchdog", "reason": self.reason, "detail": self.detail, "at": self.since,
                "count": self.count, **self.context}


class AlarmBoard:
    def __init__(self, logger: Any = None) -> None:  # a structlog logger, bound to the node or hub
        self._alarms: dict[str, Alarm] = {}
        self._log = logger if logger is not None else structlog.get_logger("somex.alarms")
        self.raised = 0  # alarms raised and cleared so far, and batches retried on a failing storage
        self.cleared = 0
        self.retries = 0

    def raise_alarm(self, key: str, reason: str, detail: str, *, count: int | None = None, **context: Any) -> bool:
        """Raise (or refresh) an alarm; True if it was not already raised. `count` replaces the
        count (a gauge such as "messages overdue"); without it each raise adds one."""
        alarm = self._alarms.get(key)
        if alarm is not None:
            alarm.detail, alarm.context = detail, {**alarm.context, **context}
            alarm.count = count if count is not None else alarm.count + 1
            return False
        self._alarms[key] = Alarm(key, reason, detail, format_time(utcnow()), count if count is not None else 1,
                                  dict(context))
        self.raised += 1
        self._log.error("ALARM raised", alarm=reason, detail=detail, **context)
        return True

    def clear(self, key: str) -> bool:
        """Clear an alarm; True if it was raised."""
        if self._alarms.pop(key, None) is None:
            return False
        self.cleared += 1
        self._log.info("alarm cleared", alarm=key)
        return True

    def is_open(self, key: str) -> bool:
        return key in self._alarms

    def open(self) -> list[Alarm]:
        return sorted(self._alarms.values(), key=lambda a: a.since)

    def active(self) -> list[dict[str, Any]]:
        return [a.as_json() for a in sorted(self._alarms.values(), key=lambda a: a.since)]

    def __contains__(self, key: str) -> bool:
        return key in self._alarms

    def __len__(self) -> int:
        return len(self._alarms)


__all__ = ["Alarm", "AlarmBoard"]
