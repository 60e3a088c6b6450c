"""Witnessing at N = 3, 25, 100, 190 members (issue 23): the hub's CPU per cosign round.

Each round the hub signs a checkpoint; every witness of the directory's policy cosigns it for real
(its own key, a signed `witness.cosign` envelope), and the hub's pipeline (`Hub._process`: decode,
verify the envelope and the cosignature, append the entry, store the cosignature, ack) takes the
round in batches of BATCH, as cosignatures trickle in. Only the broker is left out: messages are handed to the pipeline directly and
nothing is published (a cosignature is addressed to the hub, so there is nothing to forward).
Reported: hub CPU per round and per witness (process time of the hub's work only; the witnesses
sign before the clock starts), log entries per checkpoint, cosignatures held, and the size of the
served checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import structlog

from crypto.note import cosign_note
from crypto.signing import sign_envelope
from crypto.witness import directory_witnesses, required_quorum
from nodes.hub.forwarding import Copies
from nodes.hub.relay import Hub
from nodes.plumbing.config import HubConfig, new_message_id, utcnow
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from protocol import envelope as wire
from protocol.checkpoint import format_note, parse_note

SIZES = (3, 25, 100, 190)
ROUNDS = 8
BATCH = 8  # cosignatures arrive over a round, a few per hub batch, not all at once
TRAFFIC_PER_ROUND = 20  # other entries between checkpoints, so each checkpoint is a new tree


def _codes(n: int) -> list[str]:
    return ["".join(c) for c in itertools.product("ABCDEFGHIJ", "KLMNOPQRST", "UVWXY")][:n]


class _Delivery(SimpleNamespace):
    async def ack(self, multiple: bool = False) -> None:  # noqa: ARG002
        return None


def _cosign_messages(hub: Hub, federation, size: int, timestamp: int) -> list[_Delivery]:  # noqa: ANN001
    body = hub.store.checkpoint(size).body
    deliveries = []
    for witness in directory_witnesses(federation.directory):
        creds = federation.credentials(witness)
        line = cosign_note(body, witness, creds.signing_key, timestamp).line().rstrip("\n")
        env = sign_envelope(wire.build(message_id=new_message_id(), type="witness.cosign", sender=witness,
                                       recipients=["HUB"], created=utcnow(), ttl=timedelta(days=1),
                                       body={"size": size, "signature": line}), creds.signing_key)
        deliveries.append(_Delivery(body=wire.encode(env), user_id=creds.broker_user, channel=None, headers={}))
    return deliveries


def _traffic(hub: Hub, start: int) -> None:
    from nodes.hub.audit import ACCEPTED, AuditEntry
    hub.store.append([AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-11-22T12:00:00.000000Z",
                                 message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="AKU",
                                 recipients=("BLV",), thread="t", marks_seen=True)
                      for i in range(start, start + TRAFFIC_PER_ROUND)])


async def measure(members: int, work: Path) -> dict[str, float]:
    path = work / f"federation-{members}"
    init_federation(path, f"bench{members}", _codes(members), utcnow())
    federation = load_federation(path, utcnow())
    hub = Hub(HubConfig(path, f"sqlite:///{work / f'hub-{members}.db'}"), federation)
    forwarded: list[int] = []

    async def no_broker(forwards: list) -> list:
        # the relay hands every accepted message over as Copies, a hub-addressed one with no recipient
        forwarded.append(sum(len(f.recipients) if isinstance(f, Copies) else 1 for f in forwards))
        return []

    hub._forward = no_broker  # type: ignore[method-assign]
    witnesses = len(directory_witnesses(federation.directory))
    cpu: list[float] = []
    entries_per_checkpoint: list[int] = []
    base = int(time.time())
    for round_ in range(ROUNDS):
        _traffic(hub, round_ * TRAFFIC_PER_ROUND)
        before = hub.store.size
        cpu_start = time.process_time()
        hub.store.sign_checkpoint("2026-11-22T12:00:00.000000Z")
        sign_cpu = time.process_time() - cpu_start
        size = hub.store.size
        batch = _cosign_messages(hub, federation, size, base + 3600 * round_)  # witnesses: not hub CPU
        cpu_start = time.process_time()
        for start in range(0, len(batch), BATCH):
            await hub._process(batch[start:start + BATCH])
        cpu.append(sign_cpu + time.process_time() - cpu_start)
        entries_per_checkpoint.append(hub.store.size - before + TRAFFIC_PER_ROUND)
    assert not any(forwarded), "cosignatures are addressed to the hub: nothing to forward"
    try:
        served: int | str = len(parse_note(format_note(hub.store.checkpoint(size))).signatures)
    except ValueError as exc:  # what the code before issue 23 did past 99 witnesses
        served = getattr(exc, "reason", "error")
    steady = sorted(cpu[1:])[len(cpu[1:]) // 2]  # median, the first round warms caches
    return {"members": members, "witnesses": witnesses, "quorum": required_quorum(federation.directory),
            "round_ms": steady * 1e3, "per_witness_ms": steady * 1e3 / witnesses,
            "cosign_entries": entries_per_checkpoint[-1] - TRAFFIC_PER_ROUND,
            "held": hub.store.stored_cosignatures() if hasattr(hub.store, "stored_cosignatures") else float("nan"),
            "served": served}


async def run(sizes: tuple[int, ...]) -> list[dict[str, float]]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="somex-bench-witness-") as work:
        return [await measure(n, Path(work)) for n in sizes]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=SIZES)
    args = parser.parse_args(argv)
    print("witnessing: hub CPU per cosign round (checkpoint signed + every witness's cosignature taken in)")
    print(f"{'N':>4} {'witnesses':>9} {'quorum':>6} {'round ms':>9} {'ms/witness':>10} {'cosign entries':>14} "
          f"{'cosigs held':>11} {'served sigs':>11}")
    for r in asyncio.run(run(args.sizes)):
        print(f"{r['members']:>4} {r['witnesses']:>9} {r['quorum']:>6} {r['round_ms']:>9.1f} "
              f"{r['per_witness_ms']:>10.3f} {r['cosign_entries']:>14} {r['held']:>11} {r['served']:>11}")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
