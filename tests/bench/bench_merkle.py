"""Merkle tree costs without I/O: appends/s, proof generation and verification at 1,000,000 entries,
and node reads per proof at 10,000,000. Run: python -m tests.bench.bench_merkle [--size N]."""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from crypto import merkle
from crypto.merkle import (
    CompactRange,
    MemoryNodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)


def _timings_us(samples: int, run: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(samples):
        start = time.perf_counter()
        run(i)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def _line(name: str, timings_us: list[float]) -> str:
    ordered = sorted(timings_us)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"  {name:<44} mean {statistics.fmean(ordered):8.1f} us   p99 {p99:8.1f} us   (n={len(ordered)})"


class _Synthetic:
    """Made-up nodes for any (level, index): counts reads at sizes too large to build in memory."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def get_nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        self.batches.append(len(ids))
        return [hashlib.sha256(b"%d/%d" % node).digest() for node in ids]


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000, help="entries in the in-memory tree")
    parser.add_argument("--samples", type=int, default=1000, help="random proofs per measurement")
    args = parser.parse_args(list(argv))
    size, samples, rng = args.size, args.samples, random.Random(6962)

    print(f"Merkle tree, {size:,} entries, Python {sys.version.split()[0]}")
    start = time.perf_counter()
    leaves = [leaf_hash(b"entry %d" % i) for i in range(size)]
    hashing = time.perf_counter() - start

    tree = CompactRange()
    start = time.perf_counter()
    for h in leaves:
        tree.append(h)
    append_only = time.perf_counter() - start

    store, tree = MemoryNodeStore(), CompactRange()
    start = time.perf_counter()
    for h in leaves:
        store.put_many(tree.append(h))
    append_stored = time.perf_counter() - start
    root = tree.root()
    print(f"  leaf hashing                                 {size / hashing:12,.0f} leaves/s")
    print(f"  CompactRange.append                          {size / append_only:12,.0f} appends/s")
    print(f"  append + MemoryNodeStore.put_many            {size / append_stored:12,.0f} appends/s"
          f"   ({len(store):,} nodes stored)")

    indexes = [rng.randrange(size) for _ in range(samples)]
    proofs: list[list[bytes]] = []
    print(f"Proofs at {size:,} entries ({samples} random each)")
    print(_line("inclusion_proof",
                _timings_us(samples, lambda i: proofs.append(inclusion_proof(indexes[i], size, store)))))
    print(_line("verify_inclusion",
                _timings_us(samples, lambda i: verify_inclusion(leaves[indexes[i]], indexes[i], size, proofs[i],
                                                                root))))
    firsts = [rng.randrange(1, size) for _ in range(samples)]
    first_roots = [root_at(m, store) for m in firsts]
    cproofs: list[list[bytes]] = []
    print(_line("consistency_proof",
                _timings_us(samples, lambda i: cproofs.append(consistency_proof(firsts[i], size, store)))))
    print(_line("verify_consistency",
                _timings_us(samples, lambda i: verify_consistency(firsts[i], size, cproofs[i], first_roots[i], root))))
    print(_line("root_at (random earlier size)", _timings_us(samples, lambda i: root_at(firsts[i], store))))

    big = 10_000_000
    reader, hashed, real = _Synthetic(), [0], merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        hashed[0] += 1
        return real(left, right)

    merkle.node_hash = counting  # count the ephemeral border nodes proof generation folds
    try:
        times = _timings_us(samples, lambda i: inclusion_proof(rng.randrange(big), big, reader))
        inclusion_hashes, hashed[0] = hashed[0], 0
        ctimes = _timings_us(samples, lambda i: consistency_proof(rng.randrange(1, big), big, reader))
        consistency_hashes = hashed[0]
    finally:
        merkle.node_hash = real
    print(f"Proof generation at {big:,} entries (synthetic node reader: made-up nodes, no storage)")
    print(_line("inclusion_proof", times))
    print(_line("consistency_proof", ctimes))
    print(f"  node reads: {len(reader.batches) / (2 * samples):.0f} get_nodes batch per proof, at most"
          f" {max(reader.batches)} ids;  hashes folded per proof (mean): inclusion {inclusion_hashes / samples:.1f},"
          f" consistency {consistency_hashes / samples:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
