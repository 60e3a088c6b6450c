"""The error family of the pure protocol layer: every refusal carries a reason code.

Reason codes are stable strings that appear in `hub.rejection` messages, audit entries and API
answers; docs/reason-codes.md lists each once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One fault of a structured input (an MRZ, a person alert): which field, a reason code, what is
    wrong. Checks that report every fault at once collect these."""

    field: str
    reason: str
    detail: str


class ProtocolError(Exception):
    """A peer sent something we refuse. `reason` is a stable snake_case code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DecodeError(ProtocolError):
    """Bytes that are not a well-formed envelope or payload of a registered type.

    `message_id` and `sender` are filled in when decoding got far enough to read them, so that a
    rejection can still be audited against the message it concerns.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        message_id: str | None = None,
        sender: str | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(reason, detail)
        self.message_id = message_id
        self.sender = sender
        self.type = type


class PolicyError(ProtocolError):
    """A well-formed, authentic message that the federation's rules do not allow."""


class TransitionError(ProtocolError):
    """An event that the lifecycle of a request does not allow in its current state."""
