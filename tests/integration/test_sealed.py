"""Sealed payloads cross the federation: only the named recipients (and the sender) read them."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

import pytest

from crypto.sealing import SealError, seal
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration

SECRET = "witness statement: boat left Kupang 03:10 with 41 on board"
REQUEST = {"reference": "ITA-1", "requesting": "ITA", "requested": "MEX", "kind": "mutual_legal_assistance",
           "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["witness_hearing"],
           "urgency": "routine", "summary": SECRET}
HEADER = {"reference": "ITA-1", "kind": "mutual_legal_assistance", "status": "submitted", "urgency": "routine",
          "deadline": None}
THREAD = "mla:ITA:ITA-1"


async def test_sealed_request_opens_at_the_recipient_and_is_never_in_clear_at_the_hub(fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    env = ita.build_sealed("mla.request", ["MEX"], REQUEST, header=HEADER, thread=THREAD)
    await ita.submit([env])

    got = await eventually(lambda: mex.store.get(env.id), what="the request at MEX")
    assert got.body is None  # stored sealed at rest
    stored = wire.decode(mex.store.raw(env.id))
    assert mex._open_body(stored) == REQUEST
    assert ita._open_body(env) == REQUEST  # the sender's own copy
    with pytest.raises(SealError) as info:
        fed.nodes["IDN"]._open_body(stored)
    assert info.value.reason == "not_sealed_for_us"

    hub_db = (fed.path / "audit.db").read_bytes()
    assert SECRET.encode() not in hub_db and b"Kupang" not in hub_db
    assert [e["verdict"] for e in fed.audit(message_id=env.id)] == ["accepted"]


async def test_body_sealed_to_another_node_is_refused_by_the_recipient_with_its_reason(fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    idn_key = X25519PublicKey.from_public_bytes(fed.federation.directory.node("IDN").sealing_key)
    message_id = ita.build_sealed("mla.request", ["MEX"], REQUEST, header=HEADER, thread=THREAD).id
    wrong = seal(wire.encode_payload(REQUEST).encode(), {"IDN": idn_key},
                 wire.seal_context("mla.request", message_id, "ITA"))
    env = ita.build("mla.request", ["MEX"], sealed=wrong, message_id=message_id, header=HEADER, thread=THREAD)
    await ita.submit([env])

    refusal = await eventually(lambda: [r for r in mex.store.refusals() if r["message_id"] == env.id],
                               what="MEX's refusal")
    assert refusal[0]["reason"] == "not_sealed_for_us"
    assert mex.store.get(env.id) is None
