"""Mutation testing of the pure core (crypto/, protocol/) with mutmut; prints module | mutants | killed | score.

    python -m tests.mutation.run                      every module of crypto/ and protocol/
    python -m tests.mutation.run crypto/signing.py    only these modules
    python -m tests.mutation.run --check              the trust-guarding modules whose source changed
                                                      since their floor was recorded (floors.json);
                                                      fails when one scores below its floor
    python -m tests.mutation.run --check --accept     the same; once it passes, the checked functions' source
                                                      hashes are recorded (floors unchanged), so the next check
                                                      mutates only what changes after
    python -m tests.mutation.run --record             (re)write floors.json from this run's scores
    python -m tests.mutation.run --reuse --record M   record M's floor from the last run's mutants/ (no new run;
                                                      refused when some of M's mutants were not run)

mutmut runs each mutant only against the tests/unit tests that executed the mutated function
(it records that once per run), so a survivor has already met every unit test that reaches it.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_LOG = ROOT / "mutants.log"  # mutmut's own output of the last run (git-ignored)
FLOORS = Path(__file__).with_name("floors.json")
PACKAGES = ("crypto", "protocol")
# The checks that guard trust (issue 24): their score may never drop below the recorded floor.
TRUST_MODULES = (
    "crypto/signing.py",
    "protocol/policy.py",
    "crypto/audit_bundle.py",
    "crypto/witness.py",
    "crypto/note.py",
    "protocol/checkpoint.py",
    "protocol/cases.py",
    # protocol/ (issue 24, mutB): envelope decoding (size bounds, strict JSON, what is signed), the log
    # receipt, the canonical JSON and strict base64 that signatures cover, MLA and alert rules
    "protocol/envelope.py",
    "protocol/receipts.py",
    "protocol/canonical.py",
    "protocol/encoding.py",
    "protocol/mla.py",
    "protocol/alerts.py",
    # the catalog of message classes (issue 16, proto16): the registry, the types each role may send
    "protocol/messages.py",
    "protocol/catalog.py",
    "protocol/message_class.py",
    "crypto/directory.py",
    "crypto/keys.py",
    "crypto/tokens.py",
    "crypto/pki.py",
    "crypto/sealing.py",
    "crypto/witness_policy.py",
    # issue 24, mut24: the Merkle proofs every checkpoint and receipt check rests on, the key ceremony
    # (a join request's key binding, the node's check of its admission), the schema of every body
    "crypto/merkle.py",
    "crypto/join.py",
    "protocol/schema.py",
    # issue 24, mut24 (second pass): the root operator's check of a server's TLS certificate request and
    # of the TLS CA's revocation lists; the person alert's issuer-only and recipients rules
    "crypto/tls_request.py",
    "protocol/person.py",
    # issue 17: a profile is its own country's and newest-wins; an evidence file's chunks match what the
    # sealed request declared
    "protocol/profiles.py",
    "protocol/files.py",
    # issue 17, evid17f: the binary frame of a file chunk (its length prefix; the bytes beside the JSON)
    "protocol/frame.py",
    # issue 24, mutk: a restored node's resend.request window rule and its recipient narrowing
    "protocol/resend.py",
)
KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, a pytest error, or a time-out (mutmut's own codes)
UNTESTED = {5, 33}  # no test reaches the mutated function: counted as a survivor


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def all_modules() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py") if p.name != "__init__.py"
    )


def source_hash(path: str) -> str:
    return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()


def function_hashes(path: str) -> dict[str, str]:
    """sha256 of each function mutmut mutates (module-level functions and methods), by mutmut's mangled name."""
    source = (ROOT / path).read_text()
    hashes = {}

    def add(name: str, node: ast.AST) -> None:
        hashes[name] = hashlib.sha256(ast.get_source_segment(source, node).encode()).hexdigest()

    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(f"x_{node.name}", node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    add(f"x\u01c1{node.name}\u01c1{item.name}", item)
    return hashes


def changed_functions(path: str, recorded: dict) -> list[str]:
    """Functions of `path` that are new or differ from the version whose floor was recorded."""
    old = recorded.get("functions", {})
    return sorted(name for name, digest in function_hashes(path).items() if old.get(name) != digest)


def run_mutmut(patterns: list[str], jobs: int, deadline_s: float | None) -> bool:
    """Run mutmut on the mutants matching `patterns`; False if it was stopped at the deadline."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # tests must import the mutants, not ROOT
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = ["nice", "-n", "10", str(mutmut), "run", "--max-children", str(jobs), *patterns]
    with RUN_LOG.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait()
            return False
    return True


def did_not_run(rows: dict[str, dict]) -> list[str]:
    """Modules mutmut ran no mutant of although it made some (or left no results at all): its first,
    unmutated run of the tests failed, after which it runs nothing. Never a score: a check or a
    record that ran nothing must not pass."""
    return [p for p, r in rows.items()
            if not (ROOT / "mutants" / (p + ".meta")).exists() or (r["mutants"] == 0 and r["unchecked"] > 0)]


def tally(path: str, functions: list[str] | None = None) -> dict:
    meta = ROOT / "mutants" / (path + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    if functions is not None:
        prefixes = tuple(f"{module_name(path)}.{f}__mutmut_" for f in functions)
        codes = {k: c for k, c in codes.items() if k.startswith(prefixes)}
    checked = {k: c for k, c in codes.items() if c is not None}  # None: not run (not selected, or deadline)
    killed = sorted(k for k, c in checked.items() if c in KILLED)
    survivors = sorted(k for k, c in checked.items() if c not in KILLED)
    score = len(killed) / len(checked) if checked else 1.0
    return {"mutants": len(checked), "killed": len(killed), "score": score, "survivors": survivors,
            "unchecked": len(codes) - len(checked)}


def print_table(rows: dict[str, dict], floors: dict) -> None:
    print("| module | mutants | killed | score | floor |")
    print("|---|---|---|---|---|")
    for path, r in rows.items():
        floor = floors.get(path, {}).get("floor")
        print(f"| {path} | {r['mutants']} | {r['killed']} | {r['score']:.2f} | {'' if floor is None else f'{floor:.2f}'} |")
    total = sum(r["mutants"] for r in rows.values())
    killed = sum(r["killed"] for r in rows.values())
    if total:
        print(f"| all | {total} | {killed} | {killed / total:.2f} | |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", help="paths such as crypto/signing.py (default: all of crypto/, protocol/)")
    ap.add_argument("--check", action="store_true",
                    help="mutate the changed functions of changed trust-guarding modules; fail below the floor")
    ap.add_argument("--record", action="store_true", help="record this run's scores and source hashes as floors")
    ap.add_argument("--accept", action="store_true",
                    help="with --check: once every checked module meets its floor, record the source hashes of "
                         "the functions checked (the floors stay as they are)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel mutants (default 1: the machine is shared)")
    ap.add_argument("--deadline", type=float, default=None, help="stop mutmut after this many seconds")
    ap.add_argument("--survivors", action="store_true", help="list surviving mutants (see one: mutmut show NAME)")
    ap.add_argument("--reuse", action="store_true",
                    help="tally the last run's mutants/ instead of running mutmut (after `mutmut run NAME` re-runs)")
    args = ap.parse_args(argv)

    floors = json.loads(FLOORS.read_text()) if FLOORS.exists() else {}
    functions: dict[str, list[str] | None] = {}
    if args.accept and not args.check:
        ap.error("--accept goes with --check")
    if args.check:
        for m in TRUST_MODULES:
            if floors.get(m, {}).get("sha256") != source_hash(m):
                functions[m] = changed_functions(m, floors.get(m, {}))
        if not any(functions.values()):
            print("mutation check: no function of a trust-guarding module changed since its floor was recorded")
            return 0
        patterns = [f"{module_name(m)}.{f}__mutmut_*" for m, fs in functions.items() for f in fs]
    else:
        modules = args.modules or all_modules()
        unknown = [m for m in modules if m not in all_modules()]
        if unknown:
            ap.error(f"not a module of {'/, '.join(PACKAGES)}/: {', '.join(unknown)}")
        functions = dict.fromkeys(modules)
        patterns = [f"{module_name(m)}.*" for m in modules]

    started = time.monotonic()
    if args.reuse:
        if args.check:
            ap.error("--check always runs the mutants of the changed functions")
        rows = {m: tally(m, fs) for m, fs in functions.items() if fs is None or fs}
        # A module the last run did not reach, or reached in part, has no score to record.
        finished = all(r["mutants"] and not r["unchecked"] for r in rows.values())
    else:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # a stale copy would mutate old sources
        finished = run_mutmut(patterns, args.jobs, args.deadline)
        rows = {m: tally(m, fs) for m, fs in functions.items() if fs is None or fs}
    missing = did_not_run(rows) if not args.reuse and finished else []
    if missing:
        tail = RUN_LOG.read_text(errors="replace").splitlines()[-25:] if RUN_LOG.exists() else []
        print("\n".join(tail))
        print(f"mutation run FAILED: mutmut produced no results for {', '.join(missing)}: its clean run of "
              f"tests/unit must pass first (its output above, all of it in {RUN_LOG.name}); nothing recorded")
        return 1
    print_table(rows, floors)
    print(f"({len(rows)} modules in {time.monotonic() - started:.0f} s"
          f"{'' if finished else ', not every mutant run (deadline, or --reuse of a part run)'})")
    if args.survivors or args.check:
        for m, r in rows.items():
            for name in r["survivors"]:
                print(f"survived: {name}")

    if args.record and args.reuse and not finished:
        print("nothing recorded: the last run did not run every mutant of these modules")
        return 1
    if args.record:
        for m, r in rows.items():
            # Rounded down: 0.996 rounded to 1.00 would fail the next check of the same code.
            floors[m] = {"floor": math.floor(r["score"] * 100 + 1e-9) / 100 if finished
                         else floors.get(m, {}).get("floor", 0.0),
                         "sha256": source_hash(m), "functions": function_hashes(m)}
        FLOORS.write_text(json.dumps(dict(sorted(floors.items())), indent=2) + "\n")  # ASCII, as committed
    if args.check:
        failed = False
        for m, r in rows.items():
            floor = floors.get(m, {}).get("floor", 1.0)
            if r["unchecked"]:
                failed = True
                print(f"mutation check FAILED: {r['unchecked']} mutants of {m} were not run before the deadline; "
                      f"run `python -m tests.mutation.run {m}` on a quieter machine")
            elif r["score"] + 1e-9 < floor:
                failed = True
                print(f"mutation check FAILED: the changed functions of {m} score {r['score']:.2f}, below the "
                      f"module's floor {floor:.2f}: add unit tests that kill the survivors above "
                      f"(mutmut show NAME), or list a true equivalent in docs/testing.md and re-record with "
                      f"`python -m tests.mutation.run --record {m}`")
        if not failed and args.accept:
            accept(floors, rows)
        return 1 if failed else 0
    return 0


def accept(floors: dict, rows: dict[str, dict]) -> None:
    """After a passing check: the modules' current source and function hashes become the recorded
    ones, their floors unchanged. Each changed function has just met its module's floor; the next
    check mutates only functions that change after this. A module without a floor is not accepted
    (record it with --record)."""
    accepted = []
    for m in rows:
        if "floor" in floors.get(m, {}):
            floors[m] = {**floors[m], "sha256": source_hash(m), "functions": function_hashes(m)}
            accepted.append(m)
    FLOORS.write_text(json.dumps(dict(sorted(floors.items())), indent=2) + "\n")
    print(f"accepted (function hashes recorded, floors kept): {', '.join(accepted) or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
