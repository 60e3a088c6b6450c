"""A witness checks the hub's log from outside the hub: against its peers, and against its receipts.

Split views (docs/audit-log.md, "Split-view detection"): every `log_watch_interval` seconds the
node fetches each configured peer witness's latest cosigned checkpoint straight from the peer's
API (`GET /api/witness/latest`, not through the hub, which could drop it), verifies the hub's
signature and the peer's cosignature against the root-signed directory, and compares it with its
own latest: same size, same root; otherwise the hub's consistency proof between the two must
verify. A conflict raises an alarm (health), logs an ERROR, and saves both signed notes to an
evidence file.

Log receipts: every message this node received carries the hub's signed receipt (index, leaf
hash). Once the node has witnessed a checkpoint covering the index, it asks the hub for an
inclusion proof and verifies it against the root it witnessed: at most `RECEIPTS_PER_ROUND` per
round, chosen at random among those not yet checked, so the cost is bounded whatever the traffic.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from sqlalchemy import func, insert, select

from crypto.errors import DirectoryError
from crypto.merkle import ProofError, verify_inclusion
from crypto.note import NoteVerifier
from crypto.witness import WitnessError, Witnessed, compare_views, consistency_sizes, verify_peer_checkpoint
from nodes.national.store import messages as message_table
from nodes.national.store import receipt_checks
from nodes.national.witness import latest_cosigned_note, raise_alarm, witnessed
from nodes.plumbing.api_client import Unreachable, api_session, default_cacert, get_bounded
from nodes.plumbing.config import utcnow
from protocol.checkpoint import log_origin
from protocol.policy import HUB_ID
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.parts import NodeBasics

log = structlog.get_logger("somex.log_watch")

RECEIPTS_PER_ROUND = 200
MAX_ANSWER_BYTES = 64 * 1024  # a signed note with 100 signatures is about 12 KiB
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Unavailable(Exception):
    """A peer or the hub did not answer usefully this round: try again at the next one."""


class Refused(Unavailable):
    """The server answered 400: it says the request itself is wrong."""


@dataclass(frozen=True)
class PeerResult:
    peer: str
    outcome: str  # "consistent", "split_view", "bad_peer_checkpoint", "unavailable", "nothing_yet"
    detail: str = ""


async def run(node: NodeBasics) -> None:
    """Until cancelled: compare with peers and check receipts every `log_watch_interval` seconds."""
    # An HTTPS hub or peer is checked against the federation root, as the CLI's clients are (api_client.py).
    async with api_session(default_cacert(node.config.federation_dir), timeout=HTTP_TIMEOUT) as http:
        while True:
            await asyncio.sleep(node.config.log_watch_interval)
            try:
                await check_peers(node, http)
                await check_receipts(node, http)
            except asyncio.CancelledError:
                raise
            except Exception:
                node.log.exception("log watch round failed; trying again next round")


async def _get_json(http: aiohttp.ClientSession, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        status, raw = await get_bounded(http, url, MAX_ANSWER_BYTES, params)
    except Unreachable as exc:
        raise Unavailable(str(exc)) from None
    if status == 400:
        raise Refused(f"{url} answered 400: {raw[:200].decode('utf-8', 'replace')}")
    if status != 200:
        raise Unavailable(f"{url} answered {status}")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise Unavailable(f"{url} did not answer JSON") from None
    if not isinstance(answer, dict):
        raise Unavailable(f"{url} did not answer a JSON object")
    return answer


def _hashes(values: object) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise Unavailable("the proof is not a list of base64 hashes")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except ValueError:  # binascii.Error, or a plain ValueError for non-ASCII text
        raise Unavailable("the proof is not a list of base64 hashes") from None


# -- peers -------------------------------------------------------------------------------------


async def check_peers(node: NodeBasics, http: aiohttp.ClientSession) -> list[PeerResult]:
    mine = await asyncio.to_thread(latest_cosigned_note, node)
    if mine is None:
        return [PeerResult(p, "nothing_yet") for p in node.config.witness_peers]
    return [await check_peer(node, http, peer, url, mine) for peer, url in sorted(node.config.witness_peers.items())]


async def check_peer(node: NodeBasics, http: aiohttp.ClientSession, peer: str, url: str,
                     mine: tuple[int, str]) -> PeerResult:
    bound = node.log.bind(peer=peer, my_size=mine[0])
    directory = node.federation.directory
    origin = log_origin(directory.federation)
    log_key = NoteVerifier(origin, directory.node(HUB_ID).certificates[-1].public_key())
    my_size, my_note = mine
    with node.store.engine.connect() as conn:
        my_root = conn.execute(select(witnessed.c.root).where(witnessed.c.size == my_size)).scalar_one()
    try:
        answer = await _get_json(http, f"{url.rstrip('/')}/api/witness/latest")
        their_note = answer.get("note")
        if not isinstance(their_note, str):
            raise Unavailable("the answer holds no signed note")
        try:
            peer_keys = [NoteVerifier(peer, c.public_key(), cosigner=True) for c in directory.node(peer).certificates]
        except DirectoryError:
            return PeerResult(peer, "bad_peer_checkpoint", f"{peer} is not in the directory")
        theirs = verify_peer_checkpoint(their_note.encode(), origin=origin, log_key=log_key, peer_keys=peer_keys)
        proof: list[bytes] = []
        sizes = consistency_sizes(Witnessed(my_size, my_root), theirs)
        if sizes is not None:
            if node.config.hub_api_url is None:
                raise Unavailable("no hub API configured to ask for a consistency proof")
            try:
                answer = await _get_json(http, f"{node.config.hub_api_url.rstrip('/')}/api/log/consistency",
                                         {"first": str(sizes[0]), "second": str(sizes[1])})
            except Refused as exc:
                # The hub signed both sizes, so an honest hub holds both (it never signs past its
                # stored log): refusing to relate them means it shows the public a shorter log.
                raise WitnessError("split_view", f"the hub refuses a consistency proof between checkpoints "
                                                 f"{sizes[0]} and {sizes[1]} it signed ({exc})") from None
            proof = _hashes(answer.get("proof"))
        compare_views(Witnessed(my_size, my_root), theirs, proof)
    except Unavailable as exc:
        bound.warning("could not compare checkpoints with a peer witness this round", detail=str(exc))
        return PeerResult(peer, "unavailable", str(exc))
    except WitnessError as exc:
        if exc.reason != "split_view":
            bound.warning("a peer witness served a checkpoint that does not verify", reason=exc.reason,
                          detail=exc.detail, action=f"ask {peer}'s operator to check their node")
            return PeerResult(peer, exc.reason, exc.detail)
        evidence = await asyncio.to_thread(_save_evidence, node, peer, my_note, their_note, exc.detail)
        await asyncio.to_thread(raise_alarm, node, "checkpoint", "split_view",
                                f"{peer}'s cosigned checkpoint conflicts with ours: {exc.detail}; evidence {evidence}")
        bound.error("ALARM: split view of the hub's audit log", reason="split_view", detail=exc.detail,
                    their_size=theirs.size, evidence=str(evidence),
                    action="the hub shows witnesses different logs: send the evidence file (both signed notes) to "
                           "the auditors and the other witnesses; keep this node's data")
        return PeerResult(peer, "split_view", exc.detail)
    bound.debug("peer witness agrees", their_size=theirs.size)
    return PeerResult(peer, "consistent")


def evidence_dir(node: NodeBasics) -> Path:
    if node.config.evidence_dir is not None:
        return node.config.evidence_dir
    url = node.config.db_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / "evidence"
    return node.config.federation_dir.parent / "evidence" / node.country


def _save_evidence(node: NodeBasics, peer: str, my_note: str, their_note: str, detail: str) -> Path:
    """Both signed notes, verifiable by anyone holding the root certificate."""
    folder = evidence_dir(node)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = utcnow()
    path = folder / f"split-view-{node.country}-{peer}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    path.write_text(json.dumps({"kind": "split_view", "detected_at": format_time(now), "detail": detail,
                                "witness": node.country, "note": my_note, "peer": peer, "peer_note": their_note},
                               indent=1) + "\n")
    return path


# -- log receipts ------------------------------------------------------------------------------


async def check_receipts(node: NodeBasics, http: aiohttp.ClientSession,
                         limit: int = RECEIPTS_PER_ROUND) -> dict[str, int]:
    """Verify up to `limit` received messages' log receipts against the latest witnessed checkpoint."""
    counts = {"included": 0, "not_included": 0, "unavailable": 0}
    if node.config.hub_api_url is None:
        return counts
    with node.store.engine.connect() as conn:
        head = conn.execute(select(witnessed.c.size, witnessed.c.root).order_by(witnessed.c.size.desc()).limit(1)).first()
        if head is None:
            return counts
        checked = select(receipt_checks.c.message_id)
        rows = conn.execute(
            select(message_table.c.message_id, message_table.c.log_index, message_table.c.log_receipt)
            .where(message_table.c.log_index.is_not(None) & (message_table.c.log_index < head.size)
                   & message_table.c.message_id.not_in(checked))
            .order_by(func.random()).limit(limit)).all()
    hub = node.config.hub_api_url.rstrip("/")
    for row in rows:
        bound = node.log.bind(message_id=row.message_id, log_index=row.log_index, size=head.size)
        try:
            leaf = bytes.fromhex(json.loads(row.log_receipt)["leaf_hash"])
        except (TypeError, ValueError, KeyError):
            leaf = b""  # verified on receipt, so never; an unreadable stored receipt fails the proof below
        try:
            answer = await _get_json(http, f"{hub}/api/log/inclusion", {"index": str(row.log_index),
                                                                        "size": str(head.size)})
            proof = _hashes(answer.get("proof"))
        except Unavailable as exc:
            counts["unavailable"] += 1
            bound.warning("could not check a log receipt this round", detail=str(exc))
            continue
        try:
            verify_inclusion(leaf, row.log_index, head.size, proof, head.root)
            verdict = "included"
        except ProofError as exc:
            verdict = "not_included"
            detail = (f"message {row.message_id}: the hub's receipt for entry {row.log_index} is not in the "
                      f"checkpoint of size {head.size} this node witnessed ({exc.reason})")
            await asyncio.to_thread(raise_alarm, node, "log_receipt", "receipt_not_in_log", detail)
            bound.error("ALARM: a log receipt the hub signed is not in the log it showed the witnesses",
                        reason="receipt_not_in_log", detail=detail,
                        action="the hub receipted an entry it did not keep: tell the auditors, keep this message")
        counts[verdict] += 1
        with node.store.engine.begin() as conn:
            conn.execute(insert(receipt_checks), {"message_id": row.message_id, "log_index": row.log_index,
                                                  "size": head.size, "verdict": verdict,
                                                  "at": format_time(utcnow())})
    return counts
