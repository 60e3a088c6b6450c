"""The binary frame across a real federation (docs/evidence-files.md, "The binary frame"): a file chunk
whose frame is cut short, has bytes appended, other bytes than it signs, or travels in the base64url
text form, and a frame of a type that does not opt in, are each refused by the hub before it logs or
forwards anything: audited with the reason, the sender told by a `hub.rejection`, MEX never sees it.
The recipient checks the frame again itself (the same decoder), whatever the hub did."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace

import pytest

from crypto.signing import sign_envelope
from protocol import envelope as wire
from protocol import frame
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_evidence_files import carrier_with, received, ref_of, send_chunk

pytestmark = pytest.mark.integration


async def refused_by_the_hub(fed: RunningFederation, message_id: str | None, reason: str) -> None:
    trail = await eventually(lambda: [e for e in fed.audit() if e["message_id"] == message_id
                                      and e["reason"] == reason], what=f"the hub's {reason} entry for {message_id}")
    assert [(e["verdict"], e["sender"]) for e in trail] == [("rejected", "ITA")]
    answer = await eventually(lambda: [m for m in fed.inbox("ITA", type="hub.rejection")
                                       if m.body["reason"] == reason and m.body["of"] == message_id],
                              what=f"ITA told of {reason}")
    assert len(answer) == 1
    if message_id is not None:
        assert fed.nodes["MEX"].store.get(message_id) is None


async def test_bad_frames_are_refused_by_the_hub_audited_and_the_sender_told(fed: RunningFederation) -> None:
    ita = fed.nodes["ITA"]
    data = os.urandom(3000)
    carrier = await carrier_with(fed, "ITA-FRAME-1", ref_of(data))

    def chunk() -> wire.Envelope:
        return ita.build_sealed("file.chunk", ["MEX"], {"data": data}, header={
            "file": carrier.id, "n": 0, "chunk": 0, "chunks": 1, "bytes": len(data)},
            thread=carrier.thread, reply_to=carrier.id)

    cut, longer, flipped = chunk(), chunk(), chunk()
    await fed.publish_raw("ITA", wire.encode(cut)[:-1])
    await fed.publish_raw("ITA", wire.encode(longer) + b"garbage")
    raw = bytearray(wire.encode(flipped))
    raw[-20] ^= 0x40
    await fed.publish_raw("ITA", bytes(raw))
    await refused_by_the_hub(fed, cut.id, "bad_frame")
    await refused_by_the_hub(fed, longer.id, "bad_frame")
    await refused_by_the_hub(fed, flipped.id, "digest_mismatch")

    # the base64url text form, signed by its sender: refused, whatever its signature
    framed = chunk()
    text = base64.urlsafe_b64encode(framed.sealed).decode()
    as_text = sign_envelope(replace(framed, sealed=text, sealed_bytes=None, body_digest=wire.payload_digest(text),
                                    sig=None, _signing_input=[]), fed.federation.credentials("ITA").signing_key)
    await fed.publish_raw("ITA", json.dumps(as_text.to_json()).encode())
    await refused_by_the_hub(fed, as_text.id, "bad_payload")

    # a frame of a type that does not opt in (a note's body as sealed bytes): refused
    note = ita.build("note", ["MEX"], body={"text": "hello"})
    members = {k: v for k, v in note.to_json().items() if k != "body"}
    await fed.publish_raw("ITA", frame.head(json.dumps({**members, "sealed_bytes": 16}).encode()) + b"{\"text\":\"hello\"}")
    await refused_by_the_hub(fed, note.id, "bad_payload")

    assert received(fed.nodes["MEX"], carrier.id)["done"] == 0
    await send_chunk(fed, carrier, 0, data)  # the right frame still completes the file
    await eventually(lambda: received(fed.nodes["MEX"], carrier.id)["state"] == "complete", what="the file at MEX")
    assert received(fed.nodes["MEX"], carrier.id)["done"] == 1
