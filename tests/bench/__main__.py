"""`make bench`: every benchmark, each against a baseline measured in the same run."""

from __future__ import annotations

import asyncio
import sys

from tests.bench import (
    bench_alerts, bench_audit, bench_border_check, bench_cases, bench_decide, bench_evidence, bench_fanout, bench_load,
    bench_merkle, bench_person_names, bench_relay, bench_witness,
)


def main() -> int:
    bench_merkle.main([])
    bench_audit.main([])
    bench_decide.main([])
    bench_cases.main([])
    bench_person_names.main([])
    bench_border_check.main([])
    bench_witness.main([])
    bench_fanout.main([])
    asyncio.run(bench_relay.main(sys.argv[1:]))
    asyncio.run(bench_alerts.main([]))
    asyncio.run(bench_load.main([]))
    asyncio.run(bench_evidence.main([]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
