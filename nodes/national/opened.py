"""A message body let out through the read path (nodes/national/reads.py), with what must be shown
next to it. Apart from reads.py so that the features' seam (feature.py) can name it without
importing the read path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OpenedMessage:
    """A body let out through the read path, with what must be shown next to it."""

    message_id: str
    type: str
    sender: str
    direction: str
    body: Mapping[str, Any]
    handling: Mapping[str, Any]  # the envelope's handling code (and retention, condition)
    notices: list[str] = field(default_factory=list)  # the handling rules a reader must see
    reference: str | None = None  # the case or request reference of the header
    sealed: bool = True

    def banner(self) -> dict[str, Any]:
        """The handling banner's facts (the console's node/message_banner.html)."""
        return {"code": self.handling.get("code"), "notices": self.notices, "reference": self.reference,
                "provider": self.sender, "retention_days": self.handling.get("retention_days")}

    def body_without_attachment_contents(self) -> dict[str, Any]:
        body = dict(self.body)
        if "attachments" in body:
            body["attachments"] = [{k: v for k, v in a.items() if k != "content"} | {"index": i}
                                   for i, a in enumerate(body["attachments"])]
        return body
