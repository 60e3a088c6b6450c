"""The hub's decision alone (nodes/hub/decide.py), without a broker or a database: decisions per
second on a batch of valid broadcast alert envelopes, against a bare Ed25519 verify of the same
bytes in the same run (the floor: every message's signature must be checked). Three runs; the
ratio decide / verify is the figure to compare. Run: python -m tests.bench.bench_decide [--count N].
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.signing import sign_envelope
from nodes.hub.decide import FORWARD, Context, Delivery, decide_batch, read
from nodes.runtime.config import new_message_id, utcnow
from nodes.runtime.federation import init_federation, load_federation
from protocol import envelope as wire
from protocol.timefmt import format_time

MEMBERS = ["MEX", "IDN", "ITA", "FRA", "DEU"]
RUNS = 3


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
    args = parser.parse_args(list(argv))
    with tempfile.TemporaryDirectory(prefix="somex-bench-decide-") as work:
        path = Path(work) / "federation"
        now = utcnow()
        init_federation(path, "bench-decide", MEMBERS, now)
        federation = load_federation(path, now)
        key = federation.credentials("MEX").signing_key
        user = federation.directory.node("MEX").broker_user
        bodies = [wire.encode(sign_envelope(wire.build(
            message_id=new_message_id(), type="alert.document", sender="MEX", recipients=["*"], created=now,
            ttl=timedelta(hours=1), body=_alert("MEX", i)), key)) for i in range(args.count)]
        deliveries = [Delivery(body, user) for body in bodies]
        bare = Ed25519PrivateKey.generate()
        signatures = [bare.sign(body) for body in bodies]
        public = bare.public_key()
        print(f"Hub decide alone: {args.count:,} valid broadcast alerts to {len(MEMBERS) - 1} members, {RUNS} runs")
        ratios = []
        for run in range(1, RUNS + 1):
            started = time.perf_counter()
            context = Context(federation.directory, federation.trust, utcnow(), timedelta(minutes=5), {},
                              _NoCheckpoints())
            received_at = format_time(context.now)
            verdicts = decide_batch([read(d, received_at, federation.directory) for d in deliveries], context)
            decide_s = time.perf_counter() - started
            assert all(v.action == FORWARD for v in verdicts), "every alert must be accepted"
            started = time.perf_counter()
            for body, signature in zip(bodies, signatures):
                public.verify(signature, body)
            verify_s = time.perf_counter() - started
            ratios.append(decide_s / verify_s)
            print(f"  run {run}: decide {args.count / decide_s:9,.0f}/s ({decide_s / args.count * 1e6:6.1f} us each)"
                  f"   bare Ed25519 verify {args.count / verify_s:9,.0f}/s ({verify_s / args.count * 1e6:5.1f} us)"
                  f"   decide/verify cost {ratios[-1]:.2f}x")
        print(f"  decide costs {min(ratios):.2f}-{max(ratios):.2f}x a bare Ed25519 verify of the same bytes")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
