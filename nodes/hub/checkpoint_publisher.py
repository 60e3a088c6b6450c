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


async def run_checkpoints(hub: HubCore) -> None:
    """Sign a checkpoint every `checkpoint_interval` while messages arrive (sooner after
    `checkpoint_every` entries). Witness cosignatures are entries too, but growth made of them
    alone waits `idle_checkpoint_interval`: otherwise each checkpoint's cosignatures would call
    for the next one, and an idle federation's log would grow forever."""
    last_size = -1
    last_time = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(0.2)
        grown = hub.store.size - max(last_size, 0)
        elapsed = loop.time() - last_time
        if hub.messages_since_checkpoint:
            due = elapsed >= hub.config.checkpoint_interval or grown >= hub.config.checkpoint_every
        else:
            due = elapsed >= hub.config.idle_checkpoint_interval
        if hub.store.size in (0, last_size) or not due:
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
