"""Person search in a node's case store (SQLite file, access log written): folded-token index
against the baseline of folding every held name at query time.
Run: python -m tests.bench.bench_cases [--cases N]."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import insert, select

from nodes.national.features.cases import store
from nodes.plumbing.db import make_engine
from protocol import cases as rules

GIVEN = ["José", "Ahmad", "Dmitrii", "Łukasz", "Σωκράτης", "Maria", "Nguyen", "Fatima", "Jürgen", "Aylin"]
FAMILY = ["Álvarez", "Karimi", "Щукин", "Øster", "Παπαδόπουλος", "Weiß", "Tran", "Haddad", "O'Brien", "Yılmaz"]


def _case(rng: random.Random, i: int) -> dict:
    def person(role: str) -> dict:
        return {"role": role, "name": f"{rng.choice(GIVEN)} {rng.choice(FAMILY)} {i}", "legal_basis": "art. 10",
                "documents": [{"number": f"X{i:08d}{role[0]}"}]}

    return {"reference": f"R-{i}", "offences": [{"article": "6.1.a"}], "evaluation": {"source": "B", "information": 2},
            "persons": [person("suspected"), person("witness")]}


def _baseline(node: SimpleNamespace, name: str) -> int:
    """Without the index: read every case and fold every name."""
    wanted = set(rules.name_tokens(name))
    with node.store.engine.connect() as conn:
        return sum(1 for data in conn.execute(select(store.cases.c.data)).scalars()
                   for p in json.loads(data)["persons"] if wanted <= set(rules.name_tokens(p["name"])))


def _time(samples: int, run) -> list[float]:  # noqa: ANN001
    out = []
    for i in range(samples):
        start = time.perf_counter()
        run(i)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def _line(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    return (f"  {name:<46} mean {statistics.fmean(ordered):9.2f} ms   "
            f"p99 {ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]:9.2f} ms   (n={len(ordered)})")


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=50_000, help="cases held (two persons each)")
    args = parser.parse_args(list(argv))
    rng = random.Random(6)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'node.db'}")
        store.metadata.create_all(engine)
        node = SimpleNamespace(db=engine)  # what search_persons uses of a feature context
        start = time.perf_counter()
        with engine.begin() as conn:
            for i in range(args.cases):
                case = _case(rng, i)
                case_id = conn.execute(insert(store.cases).values(
                    provider="IDN", reference=case["reference"], held_from="IDN", data=json.dumps(case),
                    stored_at="2026-01-01T00:00:00Z")).inserted_primary_key[0]
                store._index(conn, case_id, case)
        print(f"Case search, {args.cases:,} cases / {2 * args.cases:,} persons held "
              f"(indexed in {time.perf_counter() - start:.1f} s)")
        picks = [rng.randrange(args.cases) for _ in range(200)]
        names = [f"{rng.choice(['JOSE', 'DMITRII', 'SOKRATIS'])} {rng.choice(['ALVAREZ', 'SHCHUKIN'])} {i}" for i in picks]
        indexed = _time(len(names), lambda k: store.search_persons(node, store.PersonQuery(name=names[k]), "bench"))
        by_doc = _time(len(picks), lambda k: store.search_persons(
            node, store.PersonQuery(document=f"x {picks[k]:08d} s"), "bench"))
        base = _time(3, lambda k: _baseline(node, names[k]))
        engine.dispose()
    print(_line("name search (folded tokens, indexed)", indexed))
    print(_line("document search (normalised number)", by_doc))
    print(_line("baseline: fold every held name per query", base))
    print(f"  indexed name search is {statistics.fmean(base) / statistics.fmean(indexed):,.0f}x faster than the baseline")
    return 0


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
