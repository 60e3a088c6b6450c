"""RabbitMQ topology and least-privilege permissions, rendered for a federation (pure: no I/O).

One vhost. Nodes publish to the topic exchange `hub.in` with their own id as routing key (topic
permission); the hub consumes queue `hub.in` and publishes to the direct exchange `node.out`,
which routes to `node.<ID>.inbox`. Dead letters and unroutable messages land in queues the hub
watches and audits. See broker_config/README.md for what each object and permission is for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEAD_LETTER_EXCHANGE", "DEAD_LETTER_QUEUE", "DEFAULT_VHOST", "DELIVERY_LIMIT", "HUB_IN_EXCHANGE",
    "HUB_IN_QUEUE", "NODE_OUT_EXCHANGE", "UNROUTABLE_EXCHANGE", "UNROUTABLE_QUEUE",
    "BrokerSpec", "BrokerTls", "BrokerUser", "InboxBounds", "check_password_hash", "inbox_queue", "password_hash",
    "render_advanced_config", "render_definitions", "render_rabbitmq_conf",
]

DEFAULT_VHOST = "somex"
HUB_IN_EXCHANGE = "hub.in"
HUB_IN_QUEUE = "hub.in"
NODE_OUT_EXCHANGE = "node.out"
DEAD_LETTER_EXCHANGE = "dead.letter"
DEAD_LETTER_QUEUE = "dead.letters"
UNROUTABLE_EXCHANGE = "unroutable"
UNROUTABLE_QUEUE = "unroutable"
DELIVERY_LIMIT = 5
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"
UNUSED_DEFAULT_USER = "somex-unused"  # the default user when no administrator is given (never guest)

# A node id is a routing key and part of a queue name and of permission regexes: keep it plain.
_NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Tags that would let a node or the hub manage the broker (or change queue behaviour by policy).
_PRIVILEGED_TAGS = frozenset({"administrator", "policymaker", "monitoring", "management", "impersonator"})


def inbox_queue(node_id: str) -> str:
    return f"node.{node_id}.inbox"


@dataclass(frozen=True)
class BrokerUser:
    """A broker user. Without a password it can log in only by TLS client certificate (EXTERNAL,
    the certificate's CN = `name`): the deployed path, where no broker password exists."""

    name: str
    password: str | None = field(default=None, repr=False)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokerTls:
    """The broker's TLS material (absolute paths): AMQPS only, clients authenticated by certificate.

    `ca_file`: the CA certificate(s) client certificates must chain to (the federation root).
    `crl_dir`: certificate revocation lists, one file per issuer named `<openssl subject hash>.r0`
    (Erlang's ssl_crl_hash_dir); read at every handshake, so a revocation needs no restart.
    """

    ca_file: str
    cert_file: str
    key_file: str
    crl_dir: str | None = None


@dataclass(frozen=True)
class InboxBounds:
    """How much mail a node's inbox holds while the node is away (docs/broker.md).

    Past `max_messages`/`max_bytes` the broker refuses the hub's forward (reject-publish) and the
    hub parks it in its own database; a message older than `message_ttl_ms` is dead-lettered and
    audited. Both are alarmed, neither is silent.
    """

    max_messages: int = 1_000_000
    max_bytes: int = 8 * 1024**3
    message_ttl_ms: int = 30 * 86_400_000

    def arguments(self) -> dict[str, int]:
        return {"x-max-length": self.max_messages, "x-max-length-bytes": self.max_bytes,
                "x-message-ttl": self.message_ttl_ms}


@dataclass(frozen=True)
class BrokerSpec:
    """Everything one federation needs on the broker; adding a country is one more `nodes` entry."""

    vhost: str
    hub_user: BrokerUser
    nodes: Mapping[str, BrokerUser]  # node id (e.g. "MEX") -> its broker user
    admin_user: BrokerUser | None = None  # the operator's (tag administrator); never a node's
    inbox_bounds: InboxBounds = field(default_factory=InboxBounds)

    def __post_init__(self) -> None:
        if not self.vhost:
            raise ValueError("the vhost name is empty")
        for node_id in self.nodes:
            if not _NODE_ID.fullmatch(node_id):
                raise ValueError(f"node id {node_id!r} must match {_NODE_ID.pattern}")
        for user in self.users():
            if not user.name:
                raise ValueError("a broker user needs a name")
        if self.admin_user is not None and not self.admin_user.password:
            raise ValueError("the broker's admin_user needs a password (the management API has no certificate login)")
        names = [u.name for u in self.users()]
        if len(set(names)) != len(names):
            raise ValueError(f"broker user names must be distinct: {names}")
        for user in (self.hub_user, *self.nodes.values()):
            if set(user.tags) & _PRIVILEGED_TAGS:
                raise ValueError(f"broker user {user.name!r} may not have tags {sorted(user.tags)}: "
                                 "only the operator's admin_user manages the broker")

    def users(self) -> list[BrokerUser]:
        admin = [self.admin_user] if self.admin_user is not None else []
        return [self.hub_user, *self.nodes.values(), *admin]


def password_hash(password: str, salt: bytes | None = None) -> str:
    """rabbit_password_hashing_sha256: base64(salt(4) || SHA-256(salt || password))."""
    salt = os.urandom(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError("the salt is 4 bytes")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def check_password_hash(encoded: str, password: str) -> bool:
    raw = base64.b64decode(encoded)
    return len(raw) == 36 and hmac.compare_digest(password_hash(password, raw[:4]), encoded)


def _exact(*names: str) -> str:
    """A permission regex matching exactly these resource names (Erlang's re is PCRE)."""
    escaped = [re.escape(n) for n in names]
    return f"^{escaped[0]}$" if len(escaped) == 1 else f"^({'|'.join(escaped)})$"


NOTHING = "^$"  # matches no resource name RabbitMQ checks ("" is the default exchange's name only
                # after it is mapped to "amq.default", which "^$" does not match)


def render_definitions(spec: BrokerSpec) -> dict[str, Any]:
    """RabbitMQ definitions JSON (POST /api/definitions, or `rabbitmqctl import_definitions`).

    Passwords appear only as salted hashes. Nobody but `admin_user` gets a tag; nobody gets a
    configure permission (the topology exists before any client connects, so clients declare
    nothing).
    """
    v = spec.vhost
    users = [_user(spec.hub_user, ()), *(_user(u, ()) for _, u in sorted(spec.nodes.items()))]
    if spec.admin_user is not None:
        users.append(_user(spec.admin_user, ("administrator", *spec.admin_user.tags)))

    permissions = [_permission(spec.hub_user.name, v, write=_exact(NODE_OUT_EXCHANGE),
                               read=_exact(HUB_IN_QUEUE, DEAD_LETTER_QUEUE, UNROUTABLE_QUEUE))]
    # Without a topic permission on an exchange every routing key is allowed; the hub may not
    # write hub.in at all, and says so twice.
    topic_permissions = [_topic_permission(spec.hub_user.name, v, write=NOTHING)]
    # Quorum dead-lettering is at-most-once unless at-least-once is asked for (which needs
    # overflow reject-publish): a poison message must reach dead.letters, not vanish.
    dead_letter = {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-delivery-limit": DELIVERY_LIMIT,
                   "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    queues = [
        _queue(v, HUB_IN_QUEUE, {**dead_letter, "x-single-active-consumer": True}),
        _queue(v, DEAD_LETTER_QUEUE, {}),
        _queue(v, UNROUTABLE_QUEUE, {}),
    ]
    bindings = [
        _binding(v, HUB_IN_EXCHANGE, HUB_IN_QUEUE, "#"),
        _binding(v, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, ""),
        _binding(v, UNROUTABLE_EXCHANGE, UNROUTABLE_QUEUE, ""),
    ]
    for node_id, user in sorted(spec.nodes.items()):
        permissions.append(_permission(user.name, v, write=_exact(HUB_IN_EXCHANGE), read=_exact(inbox_queue(node_id))))
        topic_permissions.append(_topic_permission(user.name, v, write=_exact(node_id)))
        queues.append(_queue(v, inbox_queue(node_id), {**dead_letter, **spec.inbox_bounds.arguments()}))
        bindings.append(_binding(v, NODE_OUT_EXCHANGE, inbox_queue(node_id), node_id))

    alternate = {"alternate-exchange": UNROUTABLE_EXCHANGE}
    exchanges = [
        _exchange(v, HUB_IN_EXCHANGE, "topic", alternate),
        _exchange(v, NODE_OUT_EXCHANGE, "direct", alternate),
        _exchange(v, DEAD_LETTER_EXCHANGE, "fanout", {}),
        _exchange(v, UNROUTABLE_EXCHANGE, "fanout", {}),
    ]
    return {"users": users, "vhosts": [{"name": v}], "permissions": permissions,
            "topic_permissions": topic_permissions, "exchanges": exchanges, "queues": queues,
            "bindings": bindings, "policies": [], "parameters": [], "global_parameters": []}


def _user(user: BrokerUser, tags: tuple[str, ...]) -> dict[str, Any]:
    # An empty password_hash: no password opens this account (certificate login only).
    return {"name": user.name, "password_hash": password_hash(user.password) if user.password else "",
            "hashing_algorithm": HASHING_ALGORITHM, "tags": ",".join(dict.fromkeys(tags)), "limits": {}}


def _permission(user: str, vhost: str, *, write: str, read: str) -> dict[str, str]:
    return {"user": user, "vhost": vhost, "configure": NOTHING, "write": write, "read": read}


def _topic_permission(user: str, vhost: str, *, write: str) -> dict[str, str]:
    return {"user": user, "vhost": vhost, "exchange": HUB_IN_EXCHANGE, "write": write, "read": NOTHING}


def _queue(vhost: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
            "arguments": {"x-queue-type": "quorum", **arguments}}


def _exchange(vhost: str, name: str, kind: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False,
            "internal": False, "arguments": arguments}


def _binding(vhost: str, source: str, queue: str, key: str) -> dict[str, Any]:
    return {"source": source, "vhost": vhost, "destination": queue, "destination_type": "queue",
            "routing_key": key, "arguments": {}}


_CONF_VALUE = re.compile(r"[A-Za-z0-9_.@-]+")
_CONF_PATH = re.compile(r"/[A-Za-z0-9_.@/+-]+")


def render_rabbitmq_conf(amqp_port: int, mgmt_port: int, *, admin_user: str | None = None,
                         admin_password: str | None = None, host: str = "127.0.0.1",
                         log_level: str = "info", tls: BrokerTls | None = None,
                         mgmt_host: str = "127.0.0.1") -> str:
    """rabbitmq.conf for a private broker: no `guest`; the management API on `mgmt_host` (loopback).

    Without `tls`, a development broker: plain AMQP on `host`, password logins. With `tls`, the
    deployed form: AMQPS only (the plain listener off) on `host`, every client must present a
    certificate from the federation root (verify_peer, fail_if_no_peer_cert), and the only login
    is EXTERNAL: the broker user is the certificate's CN (the ssl_options are in
    render_advanced_config, which also carries the revocation lists).

    A blank node creates its default user on first boot, `guest` unless told otherwise; here it
    never is. With `admin_user`, the default user is that administrator, with no AMQP permission:
    the operator manages through the HTTP API and never reads anyone's mail. Without it, the
    default user is `somex-unused`: no tag, no permission, a random password nobody keeps
    (create an administrator with `rabbitmqctl add_user` then).
    """
    for port in (amqp_port, mgmt_port):
        if not 0 < port < 65536:
            raise ValueError(f"bad port {port}")
    if tls is None:
        listeners = [f"listeners.tcp.1 = {host}:{amqp_port}", "listeners.ssl = none"]
    else:
        listeners = ["listeners.tcp = none", f"listeners.ssl.default = {host}:{amqp_port}",
                     "auth_mechanisms.1 = EXTERNAL", "ssl_cert_login_from = common_name"]
    lines = [
        "# Rendered by somex (broker_config.render_rabbitmq_conf): a private broker.",
        *listeners,
        f"management.tcp.ip = {mgmt_host}",
        f"management.tcp.port = {mgmt_port}",
        "management.rates_mode = none",
        "collect_statistics_interval = 1000",
        "loopback_users.guest = true",
        "vm_memory_high_watermark.relative = 0.4",
        "disk_free_limit.absolute = 50MB",
        "log.console = false",
        f"log.file.level = {log_level}",
    ]
    if admin_user is None:
        if admin_password is not None:
            raise ValueError("admin_password without admin_user")
        default_user, default_pass, tags = UNUSED_DEFAULT_USER, secrets.token_urlsafe(32), []
    else:
        default_user, default_pass, tags = admin_user, admin_password or "", ["default_user_tags.administrator = true"]
    for value in (default_user, default_pass):
        if not _CONF_VALUE.fullmatch(value):  # rabbitmq.conf has no quoting
            raise ValueError(f"admin name and password must match {_CONF_VALUE.pattern}")
    lines += [
        f"default_user = {default_user}",
        f"default_pass = {default_pass}",
        *tags,
        f"default_permissions.configure = {NOTHING}",
        f"default_permissions.write = {NOTHING}",
        f"default_permissions.read = {NOTHING}",
    ]
    return "\n".join(lines) + "\n"


def render_advanced_config(tls: BrokerTls | None) -> str:
    """advanced.config: the TLS listener's ssl_options (Erlang terms; the CRL cache has no
    rabbitmq.conf form, and ssl_options set in both files would not merge)."""
    if tls is None:
        return "[].\n"
    paths = [tls.ca_file, tls.cert_file, tls.key_file, *([tls.crl_dir] if tls.crl_dir else [])]
    for path in paths:
        if not _CONF_PATH.fullmatch(path):
            raise ValueError(f"TLS file paths must be absolute and match {_CONF_PATH.pattern}: {path!r}")
    options = [f'{{cacertfile, "{tls.ca_file}"}}', f'{{certfile, "{tls.cert_file}"}}',
               f'{{keyfile, "{tls.key_file}"}}', "{verify, verify_peer}", "{fail_if_no_peer_cert, true}",
               "{depth, 2}", "{versions, ['tlsv1.3', 'tlsv1.2']}"]
    if tls.crl_dir:
        options += ["{crl_check, peer}",
                    f'{{crl_cache, {{ssl_crl_hash_dir, {{internal, [{{dir, "{tls.crl_dir}"}}]}}}}}}']
    return "[{rabbit, [{ssl_options, [\n    " + ",\n    ".join(options) + "]}]}].\n"
