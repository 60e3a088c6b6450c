"""Publishing the log's checkpoints: sign one every `checkpoint_interval` while messages arrive and
broadcast it to the witnesses with consistency proofs from what each of them last cosigned.
Signing and storing is nodes/hub/checkpoints.py; the witnesses' cosignatures come back as
`witness.cosign` messages through the relay (nodes/hub/decide.py checks them).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from crypto.signing import sign_envelope
from nodes.hub.forwarding import Copies
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
from protocol import policy
from protocol.checkpoint import SignedNote, format_note
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.hub.hub_core import HubCore

log = structlog.get_logger("somex.hub")


ORPHANED_AFTER = 10.0  # seconds a stored entry may wait for another hub process's checkpoint


async def run_checkpoints(hub: HubCore) -> None:
    """Sign a checkpoint every `checkpoint_interval` while messages arrive (sooner after
    `checkpoint_every` entries). Witness cosignatures are entries too, but growth made of them
    alone waits `idle_checkpoint_interval`: otherwise each checkpoint's cosignatures would call
    for the next one, and an idle federation's log would grow forever.

    Entries another hub process appended and left without a checkpoint (an active hub that died
    within its interval, its standby taking over an idle queue) are found in the stored log: when
    entries other than cosignatures stay uncovered for ORPHANED_AFTER seconds, this hub signs them."""
    last_size = -1
    last_time = 0.0
    loop = asyncio.get_running_loop()
    orphans = _Orphans(hub, loop.time())
    while True:
        await asyncio.sleep(0.2)
        elapsed = loop.time() - last_time
        if hub.messages_since_checkpoint:
            grown = hub.store.size - max(last_size, 0)
            due = elapsed >= hub.config.checkpoint_interval or grown >= hub.config.checkpoint_every
        else:
            due = elapsed >= hub.config.idle_checkpoint_interval
        due = due and hub.store.size not in (0, last_size)
        if not due and (hub.messages_since_checkpoint or not await orphans.owed(loop.time())):
            continue
        covered = hub.messages_since_checkpoint
        try:
            await publish_checkpoint(hub)
            hub.messages_since_checkpoint -= covered
            last_size, last_time = hub.store.size, loop.time()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("checkpoint failed; will try again")
            await asyncio.sleep(1)


class _Orphans:
    """Looks at the stored log every `checkpoint_interval` while this hub has nothing of its own to
    sign: entries other than cosignatures past the newest checkpoint that no checkpoint covers
    ORPHANED_AFTER seconds later are owed one that no other hub process is going to sign (an
    active hub's own entries are covered within its interval, so its standby never signs them)."""

    def __init__(self, hub: HubCore, now: float) -> None:
        self._hub, self._next_look = hub, now
        self._seen: tuple[float, int] | None = None  # (when, how far the unsigned entries reached)

    async def owed(self, now: float) -> bool:
        if now < self._next_look:
            return False
        self._next_look = now + self._hub.config.checkpoint_interval
        try:
            latest, end = await asyncio.to_thread(self._hub.store.unsigned_messages)
        except Exception as exc:  # the database away: the next look tries again
            log.warning("could not look for unsigned entries; will try again", error=str(exc))
            return False
        if not end:
            self._seen = None
            return False
        if self._seen is None or latest >= self._seen[1]:  # first seen, or signed meanwhile by whoever
            self._seen = (now, end)
            return False
        if now - self._seen[0] < ORPHANED_AFTER:
            return False
        log.warning("signing a checkpoint for entries no hub process signed", up_to=end, newest_checkpoint=latest)
        self._seen = None
        return True


async def publish_checkpoint(hub: HubCore) -> SignedNote | None:
    """Sign a checkpoint of the log as it is now and send it to every witness."""
    async with hub.log_lock:
        note = await asyncio.to_thread(hub.store.sign_checkpoint, format_time(utcnow()))
        if note is None:
            return None
        size = hub.store.size
        # Proofs from recent checkpoints and from each witness's last cosigned size, so every
        # witness can check this checkpoint against its own record.
        recent = (await asyncio.to_thread(hub.store.checkpoint_sizes, size))[-6:-1]
        witnessed = (await asyncio.to_thread(hub.store.witnessed_sizes)).values()
        earlier = sorted({m for m in (*recent, *witnessed) if m < size})[-16:]
        proofs = [{"from": m, "hashes": [base64.b64encode(h).decode() for h in
                                          await asyncio.to_thread(hub.store.consistency_proof, m, size)]}
                  for m in earlier]
    try:
        await hub.open_publisher()
    except ConnectionError:
        return note  # stored; witnesses get the next one
    env = sign_envelope(wire.build(
        message_id=new_message_id(), type="hub.checkpoint", sender=policy.HUB_ID, recipients=["*"],
        created=utcnow(), ttl=timedelta(days=7), body={"note": format_note(note).decode(), "proofs": proofs},
    ), hub.signing_key)
    raw = wire.encode(env)
    full = await hub.forward([Copies(-1, tuple(hub.directory.node_ids()), env.id, raw, {})])
    for forward in full:  # a full inbox: that witness checks the next one
        log.warning("checkpoint not sent: inbox full", node=forward.to, size=size)
    root = base64.b64decode(note.body.split(b"\n")[2])
    log.info("checkpoint published", size=size, root=root.hex())  # hex, as in /api/health and the witnesses' logs
    return note
