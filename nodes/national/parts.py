"""What the national core's modules may use of their node: small Protocols below node.py.

node.py builds the `NationalNode` and imports the core modules (delivery, watchdogs, witness,
metrics, log_watch, retention, reads, federation_fetch); they never import node.py back (no import
cycle, TYPE_CHECKING included: issue 16). Each takes the narrowest of these that covers what it
reads; `NationalNode` satisfies them all structurally.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nodes.national.feature import Effect, Feature, FeatureContext, ReadHook
    from nodes.national.store import NodeStore
    from nodes.plumbing.alarms import AlarmBoard
    from nodes.plumbing.config import NodeConfig
    from nodes.plumbing.federation import Federation, NodeCredentials
    from protocol.envelope import Envelope


class NodeBasics(Protocol):
    """Who the node is, its settings, database, log, alarms and the federation in force."""

    country: str
    config: NodeConfig
    store: NodeStore
    log: Any  # structlog's logger, bound once with the node id
    alarms: AlarmBoard
    federation: Federation  # replaced when a newer directory or revocation list is accepted


class EffectTable(NodeBasics, Protocol):
    """A node whose effects by message type a core module wraps (delivery, watchdogs)."""

    effects: MutableMapping[str, Effect]


class Relay(NodeBasics, Protocol):
    """A node whose relay can be woken to publish the outbox now."""

    def wake_soon(self) -> None: ...


class Signer(NodeBasics, Protocol):
    """A node that signs with its own key: witness cosignatures."""

    creds: NodeCredentials

    def build(self, type: str, recipients: Sequence[str], **fields: Any) -> Envelope: ...


class Opener(NodeBasics, Protocol):
    """The read path's view: the node's opener of sealed bodies and the features' read hooks."""

    read_hooks: Mapping[str, Sequence[tuple[FeatureContext, ReadHook]]]

    def _open_body(self, env: Envelope) -> dict[str, Any]: ...


class WithFeatures(NodeBasics, Protocol):
    """A node's features, each with its context: the retention sweep runs each one's purge."""

    features: Sequence[Feature]
    contexts: Mapping[str, FeatureContext]


class Gauged(NodeBasics, Protocol):
    """What the node's Prometheus gauges read."""

    creds: NodeCredentials

    @property
    def inbox_backlog(self) -> int: ...

    @property
    def broker_connected(self) -> bool: ...
