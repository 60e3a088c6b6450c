"""The seam between a national node's core and its message classes (one `Feature` per class).

A feature declares what it brings — tables, inbox effects, background tasks, HTTP routes, console
pages, CLI subcommands, demo steps, settings — and receives a `FeatureContext`: the few things of
the node it may use (country, directory, sender, outbox, database, events, alarms, log, config).
It never receives the node itself. The core (nodes/national/node.py) discovers the features
(nodes/national/features/__init__.py, one list), creates their tables, registers their effects,
starts and stops their tasks, mounts their routes and pages; the CLI and the demo take their
subcommands and steps from the same list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Engine, MetaData

from crypto.signing import VerifiedEnvelope
from nodes.plumbing.config import BadNodeConfig
from protocol.envelope import Envelope

if TYPE_CHECKING:
    import argparse

    from aiohttp import web

    from nodes.national.opened import OpenedMessage
    from nodes.national.store import NodeStore
    from nodes.plumbing.alarms import AlarmBoard
    from nodes.plumbing.config import NodeConfig
    from nodes.plumbing.events import Events
    from nodes.plumbing.federation import Federation


# An effect of a verified incoming message beyond storing it. It runs inside the storing
# transaction and may return signed envelopes to send in it.
Effect = Callable[["FeatureContext", Connection, VerifiedEnvelope, "Mapping[str, Any] | None"],
                  "Sequence[Envelope] | None"]
# ...or, for a type whose effect needs no answer and whose order among its own kind does not matter
# (the alert replica merges by version key), one call per consumed batch with its messages of
# that type: one SELECT and one upsert per batch instead of per message.
BatchEffect = Callable[["FeatureContext", Connection, "Sequence[tuple[VerifiedEnvelope, Mapping[str, Any] | None]]"],
                       None]
# After the core accepted a receipt (it was for a message this node sent to its signer, with that
# message's digest) and recorded it: what the receipt means for the feature (e.g. an MLA request
# is delivered). In the storing transaction.
ReceiptEffect = Callable[["FeatureContext", Connection, VerifiedEnvelope, Mapping[str, Any]], None]
# A sealed body of this type was opened through the read path (nodes/national/reads.py), in the
# transaction that journals it: (context, connection, envelope, body, direction, who).
ReadHook = Callable[["FeatureContext", Connection, Envelope, Mapping[str, Any], str, str], None]
# A background job, started and stopped by the core (whether or not HTTP is served).
Task = Callable[["FeatureContext"], Awaitable[None]]
# Part of the node's retention sweep: delete what is past its date; counts by kind of data.
Purge = Callable[["FeatureContext", datetime], Mapping[str, int]]


class Sender(Protocol):
    """Builds and signs what a feature sends (sealed to the recipients and to this node if asked)."""

    def build(self, type: str, recipients: Sequence[str], **fields: Any) -> Envelope: ...

    def build_sealed(self, type: str, recipients: Sequence[str], payload: Mapping[str, Any],
                     **fields: Any) -> Envelope: ...

    def sign(self, env: Envelope) -> Envelope: ...

    def open(self, message_id: str, who: str, purpose: str = "read") -> OpenedMessage: ...


class Outbox(Protocol):
    """The node's transactional outbox."""

    def enqueue(self, envs: Sequence[Envelope], conn: Connection | None = None, *,
                payloads: Sequence[Mapping[str, Any]] | None = None, external: bool = False) -> None:
        """Queue signed envelopes, in `conn`'s transaction if given; the relay publishes them.
        `external=True`: the database keeps their metadata and digests but none of their signed
        bytes; the caller has stored those durably before this transaction commits and hands them to
        the relay through its feature's `sent_bytes`. `payloads`: each envelope's clear body as
        built, when the caller has it (an alert batch's retention date reads it)."""

    async def submit(self, envs: Sequence[Envelope]) -> None:
        """Queue signed envelopes in a transaction of their own and tell the live views."""

    def wake_soon(self) -> None:
        """Have the relay read the outbox now: after the commit of a transaction that queued
        (`enqueue` inside a caller's transaction wakes it before the commit, too early)."""


@dataclass(frozen=True)
class ConsolePages:
    """A feature's part of the focal point's console: its navigation entry, its pages, and a
    templates/ folder of its own searched after the node's (nodes/national/templates/)."""

    nav: tuple[str, str]  # (label, path)
    add_routes: Callable[[web.Application, FeatureContext], None]
    templates: Path | None = None
    position: int = 100  # where its entry goes in the navigation (MLA 10, cases 20, alerts 30)


@dataclass(frozen=True)
class CliCommand:
    """A `somex <name> ...` subcommand: `add_parser(subparsers)` adds it; `run(args)` runs it."""

    name: str
    add_parser: Callable[[Any], None]
    run: Callable[[argparse.Namespace], int]


class DemoFederation(Protocol):
    """What a demo step gets of the running demo federation (`somex demo`, nodes/app/demo.py):
    the nodes' APIs, the demo's output, and its bounded wait. Plain values: a feature's demo step
    needs nothing of the application that runs it."""

    countries: Sequence[str]

    def api(self, country: str, role: str = "focal") -> tuple[str, dict[str, str]]:
        """The base URL of `country`'s node API (.../api) and the headers of `role`'s token."""

    def token(self, country: str, role: str = "focal") -> str:
        """`role`'s API token at `country`'s node (for a client that takes a token, e.g. a feed push)."""

    def hub_api(self, role: str = "auditor") -> tuple[str, dict[str, str]]:
        """The base URL of the hub's API (.../api) and the headers of `role`'s token there."""

    def say(self, text: str = "") -> None: ...

    async def wait_for(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        """The probe's first truthy answer; TimeoutError past the demo's bound."""


# One step of `somex demo`: (HTTP session, the demo federation) -> [(what was checked, ok)].
DemoStep = Callable[[Any, DemoFederation], Awaitable[Sequence[tuple[str, bool]]]]


@dataclass(frozen=True)
class Feature:
    """One message class at a national node. Every field but `name` is optional."""

    name: str
    tables: Sequence[MetaData] = ()
    # Builds the feature's service object once (kept as `ctx.service`; tests reach it as node.<name>).
    service: Callable[[FeatureContext], Any] | None = None
    effects: Mapping[str, Effect] = field(default_factory=dict)
    batch_effects: Mapping[str, BatchEffect] = field(default_factory=dict)
    receipt_effects: Sequence[ReceiptEffect] = ()
    # Incoming types whose signed bytes the message store does not keep (their `messages` row keeps
    # the metadata and the digest: dedupe, receipts and the audit trail work as for any type): the
    # effect keeps what matters elsewhere (a file chunk: written to the file being reassembled). A
    # refused message of such a type is not kept either.
    stored_without_copy: frozenset[str] = frozenset()
    # The signed bytes of an outgoing message this feature queued with `enqueue(..., external=True)`,
    # by message id, exactly as signed (the relay publishes them, first and on every re-send), or
    # None once the feature no longer keeps them (the message was receipted: nothing to send).
    sent_bytes: Callable[[FeatureContext, str], bytes | None] | None = None
    read_hooks: Mapping[str, ReadHook] = field(default_factory=dict)
    tasks: Sequence[Task] = ()
    on_stop: Callable[[FeatureContext], None] | None = None  # after its tasks stopped: release resources
    purges: Sequence[Purge] = ()
    # Which of these stored messages wait for the focal point (the console's inbox marks them).
    awaiting_action: Callable[[FeatureContext, Sequence[Any]], set[str]] | None = None
    routes: Callable[[web.Application, FeatureContext], None] | None = None
    console: ConsolePages | None = None
    cli: Sequence[CliCommand] = ()
    demo_steps: Sequence[DemoStep] = ()
    demo_position: int = 100  # where its steps come in `somex demo` (cases 10, MLA 20, alerts 30, person 40)
    # name -> default; `ctx.settings[name]` is the node config file's value (NodeConfig.features,
    # `"features": {"<name>": {...}}`), else NodeConfig's field of that name (MLA's deadlines have
    # one), else the default. A configured value has the default's type (a timedelta: seconds).
    settings: Mapping[str, Any] = field(default_factory=dict)
    # What the type alone does not say of the configured settings (e.g. a range): a problem, or None.
    check_settings: Callable[[Mapping[str, Any]], str | None] | None = None


class BadFeatureSettings(BadNodeConfig):
    """The node config's `features` section names a feature or setting this node does not have, or a
    value of the wrong type: the node refuses to start (one line, exit 2)."""


def _setting(feature: str, name: str, default: Any, value: Any) -> Any:
    """`value` as the type of `default`, or BadFeatureSettings naming what was expected."""
    where = f"features.{feature}.{name}"
    if isinstance(default, timedelta):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return timedelta(seconds=value)
        raise BadFeatureSettings(f"{where}: a number of seconds, not {value!r}")
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float) and isinstance(value, int):
        value, ok = float(value), True
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise BadFeatureSettings(f"{where}: {type(default).__name__} expected (like the default {default!r}), "
                                 f"not {value!r}")
    return value


def resolve_settings(features: Sequence[Feature], config: NodeConfig) -> dict[str, dict[str, Any]]:
    """Each feature's settings (name -> value) as `ctx.settings` gives them, checked against what the
    features declare: BadFeatureSettings for an unknown feature or setting, a wrong type, or a value
    the feature's `check_settings` refuses."""
    declared = {f.name: f for f in features}
    configured = config.features
    unknown = sorted(set(configured) - set(declared))
    if unknown:
        raise BadFeatureSettings(f"features.{unknown[0]}: this node has no such feature "
                                 f"(it has: {', '.join(sorted(declared))})")
    resolved = {}
    for feature in features:
        given = configured.get(feature.name, {})
        if not isinstance(given, Mapping):
            raise BadFeatureSettings(f"features.{feature.name}: an object of settings, not {given!r}")
        extra = sorted(set(given) - set(feature.settings))
        if extra:
            raise BadFeatureSettings(f"features.{feature.name}.{extra[0]}: no such setting (the feature's: "
                                     f"{', '.join(sorted(feature.settings)) or 'none'})")
        values = {name: _setting(feature.name, name, default, given[name]) if name in given
                  else getattr(config, name, default) for name, default in feature.settings.items()}
        problem = feature.check_settings(values) if feature.check_settings is not None else None
        if problem is not None:
            raise BadFeatureSettings(f"features.{feature.name}: {problem}")
        resolved[feature.name] = values
    return resolved


class FeatureContext:
    """What a feature may use of its node. Built by the core, one per feature."""

    def __init__(self, *, feature: str, country: str, config: NodeConfig, db: Engine, store: NodeStore,
                 sender: Sender, outbox: Outbox, events: Events, alarms: AlarmBoard, log: Any,
                 home: Path, federation: Callable[[], Federation], settings: Mapping[str, Any] = {},
                 services: Callable[[str], Any] | None = None) -> None:
        self.feature = feature
        self.country = country
        self.config = config
        self.db = db  # the node's database engine: the feature's tables live there
        self.store = store  # the node's message store (read-only use: get, raw, list)
        self.sender = sender
        self.outbox = outbox
        self.events = events
        self.alarms = alarms
        self.log = log  # bound once with the node id
        self.home = home  # the node's private directory (keys and secrets of its own)
        self._federation = federation
        self.settings = dict(settings)  # resolve_settings: the configured values, else the defaults
        self.service: Any = None  # set by the core from Feature.service
        self._services = services

    @property
    def federation(self) -> Federation:
        """The federation in force now (a directory or revocation list may be applied live)."""
        return self._federation()

    def service_of(self, feature: str) -> Any:
        """Another feature's service, or None if the node has no such feature: how a feature uses
        another's public calls (the border check asks the document-alert replica) without
        importing it."""
        return self._services(feature) if self._services is not None else None

    @property
    def directory(self) -> Any:
        return self._federation().directory

    # Shorthands for the sender's and the outbox's calls.
    def build(self, type: str, recipients: Sequence[str], **fields: Any) -> Envelope:
        return self.sender.build(type, recipients, **fields)

    def build_sealed(self, type: str, recipients: Sequence[str], payload: Mapping[str, Any],
                     **fields: Any) -> Envelope:
        return self.sender.build_sealed(type, recipients, payload, **fields)

    def sign(self, env: Envelope) -> Envelope:
        return self.sender.sign(env)

    def enqueue(self, envs: Sequence[Envelope], conn: Connection | None = None, *,
                payloads: Sequence[Mapping[str, Any]] | None = None, external: bool = False) -> None:
        self.outbox.enqueue(envs, conn, payloads=payloads, external=external)

    async def submit(self, envs: Sequence[Envelope]) -> None:
        await self.outbox.submit(envs)

    def wake_relay(self) -> None:
        self.outbox.wake_soon()


def discover() -> list[Feature]:
    """Every feature of this node: each package under nodes/national/features/ that defines
    `FEATURE`, in their console order. The one place features are found; the core imports none
    of them by name."""
    import importlib
    import pkgutil

    package = importlib.import_module("nodes.national.features")
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        feature = getattr(module, "FEATURE", None)
        if isinstance(feature, Feature):
            found.append(feature)
    return sorted(found, key=lambda f: (f.console.position if f.console else 1000, f.name))


__all__ = ["BadFeatureSettings", "BatchEffect", "CliCommand", "ConsolePages", "DemoFederation", "DemoStep", "Effect", "Feature", "FeatureContext", "Outbox",
           "Purge", "ReadHook", "ReceiptEffect", "Sender", "Task", "discover", "resolve_settings"]
