"""What the hub's web part (api.py, console.py, export.py) sees of the running hub: the log through
the storage's read interface (`LogReader`), the federation in use, alarms, counters, and the one
action an operator may take (publish a federation document). It never reaches the relay, the
sequencer or the checkpoint signer (tests/unit/test_hub_layers.py checks the imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nodes.hub.log_storage import LogReader
    from nodes.plumbing.alarms import AlarmBoard
    from nodes.plumbing.amqp import BrokerSession
    from nodes.plumbing.config import HubConfig
    from nodes.plumbing.federation import Federation
    from nodes.plumbing.metrics import Telemetry


class HubView(Protocol):
    config: HubConfig
    federation: Federation
    alarms: AlarmBoard
    telemetry: Telemetry
    session: BrokerSession | None
    processed: int

    @property
    def store(self) -> LogReader: ...

    async def publish_federation_document(self, raw: bytes) -> dict[str, Any]: ...
