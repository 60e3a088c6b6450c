"""The hub's decision alone (nodes/hub/decide.py), without a broker or a database: decisions per
second on a batch of valid broadcast alert envelopes, against a bare Ed25519 verify of the same
bytes in the same run (the floor: every message's signature must be checked). Process CPU time,
not wall time (the machine is shared). Three runs; the ratio decide / verify is the figure to compare. `--members 3,190`: the same at each federation
size (what of the decision grows with N, issue 23).
Run: python -m tests.bench.bench_decide [--count N] [--members 5].
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.signing import sign_envelope
from nodes.hub.decide import FORWARD, Context, Delivery, decide_batch, read
from nodes.plumbing.config import new_message_id, utcnow
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from protocol import envelope as wire
from protocol.timefmt import format_time

RUNS = 3


def _codes(n: int) -> list[str]:
    return ["".join(c) for c in itertools.product("ABCDEFGHIJ", "KLMNOPQRST", "UVWXY")][:n]


class _NoCheckpoints:
    def signed_checkpoint(self, size: int) -> None:
        return None

    def latest_cosignature_time(self, witness: str) -> None:
        return None


def _alert(issuer: str, i: int) -> dict:
    return {"document_number": f"B{i:08d}", "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20"}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="alert envelopes per run")
    parser.add_argument("--members", default="5", help="federation sizes, comma-separated")
    args = parser.parse_args(list(argv))
    for members in (int(n) for n in args.members.split(",")):
        _measure(members, args.count)
    return 0


def _measure(members: int, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="somex-bench-decide-") as work:
        path = Path(work) / "federation"
        now = utcnow()
        codes = _codes(members)
        sender = codes[0]
        init_federation(path, "bench-decide", codes, now)
        federation = load_federation(path, now)
        key = federation.credentials(sender).signing_key
        user = federation.directory.node(sender).broker_user
        bodies = [wire.encode(sign_envelope(wire.build(
            message_id=new_message_id(), type="alert.document", sender=sender, recipients=["*"], created=now,
            ttl=timedelta(hours=1), body=_alert(sender, i)), key)) for i in range(count)]
        deliveries = [Delivery(body, user) for body in bodies]
        bare = Ed25519PrivateKey.generate()
        signatures = [bare.sign(body) for body in bodies]
        public = bare.public_key()
        print(f"Hub decide alone: {count:,} valid broadcast alerts to {members - 1} members, {RUNS} runs")
        ratios = []
        for run in range(1, RUNS + 1):
            started = time.process_time()
            context = Context(federation.directory, federation.trust, utcnow(), timedelta(minutes=5), {},
                              _NoCheckpoints())
            received_at = format_time(context.now)
            verdicts = decide_batch([read(d, received_at, federation.directory) for d in deliveries], context)
            decide_s = time.process_time() - started
            assert all(v.action == FORWARD for v in verdicts), "every alert must be accepted"
            started = time.process_time()
            for body, signature in zip(bodies, signatures):
                public.verify(signature, body)
            verify_s = time.process_time() - started
            ratios.append(decide_s / verify_s)
            print(f"  run {run}: decide {count / decide_s:9,.0f}/s ({decide_s / count * 1e6:6.1f} us each)"
                  f"   bare Ed25519 verify {count / verify_s:9,.0f}/s ({verify_s / count * 1e6:5.1f} us)"
                  f"   decide/verify cost {ratios[-1]:.2f}x")
        print(f"  decide costs {min(ratios):.2f}-{max(ratios):.2f}x a bare Ed25519 verify of the same bytes")


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
