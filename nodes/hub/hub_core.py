"""What the hub's background parts (checkpoint publisher, dead-letter watch, federation document
publication) use of the running hub (nodes/hub/relay.py::Hub), as a Protocol: they depend on it,
not on the relay module, so no import cycle runs through the relay, TYPE_CHECKING included.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from crypto.directory import Directory
    from crypto.keys import SigningKey
    from nodes.hub.audit import AuditStore
    from nodes.hub.entry import AuditEntry
    from nodes.hub.forwarding import Copies, Forward, Forwarder
    from nodes.plumbing.alarms import AlarmBoard
    from nodes.plumbing.amqp import Publisher
    from nodes.plumbing.config import HubConfig
    from nodes.plumbing.federation import Federation
    from protocol.envelope import Envelope


class HubCore(Protocol):
    config: HubConfig
    federation: Federation
    store: AuditStore
    alarms: AlarmBoard
    forwarder: Forwarder
    log_lock: asyncio.Lock
    publication_lock: asyncio.Lock
    messages_since_checkpoint: int

    @property
    def directory(self) -> Directory: ...
    @property
    def signing_key(self) -> SigningKey: ...

    async def open_publisher(self) -> Publisher: ...
    async def forward(self, forwards: list[Forward | Copies]) -> list[Forward]: ...
    async def process(self, batch: list[Any], retry: bool = False) -> None: ...
    async def refuse_alone(self, message: Any, error: BaseException) -> None: ...
    def alarm_parked(self, parked: list[Forward]) -> None: ...
    def log_receipt(self, entry: AuditEntry, message_id: str, at: str) -> str: ...
    def rejection_notice(self, refused: AuditEntry, reason: str, detail: str,
                         to: str) -> tuple[Envelope, AuditEntry]: ...
    def rejection_forward(self, rejection: Envelope, entry: AuditEntry) -> Forward: ...
