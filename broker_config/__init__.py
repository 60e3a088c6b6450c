"""RabbitMQ topology and least-privilege permissions, rendered for a federation (pure).

One vhost. Nodes publish to the topic exchange `hub.in` with their own id as routing key (topic
permission); the hub consumes queue `hub.in` and publishes to the direct exchange `node.out`,
which routes to `node.<ID>.inbox`. Dead letters and unroutable messages land in queues the hub
watches and audits. See broker_config/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HUB_IN_EXCHANGE = "hub.in"
HUB_IN_QUEUE = "hub.in"
NODE_OUT_EXCHANGE = "node.out"
DEAD_LETTER_EXCHANGE = "dead.letter"
DEAD_LETTER_QUEUE = "dead.letters"
UNROUTABLE_EXCHANGE = "unroutable"
UNROUTABLE_QUEUE = "unroutable"
DELIVERY_LIMIT = 5


def inbox_queue(node_id: str) -> str:
    return f"node.{node_id}.inbox"


@dataclass(frozen=True)
class BrokerUser:
    name: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BrokerSpec:
    vhost: str
    hub_user: BrokerUser
    nodes: Mapping[str, BrokerUser]  # node id ("MEX") -> its broker user

    def users(self) -> list[BrokerUser]:
        return [self.hub_user, *self.nodes.values()]


def password_hash(password: str, salt: bytes | None = None) -> str:
    """rabbit_password_hashing_sha256: base64(salt(4) || SHA-256(salt || password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def check_password_hash(encoded: str, password: str) -> bool:
    raw = base64.b64decode(encoded)
    return password_hash(password, raw[:4]) == encoded


def _exact(name: str) -> str:
    return f"^{re.escape(name)}$"


def _quorum(**extra: Any) -> dict[str, Any]:
    return {"x-queue-type": "quorum", **extra}


def render_definitions(spec: BrokerSpec) -> dict[str, Any]:
    """RabbitMQ definitions (importable with POST /api/definitions or `rabbitmqctl import_definitions`)."""
    v = spec.vhost
    dead = {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-delivery-limit": DELIVERY_LIMIT}
    users = [{"name": u.name, "password_hash": password_hash(u.password),
              "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""} for u in spec.users()]
    permissions = [{"user": spec.hub_user.name, "vhost": v, "configure": "^$",
                    "write": _exact(NODE_OUT_EXCHANGE),
                    "read": f"^({re.escape(HUB_IN_QUEUE)}|{re.escape(DEAD_LETTER_QUEUE)}|{re.escape(UNROUTABLE_QUEUE)})$"}]
    topic_permissions = [{"user": spec.hub_user.name, "vhost": v, "exchange": HUB_IN_EXCHANGE,
                          "write": "^$", "read": "^$"}]
    queues = [
        {"name": HUB_IN_QUEUE, "vhost": v, "durable": True, "auto_delete": False,
         "arguments": _quorum(**dead, **{"x-single-active-consumer": True})},
        {"name": DEAD_LETTER_QUEUE, "vhost": v, "durable": True, "auto_delete": False, "arguments": _quorum()},
        {"name": UNROUTABLE_QUEUE, "vhost": v, "durable": True, "auto_delete": False, "arguments": _quorum()},
    ]
    bindings = [
        _binding(v, HUB_IN_EXCHANGE, HUB_IN_QUEUE, "#"),
        _binding(v, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, ""),
        _binding(v, UNROUTABLE_EXCHANGE, UNROUTABLE_QUEUE, ""),
    ]
    for node_id, user in sorted(spec.nodes.items()):
        permissions.append({"user": user.name, "vhost": v, "configure": "^$",
                            "write": _exact(HUB_IN_EXCHANGE), "read": _exact(inbox_queue(node_id))})
        topic_permissions.append({"user": user.name, "vhost": v, "exchange": HUB_IN_EXCHANGE,
                                  "write": _exact(node_id), "read": "^$"})
        queues.append({"name": inbox_queue(node_id), "vhost": v, "durable": True, "auto_delete": False,
                       "arguments": _quorum(**dead)})
        bindings.append(_binding(v, NODE_OUT_EXCHANGE, inbox_queue(node_id), node_id))
    alternate = {"alternate-exchange": UNROUTABLE_EXCHANGE}
    exchanges = [
        _exchange(v, HUB_IN_EXCHANGE, "topic", alternate),
        _exchange(v, NODE_OUT_EXCHANGE, "direct", alternate),
        _exchange(v, DEAD_LETTER_EXCHANGE, "fanout", {}),
        _exchange(v, UNROUTABLE_EXCHANGE, "fanout", {}),
    ]
    return {"users": users, "vhosts": [{"name": v}], "permissions": permissions,
            "topic_permissions": topic_permissions, "queues": queues, "exchanges": exchanges,
            "bindings": bindings, "policies": [], "parameters": [], "global_parameters": []}


def _exchange(vhost: str, name: str, kind: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False,
            "internal": False, "arguments": arguments}


def _binding(vhost: str, source: str, queue: str, key: str) -> dict[str, Any]:
    return {"source": source, "vhost": vhost, "destination": queue, "destination_type": "queue",
            "routing_key": key, "arguments": {}}


def render_rabbitmq_conf(amqp_port: int, mgmt_port: int) -> str:
    return "\n".join([
        "# Rendered by somex: a private broker on loopback only.",
        f"listeners.tcp.1 = 127.0.0.1:{amqp_port}",
        "management.tcp.ip = 127.0.0.1",
        f"management.tcp.port = {mgmt_port}",
        "loopback_users.guest = true",
        "disk_free_limit.absolute = 50MB",
        "vm_memory_high_watermark.relative = 0.2",
        "log.console = false",
        "log.file.level = warning",
        "",
    ])
