"""Name matching for person alerts on the labelled set of tests/bench/name_set.py: recall on true
variant pairs (goal >= 95 %), names among 10,000 distinct ones that falsely match another (goal
< 1 %), and the time of one search in an index of 10,000 names; against the baseline of comparing
ICAO-folded token sets for equality (protocol.cases.name_tokens, what case search does today).
Run: python -m tests.bench.bench_person_names [--distinct N] [--pairs-per-culture N]."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from nodes.national.features.person.names import NameIndex, PersonName
from protocol.cases import name_tokens
from tests.bench.name_set import NameSet, build

RECALL_GOAL = 0.95
FALSE_MATCH_GOAL = 0.01


def measure(names: NameSet) -> dict[str, float]:
    """Recall through an index holding the distinct names as distractors; false matches and search
    times among the distinct names alone."""
    people = [PersonName.of(text, language or None) for text, language in names.distinct]
    index = NameIndex()
    for i, person in enumerate(people):
        index.add(str(i), person)
    times: list[float] = []
    false = 0
    for i, person in enumerate(people):
        start = time.perf_counter()
        found = index.search(person, exclude=str(i))
        times.append((time.perf_counter() - start) * 1e3)
        false += bool(found)
    found_pairs = 0
    for k, (query, q_lang, alert, a_lang) in enumerate(names.pairs):
        target = PersonName.of(alert, a_lang or None)
        index.add(f"pair-{k}", target)
        hits = {ident for ident, _ in index.search(PersonName.of(query, q_lang or None))}
        found_pairs += f"pair-{k}" in hits
    ordered = sorted(times)
    return {"recall": found_pairs / len(names.pairs), "false_rate": false / len(people),
            "mean_ms": statistics.fmean(ordered), "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


def baseline(names: NameSet) -> dict[str, float]:
    """Equal ICAO-folded token sets (Cyrillic and Greek folded; Arabic and Han fold to nothing,
    which matches nothing)."""
    keys: dict[frozenset[str], int] = {}
    for text, _ in names.distinct:
        key = frozenset(name_tokens(text))
        keys[key] = keys.get(key, 0) + 1
    false = sum(1 for text, _ in names.distinct if name_tokens(text) and keys[frozenset(name_tokens(text))] > 1)
    recall = sum(1 for q, _, a, _ in names.pairs if name_tokens(q) and name_tokens(q) == name_tokens(a))
    return {"recall": recall / len(names.pairs), "false_rate": false / len(names.distinct)}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--distinct", type=int, default=10_000)
    parser.add_argument("--pairs-per-culture", type=int, default=300)
    args = parser.parse_args(list(argv))
    start = time.perf_counter()
    names = build(distinct=args.distinct, pairs_per_culture=args.pairs_per_culture)
    built = time.perf_counter() - start
    print(f"person names: {len(names.pairs)} true variant pairs, {len(names.distinct)} distinct names "
          f"(built in {built:.1f} s)")
    base = baseline(names)
    result = measure(names)
    print(f"  {'baseline: equal ICAO-folded token sets':<46} recall {base['recall']:6.1%}   "
          f"false matches {base['false_rate']:6.2%}")
    print(f"  {'names.py: transliteration + variants + index':<46} recall {result['recall']:6.1%}   "
          f"false matches {result['false_rate']:6.2%}   search mean {result['mean_ms']:.2f} ms, "
          f"p99 {result['p99_ms']:.2f} ms (index of {len(names.distinct)})")
    met = result["recall"] >= RECALL_GOAL and result["false_rate"] < FALSE_MATCH_GOAL
    print(f"  goals (recall >= {RECALL_GOAL:.0%}, false matches < {FALSE_MATCH_GOAL:.0%}): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
