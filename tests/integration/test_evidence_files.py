"""Large evidence files across a real federation (docs/evidence-files.md): streamed to disk, sent in
sealed 4 MiB chunks each audited at the hub, reassembled and verified at the receiver, resumed
after a restart without resending what arrived, and every bad chunk refused with its reason."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import stat
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from nodes.national import reads
from nodes.national.features.files import transfers
from nodes.national.features.files.transfers import chunks_in, chunks_out
from nodes.national.node import NationalNode
from nodes.national.store import deliveries, messages, outbox, outbox_raw, receipts
from nodes.plumbing.config import new_message_id
from crypto.signing import sign_envelope, verify_envelope
from protocol import envelope as wire
from protocol import files as protocol_files
from protocol import mla
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_mla import focal

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def fields(reference: str) -> dict:
    return {"requested": "MEX", "reference": reference, "kind": "mutual_legal_assistance",
            "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"],
            "measures": ["evidence_taking"], "urgency": "routine", "summary": "Seized phone images",
            "language": "en", "measure_details": {"evidence_taking": {"evidence": "the phone's forensic image"}}}


def random_file(path: str, size: int) -> str:
    """A file of `size` random bytes written in pieces; its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            piece = os.urandom(min(left, 4 * MiB))
            f.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


async def send_request_with_file(ita: NationalNode, path: str, reference: str,
                                 media_type: str = "application/octet-stream") -> dict:
    async with focal(ita) as api:
        form = aiohttp.FormData()
        form.add_field("request", json.dumps(fields(reference)), content_type="application/json")
        with open(path, "rb") as f:
            form.add_field("file", f, filename="phone-image.bin", content_type=media_type)
            async with api.post("/api/mla/requests", data=form) as r:
                assert r.status == 202, await r.text()
                return await r.json()


def received(node: NationalNode, carrier: str) -> dict | None:
    return next((f for f in node.files.list() if f["direction"] == "in" and f["carrier"] == carrier), None)


def sent(node: NationalNode, carrier: str) -> dict | None:
    return next((f for f in node.files.list() if f["direction"] == "out" and f["carrier"] == carrier), None)


async def download_sha256(node: NationalNode, carrier: str) -> tuple[int, str, str]:
    digest = hashlib.sha256()
    async with focal(node) as api, api.get(f"/api/files/{carrier}/0") as r:
        if r.status != 200:
            return r.status, (await r.json())["error"], ""
        # whatever type the sending State declared: the bytes are its, never rendered by a browser
        assert r.headers["Content-Type"] == "application/octet-stream"
        async for piece in r.content.iter_chunked(MiB):
            digest.update(piece)
        return r.status, r.headers["X-Content-SHA256"], digest.hexdigest()


async def check_file_travels(fed: RunningFederation, tmp_path: Any, size: int, timeout: float) -> dict:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    path = str(tmp_path / "evidence.bin")
    sha256 = random_file(path, size)
    started = time.monotonic()
    created = await send_request_with_file(ita, path, f"ITA-FILE-{size}", media_type="text/html")
    done = await eventually(lambda: (f := received(mex, created["id"])) and f["state"] == "complete" and f,
                            timeout=timeout, what="the file complete and verified at MEX")
    elapsed = time.monotonic() - started
    chunks = protocol_files.chunk_count(size)
    assert done["sha256"] == sha256 and done["size"] == size and done["chunks"] == chunks
    status, header, got = await download_sha256(mex, created["id"])
    assert (status, header, got) == (200, sha256, sha256)
    # the sender learns it: every chunk receipted
    await eventually(lambda: (sent(ita, created["id"]) or {}).get("state") == "complete", what="ITA sees it complete")
    # each chunk is its own audited message on the thread, in reply to the request
    trail = [e for e in fed.audit(thread=created["thread"]) if e["type"] == "file.chunk"]
    assert sorted(e["header"]["chunk"] for e in trail) == list(range(chunks))
    # the sealed chunks are not kept twice: the file on disk has the bytes; the sender's database never
    # held a chunk's signed bytes (files/sealed/ did, until each chunk's receipt)
    for node in (ita, mex):
        with node.store.engine.connect() as conn:
            kept = conn.execute(select(func.sum(func.length(messages.c.raw)))
                                .where(messages.c.type == "file.chunk")).scalar_one()
        assert kept == 0
    with ita.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_raw)).scalar_one() == 0
        assert conn.execute(select(func.max(func.length(outbox.c.raw)))).scalar_one() == 0
    await eventually(lambda: not list(ita.files.sealed_dir.iterdir()), what="ITA's sealed chunks deleted")
    # the request's timeline is not flooded with the chunks' receipts; a chunk's body is not kept to open
    chunk_ids = {e["message_id"] for e in trail}
    async with focal(mex) as api:
        async with api.get(f"/api/mla/requests/{created['id']}") as r:
            timeline = (await r.json())["timeline"]
    with pytest.raises(LookupError, match="sealed copy is not kept"):
        reads.open_message(mex, trail[0]["message_id"], "focal")
    assert timeline and not [t for t in timeline if t.get("of") in chunk_ids or t["message_id"] in chunk_ids]
    files_dir = mex.files.in_dir
    assert stat.S_IMODE(os.stat(files_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(files_dir.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(files_dir / f"{created['id']}.0").st_mode) == 0o600
    assert not list(ita.files.out_dir.iterdir()), "the sender's spooled copy is deleted once delivered"
    return {"elapsed": elapsed, **created}


async def test_a_20_mib_file_travels_in_audited_chunks_and_downloads_intact(fed: RunningFederation,
                                                                             tmp_path: Any) -> None:
    await check_file_travels(fed, tmp_path, 20 * MiB + 12345, timeout=60)


@pytest.mark.slow
async def test_a_100_mib_file_travels_in_audited_chunks_and_downloads_intact(fed: RunningFederation,
                                                                              tmp_path: Any) -> None:
    await check_file_travels(fed, tmp_path, 100 * MiB, timeout=180)


async def test_receiver_restarted_in_the_middle_resumes_without_resending_what_arrived(
        fed: RunningFederation, tmp_path: Any) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    path = str(tmp_path / "evidence.bin")
    size = 40 * MiB
    sha256 = random_file(path, size)
    created = await send_request_with_file(ita, path, "ITA-RESTART")

    def arrived(node: NationalNode) -> int:
        with node.store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(chunks_in)
                                .where(chunks_in.c.carrier == created["id"])).scalar_one()

    await eventually(lambda: arrived(mex) >= 2, timeout=60, what="some chunks at MEX")
    await mex.stop()
    before = arrived(mex)
    assert before < 10, "the file arrived whole before the restart: nothing was tested"
    mex = await fed.start_node("MEX")
    await eventually(lambda: (f := received(mex, created["id"])) and f["state"] == "complete", timeout=90,
                     what="the file complete at MEX after its restart")
    assert (await download_sha256(mex, created["id"]))[2] == sha256
    with ita.store.engine.connect() as conn:
        sealed = conn.execute(select(chunks_out.c.chunk).where(chunks_out.c.carrier == created["id"])).scalars().all()
        resends = conn.execute(select(func.sum(deliveries.c.resends))
                               .where(deliveries.c.type == "file.chunk")).scalar_one()
    assert sorted(sealed) == list(range(10)), "each chunk sealed and queued once"
    assert resends == 0, "no chunk was sent again"


async def test_sender_restarted_in_the_middle_resumes_at_its_next_chunk_and_seals_none_twice(
        fed: RunningFederation, tmp_path: Any) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    path = str(tmp_path / "evidence.bin")
    size = 40 * MiB
    sha256 = random_file(path, size)
    created = await send_request_with_file(ita, path, "ITA-SENDER-RESTART")

    def arrived() -> list[tuple[int, str]]:
        with mex.store.engine.connect() as conn:
            return conn.execute(select(chunks_in.c.chunk, chunks_in.c.message_id)
                                .where(chunks_in.c.carrier == created["id"])).all()

    def sealed(node: NationalNode) -> list[tuple[int, str, str]]:
        with node.store.engine.connect() as conn:
            return conn.execute(select(chunks_out.c.chunk, chunks_out.c.message_id, chunks_out.c.state)
                                .where(chunks_out.c.carrier == created["id"])).all()

    await eventually(lambda: [c for c in sealed(ita) if c.state == "delivered"], timeout=60,
                     what="a chunk receipted to ITA")
    await ita.stop()
    before = sealed(ita)
    receipted_before = {chunk: mid for chunk, mid, state in before if state == "delivered"}
    assert len(before) < 10, "every chunk was sealed before the restart: nothing was tested"
    assert receipted_before, "no chunk was receipted before the restart: nothing was tested"
    # what survives the restart of each chunk queued and not receipted: its signed bytes, on disk
    kept_sealed = {p.name: wire.decode(p.read_bytes()).digest() for p in ita.files.sealed_dir.iterdir()}
    assert set(kept_sealed) >= {mid for _, mid, state in before if state == "sent"}

    ita = await fed.start_node("ITA")
    await eventually(lambda: (f := received(mex, created["id"])) and f["state"] == "complete", timeout=90,
                     what="the file complete at MEX after the sender's restart")
    assert (await download_sha256(mex, created["id"]))[2] == sha256
    await eventually(lambda: (sent(ita, created["id"]) or {}).get("state") == "complete",
                     what="ITA, restarted, sees it complete")
    after = sealed(ita)
    assert sorted(chunk for chunk, _, _ in after) == list(range(10)), "each chunk sealed and queued once"
    assert {chunk: mid for chunk, mid, _ in after if chunk in receipted_before} == receipted_before, \
        "a chunk receipted before the restart was not sealed again"
    assert sorted(arrived()) == sorted((chunk, mid) for chunk, mid, _ in after), "MEX took each chunk as sealed"
    with mex.store.engine.connect() as conn:
        took = dict(conn.execute(select(messages.c.message_id, messages.c.digest)
                                 .where(messages.c.message_id.in_(list(kept_sealed)))).all())
    assert {mid: d for mid, d in kept_sealed.items() if mid in took} == took, \
        "a chunk queued before the restart went out after it as the same signed envelope"
    with ita.store.engine.connect() as conn:
        resends = conn.execute(select(func.sum(deliveries.c.resends))
                               .where(deliveries.c.type == "file.chunk")).scalar_one()
    assert resends == 0, "no chunk was sent again"
    assert not [r for r in mex.store.refusals() if r["reason"] in ("duplicate_chunk", "file_closed")]
    assert not list(ita.files.out_dir.iterdir()), "the spooled copy is deleted once every chunk is delivered"


async def test_a_sealed_chunk_no_committed_row_names_is_kept_until_it_is_old(fed: RunningFederation) -> None:
    """A round writes a chunk's sealed copy before the transaction that queues its row commits; a
    round of a node stopped in the same process can still be at that point while the restarted node
    runs its first round, which deleted the copy: the row then committed with no bytes to send (the
    relay: "outbox row whose signed bytes nobody keeps"; the file never completed). A copy no row
    names is deleted only once older than ORPHANED_AFTER (a crash's leftover)."""
    ita = fed.nodes["ITA"]
    young, old = ita.files.sealed_dir / new_message_id(), ita.files.sealed_dir / new_message_id()
    for path in (young, old):
        path.write_bytes(b"a chunk whose row is not committed (yet)")
    aged = time.time() - transfers.ORPHANED_AFTER - 5
    os.utime(old, (aged, aged))
    await asyncio.to_thread(ita.files.step)
    assert young.exists(), "a copy whose row may still commit was deleted"
    assert not old.exists(), "a crash's leftover copy was kept"
    young.unlink()


async def test_the_sender_seals_ahead_at_most_two_chunks_the_broker_has_not_confirmed(
        fed: RunningFederation, tmp_path: Any) -> None:
    """Each chunk the relay has not yet published is 5.4 MiB it holds in memory: a slow broker makes
    the pump wait at UNPUBLISHED (2), not at the window of unreceipted chunks (8)."""
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    path = str(tmp_path / "evidence.bin")
    sha256 = random_file(path, 24 * MiB)
    relay_reads = ita._pending
    ita._pending = lambda limit, exclude: [r for r in ita.store.pending(limit, exclude) if r[2]]  # no chunk goes
    try:
        created = await send_request_with_file(ita, path, "ITA-PACED")

        def queued() -> int:
            with ita.store.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(chunks_out)
                                    .where(chunks_out.c.carrier == created["id"])).scalar_one()

        await eventually(lambda: queued() >= transfers.UNPUBLISHED, what="chunks queued, none published")
        assert await asyncio.to_thread(ita.files.step) is False
        assert queued() == transfers.UNPUBLISHED < transfers.WINDOW
    finally:
        ita._pending = relay_reads
    ita.wake_soon()
    await eventually(lambda: (f := received(mex, created["id"])) and f["state"] == "complete", timeout=60,
                     what="the file complete at MEX once the chunks go out")
    assert (await download_sha256(mex, created["id"]))[2] == sha256


# -- bad input: what a faulty or hostile sender node could send ---------------------------------------------

def ref_of(data: bytes, name: str = "forged.bin", sha256: str | None = None) -> dict:
    chunks = [data[i:i + protocol_files.CHUNK_BYTES] for i in range(0, len(data), protocol_files.CHUNK_BYTES)]
    return {"name": name, "media_type": "application/octet-stream", "size": len(data),
            "sha256": sha256 or hashlib.sha256(data).hexdigest(), "chunk_bytes": protocol_files.CHUNK_BYTES,
            "chunks": [hashlib.sha256(c).hexdigest() for c in chunks]}


async def carrier_with(fed: RunningFederation, reference: str, ref: dict) -> Any:
    """A request listing one large file, sent by ITA without any of the file's chunks."""
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    body = {**fields(reference), "requesting": "ITA", "files": [ref]}
    header = {"reference": reference, "kind": body["kind"], "status": "submitted", "urgency": "routine",
              "deadline": None}
    env = ita.build_sealed("mla.request", ["MEX"], body, header=header, thread=mla.thread_of("ITA", reference))
    await ita.submit([env])
    await eventually(lambda: received(mex, env.id), what="the file expected at MEX")
    return env


async def send_chunk(fed: RunningFederation, carrier: Any, index: int, data: bytes, *, thread: str | None = None,
                     file: str | None = None, chunks: int = 1) -> str:
    ita = fed.nodes["ITA"]
    file = file or carrier.id
    env = ita.build_sealed("file.chunk", ["MEX"], {"data": data}, header={"file": file, "n": 0, "chunk": index,
                                                                          "chunks": chunks, "bytes": len(data)},
                           thread=thread or carrier.thread, reply_to=carrier.id)
    await ita.submit([env])
    return env.id


def kept_copy(node: NationalNode, message_id: str) -> int:
    """How many signed bytes the node's message store keeps of a stored message (its row must exist,
    with the envelope's digest)."""
    with node.store.engine.connect() as conn:
        row = conn.execute(select(messages.c.digest, func.length(messages.c.raw))
                           .where(messages.c.message_id == message_id)).one()
    assert len(row[0]) == 64
    return row[1]


def receipt_kind(node: NationalNode, message_id: str) -> tuple[str, str | None] | None:
    with node.store.engine.connect() as conn:
        row = conn.execute(select(receipts.c.kind, receipts.c.reason).where(receipts.c.of == message_id)).first()
    return None if row is None else (row.kind, row.reason)


async def refused_with(fed: RunningFederation, message_id: str) -> str:
    refusal = await eventually(lambda: next((r for r in fed.nodes["MEX"].store.refusals()
                                             if r["message_id"] == message_id), None),
                               what=f"MEX's refusal of {message_id}")
    return refusal["reason"]


async def test_bad_chunks_are_refused_with_their_reason_and_no_partial_file_is_ever_shown(
        fed: RunningFederation) -> None:
    mex = fed.nodes["MEX"]
    data = os.urandom(2 * protocol_files.CHUNK_BYTES)
    good = await carrier_with(fed, "ITA-BAD-1", ref_of(data))

    # a chunk for a file nobody announced
    unknown = await send_chunk(fed, good, 0, data[:protocol_files.CHUNK_BYTES], file=new_message_id(), chunks=2)
    assert await refused_with(fed, unknown) == "unknown_file"
    # a chunk of this file sent on another thread
    elsewhere = await send_chunk(fed, good, 0, data[:protocol_files.CHUNK_BYTES], thread="mla:ITA:OTHER", chunks=2)
    assert await refused_with(fed, elsewhere) == "chunk_wrong_thread"
    assert received(mex, good.id)["state"] == "receiving"
    # a chunk whose bytes are not those the sealed request lists: the whole file is refused
    tampered = bytearray(data[:protocol_files.CHUNK_BYTES])
    tampered[100] ^= 1
    wrong = await send_chunk(fed, good, 0, bytes(tampered), chunks=2)
    assert await refused_with(fed, wrong) == "chunk_digest_mismatch"
    # refused chunks are not kept either (Feature.stored_without_copy): metadata and digest only, and
    # the sender has its `refused` receipt with the reason
    for refused_chunk in (unknown, elsewhere, wrong):
        assert kept_copy(mex, refused_chunk) == 0
    assert await eventually(lambda: receipt_kind(fed.nodes["ITA"], wrong), what="ITA's receipt of the refusal") \
        == ("refused", "chunk_digest_mismatch")
    assert received(mex, good.id)["state"] == "failed" and received(mex, good.id)["reason"] == "chunk_digest_mismatch"
    assert not mex.files.part_path(good.id, 0).exists()
    assert (await download_sha256(mex, good.id))[:2] == (409, "chunk_digest_mismatch")
    # the right chunk afterwards is too late: the file is closed
    late = await send_chunk(fed, good, 1, data[protocol_files.CHUNK_BYTES:], chunks=2)
    assert await refused_with(fed, late) == "file_closed"

    # every chunk as listed, but the file's own SHA-256 is another: refused on the last chunk
    lying = await carrier_with(fed, "ITA-BAD-2", ref_of(data, sha256="0" * 64))
    first = await send_chunk(fed, lying, 0, data[:protocol_files.CHUNK_BYTES], chunks=2)
    last = await send_chunk(fed, lying, 1, data[protocol_files.CHUNK_BYTES:], chunks=2)
    assert await refused_with(fed, last) == "file_digest_mismatch"
    assert not [r for r in mex.store.refusals() if r["message_id"] == first]
    assert received(mex, lying.id)["reason"] == "file_digest_mismatch"
    assert not mex.files.final_path(lying.id, 0).exists() and not mex.files.part_path(lying.id, 0).exists()
    assert (await download_sha256(mex, lying.id))[:2] == (409, "file_digest_mismatch")

    # one chunk never comes: past the timeout the file is failed, its part deleted
    missing = await carrier_with(fed, "ITA-BAD-3", ref_of(data))
    await send_chunk(fed, missing, 0, data[:protocol_files.CHUNK_BYTES], chunks=2)
    await eventually(lambda: received(mex, missing.id)["done"] == 1, what="the first chunk at MEX")
    assert (await download_sha256(mex, missing.id))[:2] == (409, "file_incomplete")
    assert mex.files.part_path(missing.id, 0).exists()
    mex.files.ctx.settings["file_timeout"] = timedelta(0)
    assert mex.files.sweep() == 1
    assert received(mex, missing.id)["state"] == "failed" and received(mex, missing.id)["reason"] == "file_incomplete"
    assert not mex.files.part_path(missing.id, 0).exists()
    assert (await download_sha256(mex, missing.id))[:2] == (409, "file_incomplete")


async def test_a_chunk_delivered_twice_is_taken_once_receipted_twice_and_kept_without_its_bytes(
        fed: RunningFederation) -> None:
    """The inbox's storing step (what the broker consumer calls with a checked batch) given the same
    chunk again, as after a redelivery: deduplicated by id, receipted again, its bytes never in the
    message store, while a type that keeps its copy (the carrier) still does."""
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    data = os.urandom(1000)
    carrier = await carrier_with(fed, "ITA-TWICE-1", ref_of(data))
    assert kept_copy(mex, carrier.id) > 0, "a carrier keeps its signed bytes"
    body = {"data": data}
    env = ita.build_sealed("file.chunk", ["MEX"], body, header={"file": carrier.id, "n": 0, "chunk": 0, "chunks": 1,
                                                                "bytes": len(data)},
                           thread=carrier.thread, reply_to=carrier.id)
    raw = wire.encode(env)
    verified = verify_envelope(wire.decode(raw), mex.federation.trust, datetime.now(UTC))
    for _ in range(2):
        await asyncio.to_thread(mex._apply, [(verified, None, body, raw)], [])
    assert received(mex, carrier.id)["state"] == "complete"
    assert (await download_sha256(mex, carrier.id))[2] == hashlib.sha256(data).hexdigest()
    assert kept_copy(mex, env.id) == 0
    with mex.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(chunks_in)
                            .where(chunks_in.c.message_id == env.id)).scalar_one() == 1
        answers = [wire.decode(r.raw) for r in conn.execute(select(messages.c.raw).where(
            (messages.c.direction == "out") & (messages.c.type == "receipt") & (messages.c.reply_to == env.id)))]
    assert [json.loads(a.body)["kind"] for a in answers] == ["delivered", "delivered"], \
        "a duplicate gets its receipt again"
    assert not [r for r in mex.store.refusals() if r["message_id"] == env.id]


async def test_a_chunk_whose_length_lies_is_refused_and_one_of_the_former_format_is_refused_by_the_hub(
        fed: RunningFederation) -> None:
    """The chunk's bytes are its sealed plaintext; the signed header says how many. A header whose
    `bytes` is not the chunk's length is refused by the recipient (`header_mismatch`, the file left
    receiving). A chunk of the former format (JSON around base64 inside the seal, no `bytes` in the
    header), signed by its sender, is refused by the hub (`bad_header`), audited, the sender told."""
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    data = os.urandom(1000)
    carrier = await carrier_with(fed, "ITA-FORM-1", ref_of(data))
    lying = ita.build_sealed("file.chunk", ["MEX"], {"data": data[:999]}, header={
        "file": carrier.id, "n": 0, "chunk": 0, "chunks": 1, "bytes": 999}, thread=carrier.thread, reply_to=carrier.id)
    hostile = sign_envelope(replace(lying, header={**lying.header, "bytes": 1000}, sig=None, _signing_input=[]),
                            fed.federation.credentials("ITA").signing_key)
    await fed.publish_raw("ITA", wire.encode(hostile))
    assert await refused_with(fed, hostile.id) == "header_mismatch"
    assert received(mex, carrier.id)["state"] == "receiving" and received(mex, carrier.id)["done"] == 0

    former = json.dumps({"file": carrier.id, "n": 0, "chunk": 0, "data": base64.b64encode(data).decode()}).encode()
    built = ita.build_sealed("file.chunk", ["MEX"], {"data": former}, header={
        "file": carrier.id, "n": 0, "chunk": 0, "chunks": 1, "bytes": len(former)}, thread=carrier.thread,
        reply_to=carrier.id)
    old = sign_envelope(replace(built, header={k: v for k, v in built.header.items() if k != "bytes"}, sig=None,
                                _signing_input=[]), fed.federation.credentials("ITA").signing_key)
    await fed.publish_raw("ITA", wire.encode(old))
    trail = await eventually(lambda: fed.audit(message_id=old.id), what="the former chunk's audit entry")
    assert [(e["verdict"], e["reason"]) for e in trail] == [("rejected", "bad_header")]
    answer = await eventually(lambda: [m for m in fed.inbox("ITA", type="hub.rejection") if m.body["of"] == old.id],
                              what="ITA told")
    assert answer[0].body["reason"] == "bad_header"
    assert mex.store.get(old.id) is None

    # the right chunk still completes the file
    await send_chunk(fed, carrier, 0, data)
    await eventually(lambda: received(mex, carrier.id)["state"] == "complete", what="the file complete at MEX")
    assert (await download_sha256(mex, carrier.id))[2] == hashlib.sha256(data).hexdigest()
