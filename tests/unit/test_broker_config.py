"""Rendered broker definitions: least privilege, quorum queues, no clear passwords (no broker needed)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from broker_config import (
    BrokerSpec,
    BrokerUser,
    check_password_hash,
    inbox_queue,
    password_hash,
    render_definitions,
    render_rabbitmq_conf,
)

NODES = ("MEX", "IDN", "ITA")
SPEC = BrokerSpec("somex", BrokerUser("hub", "hub-secret-pw"),
                  {n: BrokerUser(f"u-{n}", f"{n.lower()}-secret-pw") for n in NODES},
                  admin_user=BrokerUser("operator", "operator-secret-pw"))


def _matches(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern, name) is not None


def test_no_clear_password_anywhere() -> None:
    assert "secret-pw" not in json.dumps(render_definitions(SPEC))
    assert "secret-pw" not in repr(SPEC)


def test_password_hashes_verify_only_the_right_password() -> None:
    users = {u["name"]: u for u in render_definitions(SPEC)["users"]}
    assert all(u["hashing_algorithm"] == "rabbit_password_hashing_sha256" for u in users.values())
    assert check_password_hash(users["u-MEX"]["password_hash"], "mex-secret-pw")
    assert not check_password_hash(users["u-MEX"]["password_hash"], "idn-secret-pw")
    assert check_password_hash(users["hub"]["password_hash"], "hub-secret-pw")


def test_password_hash_is_rabbitmq_sha256_with_a_fresh_salt() -> None:
    raw = base64.b64decode(password_hash("pw", b"\x01\x02\x03\x04"))
    assert raw == b"\x01\x02\x03\x04" + hashlib.sha256(b"\x01\x02\x03\x04pw").digest()
    assert password_hash("pw") != password_hash("pw")


def test_only_the_operator_is_an_administrator() -> None:
    tags = {u["name"]: u["tags"] for u in render_definitions(SPEC)["users"]}
    assert tags == {"hub": "", "u-MEX": "", "u-IDN": "", "u-ITA": "", "operator": "administrator"}
    with pytest.raises(ValueError, match="may not have tags"):
        BrokerSpec("somex", BrokerUser("hub", "pw", tags=("administrator",)), {})


@pytest.mark.parametrize("node", NODES)
def test_a_node_writes_only_hub_in_as_itself_and_reads_only_its_inbox(node: str) -> None:
    definitions = render_definitions(SPEC)
    [perm] = [p for p in definitions["permissions"] if p["user"] == f"u-{node}"]
    [topic] = [p for p in definitions["topic_permissions"] if p["user"] == f"u-{node}"]
    assert perm == {"user": f"u-{node}", "vhost": "somex", "configure": "^$",
                    "write": r"^hub\.in$", "read": rf"^node\.{node}\.inbox$"}
    assert topic == {"user": f"u-{node}", "vhost": "somex", "exchange": "hub.in", "write": f"^{node}$", "read": "^$"}
    for other in NODES:
        assert _matches(perm["read"], inbox_queue(other)) == (other == node)
        assert _matches(topic["write"], other) == (other == node)
    for exchange in ("node.out", "dead.letter", "unroutable", "amq.default", "hubXin"):
        assert not _matches(perm["write"], exchange)
    assert not _matches(topic["write"], f"{node}.x")


def test_the_hub_writes_only_node_out_and_reads_only_its_queues() -> None:
    definitions = render_definitions(SPEC)
    [perm] = [p for p in definitions["permissions"] if p["user"] == "hub"]
    assert perm["configure"] == "^$"
    assert [x for x in ("node.out", "hub.in", "amq.default", "unroutable") if _matches(perm["write"], x)] == ["node.out"]
    readable = ["hub.in", "dead.letters", "unroutable", *map(inbox_queue, NODES)]
    assert [q for q in readable if _matches(perm["read"], q)] == ["hub.in", "dead.letters", "unroutable"]
    # The operator has no AMQP permission at all: it manages through the HTTP API.
    assert {p["user"] for p in definitions["permissions"]} == {"hub", *(f"u-{n}" for n in NODES)}


def test_every_queue_is_a_durable_quorum_queue_and_dead_letters_or_is_a_sink() -> None:
    queues = {q["name"]: q for q in render_definitions(SPEC)["queues"]}
    assert set(queues) == {"hub.in", "dead.letters", "unroutable", *map(inbox_queue, NODES)}
    for name, queue in queues.items():
        assert queue["durable"] and not queue["auto_delete"]
        assert queue["arguments"]["x-queue-type"] == "quorum"
        if name not in ("dead.letters", "unroutable"):
            assert queue["arguments"]["x-dead-letter-exchange"] == "dead.letter"
            assert queue["arguments"]["x-delivery-limit"] == 5
            assert queue["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert queues["hub.in"]["arguments"]["x-single-active-consumer"] is True


def test_exchanges_and_bindings() -> None:
    definitions = render_definitions(SPEC)
    exchanges = {e["name"]: (e["type"], e["arguments"]) for e in definitions["exchanges"]}
    assert exchanges == {
        "hub.in": ("topic", {"alternate-exchange": "unroutable"}),
        "node.out": ("direct", {"alternate-exchange": "unroutable"}),
        "dead.letter": ("fanout", {}),
        "unroutable": ("fanout", {}),
    }
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    assert bindings == {("hub.in", "hub.in", "#"), ("dead.letter", "dead.letters", ""),
                        ("unroutable", "unroutable", ""), *(("node.out", inbox_queue(n), n) for n in NODES)}


def test_adding_a_country_is_one_more_entry() -> None:
    bigger = BrokerSpec(SPEC.vhost, SPEC.hub_user, {**SPEC.nodes, "FRA": BrokerUser("u-FRA", "fra-pw")})
    assert "node.FRA.inbox" in {q["name"] for q in render_definitions(bigger)["queues"]}


@pytest.mark.parametrize("node_id", ["", "MEX.IDN", "M*X", "#", "MEX$"])
def test_a_node_id_that_would_be_a_pattern_is_refused(node_id: str) -> None:
    with pytest.raises(ValueError, match="node id"):
        BrokerSpec("somex", BrokerUser("hub", "pw"), {node_id: BrokerUser("x", "pw")})


def test_rabbitmq_conf_listens_on_loopback_only_and_has_no_guest() -> None:
    conf = render_rabbitmq_conf(5673, 15673, admin_user="somex-admin", admin_password="s3cret")
    settings = dict(line.split(" = ", 1) for line in conf.splitlines() if line and not line.startswith("#"))
    assert settings["listeners.tcp.1"] == "127.0.0.1:5673"
    assert settings["management.tcp.ip"] == "127.0.0.1" and settings["management.tcp.port"] == "15673"
    assert settings["listeners.ssl"] == "none"
    assert settings["default_user"] == "somex-admin"  # so guest is never created
    assert settings["loopback_users.guest"] == "true"
    assert {settings[f"default_permissions.{k}"] for k in ("configure", "write", "read")} == {"^$"}
    with pytest.raises(ValueError):
        render_rabbitmq_conf(5673, 15673, admin_user="admin", admin_password="a b\nloopback_users = none")


def test_rabbitmq_conf_without_an_administrator_still_creates_no_guest() -> None:
    conf = render_rabbitmq_conf(5673, 15673)
    settings = dict(line.split(" = ", 1) for line in conf.splitlines() if line and not line.startswith("#"))
    assert settings["default_user"] == "somex-unused"
    assert len(settings["default_pass"]) >= 32 and settings["default_pass"] != "guest"
    assert "default_user_tags.administrator" not in settings
    assert {settings[f"default_permissions.{k}"] for k in ("configure", "write", "read")} == {"^$"}
    assert all(not value.startswith(("0.0.0.0", "::")) for value in settings.values())
