"""Audit log benchmark: durable appends vs raw SQLite inserts of the same rows, proofs at 1M
entries, offline verification of a 1M-entry export, and the hub draining a full hub.in queue."""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from crypto.audit_bundle import verify_bundle
from crypto.merkle import CompactRange, MemoryNodeStore, inclusion_proof, leaf_hash, verify_inclusion
from nodes.hub.audit import ACCEPTED, AuditEntry, AuditStore
from nodes.hub.export import export_bundle
from nodes.plumbing.db import make_engine
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from nodes.plumbing.config import utcnow

BATCH = 256


def entries(start: int, n: int) -> list[AuditEntry]:
    return [AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-11-22T12:00:00.000000Z",
                       message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="MEX",
                       recipients=("IDN",), thread="case-1", marks_seen=True) for i in range(start, start + n)]


def bench_appends(work: Path, n: int) -> tuple[float, float]:
    fed = work / "federation"
    init_federation(fed, "bench", ["MEX", "IDN"], utcnow())
    key = load_federation(fed, utcnow()).credentials("HUB").signing_key
    store = AuditStore(make_engine(f"sqlite:///{work / 'audit.db'}"), "somex/bench/audit", key)
    start = time.perf_counter()
    for offset in range(0, n, BATCH):
        store.append(entries(offset, min(BATCH, n - offset)))
    somex = n / (time.perf_counter() - start)

    rows = [(e.seq, e.leaf(), e.message_id, e.type, e.sender, "[\"IDN\"]", e.thread, e.verdict, e.received_at)
            for e in entries(0, n)]
    db = sqlite3.connect(work / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE e (seq INTEGER PRIMARY KEY, leaf BLOB, message_id TEXT, type TEXT, sender TEXT,"
               " recipients TEXT, thread TEXT, verdict TEXT, received_at TEXT)")
    start = time.perf_counter()
    for offset in range(0, n, BATCH):
        db.execute("BEGIN")
        db.executemany("INSERT INTO e VALUES (?,?,?,?,?,?,?,?,?)",
                       [(offset + i, *r[1:]) for i, r in enumerate(rows[offset:offset + BATCH])])
        db.execute("COMMIT")
    raw = n / (time.perf_counter() - start)
    return somex, raw


def bench_proofs(n: int) -> None:
    store, tree = MemoryNodeStore(), CompactRange()
    start = time.perf_counter()
    for i in range(n):
        store.put_many(tree.append(leaf_hash(i.to_bytes(8, "big"))))
    print(f"compact-range appends (memory):           {n / (time.perf_counter() - start):>10.0f} leaves/s")
    root = tree.root()
    times, vtimes = [], []
    for index in random.Random(1).sample(range(n), 1000):
        t = time.perf_counter()
        proof = inclusion_proof(index, n, store)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        verify_inclusion(leaf_hash(index.to_bytes(8, "big")), index, n, proof, root)
        vtimes.append(time.perf_counter() - t)
    times.sort()
    print(f"inclusion proof at {n:,} entries:        mean {statistics.mean(times) * 1e6:.0f} µs, "
          f"p99 {times[989] * 1e6:.0f} µs; verify mean {statistics.mean(vtimes) * 1e6:.0f} µs")


def bench_export_verify(work: Path, n: int) -> None:
    fed = load_federation(work / "federation", utcnow())
    key = fed.credentials("HUB").signing_key
    store = AuditStore(make_engine(f"sqlite:///{work / 'big.db'}"), "somex/bench/audit", key, "somex/bench/audit")
    for offset in range(0, n, 5000):
        store.append(entries(offset, min(5000, n - offset)))
        if (offset // 5000) % 20 == 19:
            store.sign_checkpoint("2026-11-22T12:00:00.000000Z")
    store.sign_checkpoint("2026-11-22T12:00:00.000000Z")
    start = time.perf_counter()
    bundle = json.loads(json.dumps(export_bundle(store, (work / "federation" / "directory.signed.json").read_bytes())))
    exported = time.perf_counter() - start
    start = time.perf_counter()
    report = verify_bundle(bundle, fed.root_cert, quorum=0)  # no witnesses in this benchmark
    verified = time.perf_counter() - start
    assert report.ok, report.findings[:3]
    print(f"full export of {n:,} entries:              {exported:.1f} s; offline verification {verified:.1f} s "
          f"({report.checkpoints} checkpoints)")


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 50_000
    with tempfile.TemporaryDirectory(prefix="somex-bench-audit-") as tmp:
        work = Path(tmp)
        somex, raw = bench_appends(work, n)
        print(f"== audit log: {n:,} entries in group commits of {BATCH} (SQLite WAL, synchronous=FULL)")
        print(f"durable Merkle-log appends:               {somex:>10.0f} entries/s")
        print(f"raw SQLite inserts of the same rows:      {raw:>10.0f} rows/s")
        print(f"ratio somex/raw:                          {somex / raw:>10.2f}")
        bench_proofs(1_000_000)
        bench_export_verify(work, 1_000_000)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
