"""Rendered broker definitions: least privilege, quorum queues, no clear passwords."""

from __future__ import annotations

import json
import re

from broker_config import BrokerSpec, BrokerUser, check_password_hash, render_definitions

SPEC = BrokerSpec("somex", BrokerUser("hub", "hub-secret-pw"),
                  {"MEX": BrokerUser("MEX", "mex-secret-pw"), "IDN": BrokerUser("IDN", "idn-secret-pw")})


def test_no_clear_password_and_hashes_verify() -> None:
    definitions = render_definitions(SPEC)
    text = json.dumps(definitions)
    assert "secret-pw" not in text
    users = {u["name"]: u for u in definitions["users"]}
    assert check_password_hash(users["MEX"]["password_hash"], "mex-secret-pw")
    assert not check_password_hash(users["MEX"]["password_hash"], "idn-secret-pw")
    assert all(u["tags"] == "" for u in users.values())  # no node or hub user is an administrator
    assert "secret-pw" not in repr(SPEC)


def test_each_node_may_write_hub_in_as_itself_and_read_its_inbox() -> None:
    definitions = render_definitions(SPEC)
    perms = {p["user"]: p for p in definitions["permissions"]}
    topics = {p["user"]: p for p in definitions["topic_permissions"]}
    for node in ("MEX", "IDN"):
        assert perms[node]["configure"] == "^$"
        assert re.fullmatch(perms[node]["write"], "hub.in") and not re.fullmatch(perms[node]["write"], "node.out")
        assert re.fullmatch(perms[node]["read"], f"node.{node}.inbox")
        other = "IDN" if node == "MEX" else "MEX"
        assert not re.fullmatch(perms[node]["read"], f"node.{other}.inbox")
        assert re.fullmatch(topics[node]["write"], node) and not re.fullmatch(topics[node]["write"], other)
    assert re.fullmatch(perms["hub"]["write"], "node.out") and not re.fullmatch(perms["hub"]["write"], "hub.in")


def test_every_queue_is_quorum_and_dead_letters_or_is_a_sink() -> None:
    queues = {q["name"]: q["arguments"] for q in render_definitions(SPEC)["queues"]}
    assert set(queues) == {"hub.in", "dead.letters", "unroutable", "node.MEX.inbox", "node.IDN.inbox"}
    for name, arguments in queues.items():
        assert arguments["x-queue-type"] == "quorum"
        if name not in ("dead.letters", "unroutable"):
            assert arguments["x-dead-letter-exchange"] == "dead.letter" and arguments["x-delivery-limit"] == 5
    assert queues["hub.in"]["x-single-active-consumer"] is True
