"""Border check benchmark: POST /api/border/check over HTTP (loopback, keep-alive) with a machine-
readable zone, against 1,000,000 person alerts and 10,000,000 document alerts in the node's
replicas (goal: p99 < 2 ms), and the ratio to a raw SQLite indexed lookup of the same rows measured
in the same run (the document's primary-key probe and the name's block-pair/birth-date probe,
with the keys computed beforehand).

The replicas are NOT filled through the federation: their rows are bulk-inserted directly with
sqlite3 executemany (the person alerts' index keys computed by the node's own functions), once,
into a database under /tmp that later runs reuse (SOMEX_BENCH_BORDER_DIR, default
/tmp/somex-bench-border). Each run drops every other table of that file and opens a node on it
(no broker: a check is local; a hit's `person.hit` is committed to the outbox, not published).

A second baseline, also measured in each run: one raw sqlite3 INSERT + COMMIT at synchronous=FULL in
a small file on the same disk (what one durable write costs now); a hit's p99 is printed as a
ratio to its p99. A third: the HTTP floor, the same zones POSTed by the same client process to a
handler on the same server that reads the body and answers a constant (the node's middlewares
included: security headers, rate limit, CSRF guard): what HTTP alone costs now.

Each check is one zone (TD3): the document probe (10M rows), the name's candidates, the scoring,
and the access-log write (synchronous=FULL) that every check touching person data makes before it
answers. One in ten zones names an alerted person (a match, scored, and a durable `person.hit`:
held in the check's transaction, then signed and queued in the outbox by the person feature's
reporter, which runs here as under `somex serve`; the run ends by checking every hit's report is
in the outbox).
Run: python -m tests.bench.bench_border_check [--persons N] [--documents N] [--samples N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, text

from nodes.national.features.alerts import replica as alerts
from nodes.national.api import make_app
from nodes.national.features.person import store as person_store
from nodes.national.features.person.names import PersonName, index_keys
from nodes.national.node import NationalNode
from nodes.national.schema import NODE_SCHEMA, node_metadata
from nodes.plumbing.config import NodeConfig
from nodes.plumbing.heap import settle_heap, tune_malloc
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import free_port
from nodes.plumbing.schema import head
from protocol.mrz import check_digit
from protocol.person import name_entry
from protocol.ratelimit import RateLimit
from tests.bench.bench_alerts import _INSERT as DOCUMENT_INSERT
from tests.bench.bench_alerts import raw_replica_rows
from tests.integration.federation import make_federation

GOAL_P99_MS = 2.0
LAYOUT = 2  # of the cached replicas: a cache of another layout is built again
ISSUER = "MEX"
CHECKED_AT = "IDN"
REPORTED = "2026-11-20"
# Syllables of made-up names; three-syllable family names and two-syllable given names give about
# 6 million distinct family names, so the replica has as few exact duplicates as a real one.
_SYLLABLES = ("ba", "ko", "ri", "ta", "mu", "sa", "ne", "lo", "vi", "de", "ha", "zu", "pe", "mi", "go", "ra",
              "shi", "an", "el", "or", "ka", "tu", "ni", "le", "fa", "jo", "we", "yu", "ch", "dr", "st", "kh",
              "gu", "bo", "pa", "ze", "li", "ma", "ro", "su", "da", "fi", "ho", "ju", "ke", "lu", "mo", "no")
_KEEP = {"alert_replica", "person_alerts", "person_alert_keys", "bench_meta"}


def person_of(i: int) -> tuple[str, str, str]:
    """(family, given, date of birth) of alert i: deterministic, so queries can be made without
    reading the replica."""
    rng = random.Random(i)
    family = "".join(rng.choice(_SYLLABLES) for _ in range(3)).upper()
    given = "".join(rng.choice(_SYLLABLES) for _ in range(2)).upper()
    return family, given, f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def alert_body(i: int) -> dict:
    family, given, dob = person_of(i)
    return {"action": "create", "issuer": ISSUER, "national_reference": f"PA-{i}", "reported": REPORTED,
            "subject": {"family_name": name_entry(family), "given_names": name_entry(given), "date_of_birth": dob,
                        "nationality": "MEX", "sex": "M"},
            "basis": "suspected", "legal_basis": "Ley de Migración art. 159", "handling_code": "H2",
            "recipients": "all"}


def _person_rows(start: int, n: int) -> tuple[list[tuple], list[tuple]]:
    alerts_rows, key_rows = [], []
    for i in range(start, start + n):
        body = alert_body(i)
        alert_id = i + 1
        alerts_rows.append((alert_id, ISSUER, body["national_reference"], f"2026-11-23T00:00:00Z|{i:036d}",
                            f"{i:036d}", 0, "2029-11-20", json.dumps(body, sort_keys=True)))
        born = body["subject"]["date_of_birth"]
        key_rows.extend((k, born, alert_id) for k in index_keys(person_store.subject_name(body)))
    return alerts_rows, key_rows


def build_replica(path: Path, persons: int, documents: int) -> None:
    """The replicas, once: reused while `bench_meta` says they hold what is asked."""
    if path.exists():
        conn = sqlite3.connect(path)
        try:
            meta = dict(conn.execute("SELECT name, value FROM bench_meta").fetchall())
        except sqlite3.Error:
            meta = {}
        conn.close()
        if meta.get("persons") == persons and meta.get("documents") == documents and meta.get("layout") == LAYOUT:
            print(f"   reusing the replicas in {path} ({path.stat().st_size / 1e9:.2f} GB)")
            return
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    alerts.metadata.create_all(engine)
    person_store.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a bulk build; the checks run with the node's settings
    started = time.perf_counter()
    for offset in range(0, documents, 200_000):
        conn.executemany(DOCUMENT_INSERT, raw_replica_rows(ISSUER, offset, min(200_000, documents - offset)))
        conn.commit()
    print(f"   {documents:,} document alerts written with raw executemany in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    for offset in range(0, persons, 20_000):
        person_rows, key_rows = _person_rows(offset, min(20_000, persons - offset))
        conn.executemany("INSERT INTO person_alerts VALUES (?,?,?,?,?,?,?,?)", person_rows)
        conn.executemany("INSERT INTO person_alert_keys VALUES (?,?,?)", key_rows)
        conn.commit()
    keys = conn.execute("SELECT COUNT(*) FROM person_alert_keys").fetchone()[0]
    print(f"   {persons:,} person alerts ({keys:,} index entries) written with raw executemany in "
          f"{time.perf_counter() - started:.0f} s")
    conn.execute("CREATE TABLE bench_meta (name TEXT PRIMARY KEY, value INTEGER)")
    conn.executemany("INSERT INTO bench_meta VALUES (?, ?)",
                     [("persons", persons), ("documents", documents), ("layout", LAYOUT)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"   replicas in {path} ({path.stat().st_size / 1e9:.2f} GB)")


def _drop_other_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if name not in _KEEP and not name.startswith("sqlite_"):
            conn.execute(f'DROP TABLE "{name}"')
    conn.commit()
    conn.close()


def _stamp_at_head(path: Path) -> None:
    """The node's other tables from its models, and the database stamped at this release's schema:
    the replica is bulk-built, not migrated (tests/integration/test_migrations.py proves the models
    and the migrations make the same tables), and the node refuses an unversioned database."""
    engine = create_engine(f"sqlite:///{path}")
    for metadata in node_metadata():
        metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {NODE_SCHEMA.version_table} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text(f"INSERT INTO {NODE_SCHEMA.version_table} VALUES (:v)"), {"v": head(NODE_SCHEMA)})
        conn.execute(text(f"INSERT INTO {NODE_SCHEMA.identity_table} VALUES (:h, :t)"),
                     {"h": CHECKED_AT, "t": "2026-12-02T00:00:00Z"})
    engine.dispose()


def td3(number: str, family: str, given: str, birth: str) -> str:
    line1 = f"P<{ISSUER}{family}<<{given}".ljust(44, "<")[:44]
    num = number.ljust(9, "<")
    expiry = "320101"
    parts = f"{num}{check_digit(num)}", f"{birth}{check_digit(birth)}", f"{expiry}{check_digit(expiry)}"
    personal = "<" * 15
    composite = check_digit(parts[0] + parts[1] + parts[2] + personal)
    return f"{line1}\n{parts[0]}MEX{parts[1]}M{parts[2]}{personal}{composite}"


def queries(persons: int, samples: int, seed: int) -> list[tuple[str, bool, tuple]]:
    """(zone, names an alerted person, raw lookup parameters); one in ten names an alerted person."""
    rng = random.Random(seed)
    out = []
    for k in range(samples):
        if k % 10 == 0:
            family, given, dob = person_of(rng.randrange(persons))
            hit = True
        else:
            family, given, dob = person_of(persons + rng.randrange(10**9))  # not in the replica
            hit = False
        number = f"Z{rng.randrange(10**8):08d}"
        zone = td3(number, family, given, dob[2:4] + dob[5:7] + dob[8:10])
        keys = sorted(index_keys(PersonName.of(f"{family} {given}", None, dob)))
        out.append((zone, hit, (number, keys, dob)))
    return out


def raw_lookups(path: Path, wanted: list[tuple[str, bool, tuple]]) -> list[float]:
    """The baseline: the same two indexed probes in raw sqlite3, keys computed beforehand."""
    conn = sqlite3.connect(path)
    latencies = []
    for _, _, (number, keys, born) in wanted:
        t0 = time.perf_counter()
        conn.execute("SELECT * FROM alert_replica WHERE issuing_country = ? AND document_type = ? AND number = ?",
                     (ISSUER, "passport", number)).fetchall()
        conn.execute(f"SELECT alert_id FROM person_alert_keys WHERE key IN ({', '.join('?' * len(keys))}) "
                     "AND birth_date IN (?, ?, ?, '')", (*keys, born, born[:7], born[:4])).fetchall()
        latencies.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return latencies


def in_memory(path: Path) -> float:
    """Read the replica file through once, so that the run finds it in the page cache as a node
    sized for its replica (2.5 GB here) keeps it; seconds it took. Measured on this machine: its
    page cache shrinks by ~1 MB/s even with 20 GB free (25 MB of the replica were left a few minutes
    after a run), and a run on the evicted file reads its index pages from the disk (~0.2 ms each):
    no-hit p99 1.7-3.9 ms cold, 1.3-1.7 ms warm, the raw SQLite probes' p99 1.3 ms cold, 0.05-0.1 warm."""
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass
    return time.perf_counter() - started


def raw_commits(path: Path, n: int) -> list[float]:
    """The durability baseline: one INSERT and COMMIT in raw sqlite3 at the node's settings (WAL,
    synchronous=FULL), in a small file on the same disk: what a durable write costs here now."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS log (reference TEXT PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL)")
    latencies = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO log VALUES (?, ?, ?)", (f"BC-{os.getpid()}-{time.time_ns()}-{i}", "2026-12-02", "focal"))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return latencies


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def replica(args: argparse.Namespace) -> Path:
    """The cached replicas (built the first time), with only their tables, stamped at the schema's head."""
    db = Path(os.environ.get("SOMEX_BENCH_BORDER_DIR", "/tmp/somex-bench-border")) / \
        f"replicas-{args.persons}-{args.documents}.db"
    build_replica(db, args.persons, args.documents)
    _drop_other_tables(db)
    _stamp_at_head(db)
    return db


def checking_node(db: Path, label: str) -> tuple[NationalNode, str, Path]:
    """The checking country's node on the replicas `db`, its focal token, and the run's own
    directory beside them (delete it after the run; the replicas stay)."""
    work = db.parent / f"{label}-{os.getpid()}"
    work.mkdir(parents=True)
    fed = make_federation(SimpleNamespace(apply=lambda spec: None, amqp_port=free_port()), work, f"{label}-border",
                          countries=[ISSUER, CHECKED_AT])
    # the per-token rate limit (100/s) would measure the limiter: a border post's system is one token
    config = NodeConfig(CHECKED_AT, work / "federation", f"sqlite:///{db}", fed.address,
                        http_rate_limit=RateLimit(per_second=1e6, burst=10**6))
    return NationalNode(config, fed.federation), fed.federation.credentials(CHECKED_AT).tokens["focal"], work


async def client_process(port: int, token: str, zones: list[str],
                         path: str = "/api/border/check") -> tuple[list[float], list[bool]]:
    """The checks from a border post's client in its own process (tests/bench/http_client.py)."""
    job = json.dumps({"host": "127.0.0.1", "port": port, "token": token, "path": path,
                      "zones": zones}).encode()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.bench.http_client",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(job)
    if proc.returncode != 0:
        raise SystemExit(f"the client process failed ({proc.returncode})")
    answer = json.loads(out)
    return answer["latencies"], answer["matched"]


async def _client_in_process(session: aiohttp.ClientSession, url: str, zones: list[str]) -> tuple[list[float], list[bool]]:
    """The checks from an aiohttp client on the node's own event loop (the earlier way of measuring:
    the client's work and the node's share one loop, one GIL and one collector)."""
    latencies, matched = [], []
    for zone in zones:
        t0 = time.perf_counter()
        async with session.post(url, json={"mrz": zone}) as r:
            answer = await r.json()
        latencies.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200, answer
        matched.append(bool(answer["person_matches"]))
    return latencies, matched


def _collections() -> list[int]:
    return [generation["collections"] for generation in gc.get_stats()]


async def _http_floor(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"person_matches": []})


async def run(args: argparse.Namespace) -> list[dict[str, float]]:
    db = replica(args)
    node, token, work = checking_node(db, "run")
    app = make_app(node)
    app.router.add_post("/bench/http-floor", _http_floor)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    reporter = asyncio.create_task(node.person.reporter.run())  # as node.start() runs the feature's task
    hits = 0
    results = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        url = f"http://127.0.0.1:{port}/api/border/check"
        warm = [zone for zone, _, _ in queries(args.persons, 200, seed=99)]  # the page cache and the connection
        await (client_process(port, token, warm) if args.client == "process" else _client_in_process(session, url, warm))
        if args.gc == "served":  # the heap as `somex serve` leaves it once the node has started
            settle_heap()
        for n in range(args.runs):
            warmed = in_memory(db)
            wanted = queries(args.persons, args.samples, seed=n)
            raw = raw_lookups(db, wanted)
            commits = raw_commits(work / "raw-commit.db", len(wanted) // 4)
            zones = [zone for zone, _, _ in wanted]
            collected, cpu = _collections(), time.process_time()
            if args.client == "process":
                timed, matched = await client_process(port, token, zones)
            else:
                timed, matched = await _client_in_process(session, url, zones)
            cpu_per_check = (time.process_time() - cpu) / len(zones) * 1e6
            collections = [after - before for after, before in zip(_collections(), collected)]
            latencies = {True: [], False: []}
            wrong = false = 0
            for (_, hit, _), latency, found in zip(wanted, timed, matched):
                latencies[hit].append(latency)
                wrong += hit and not found
                false += not hit and found
            floor = (await client_process(port, token, zones, "/bench/http-floor"))[0] if args.client == "process" else []
            documents = []  # the existing document check over HTTP, same numbers: what the machine gives now
            for _, _, (number, _, _) in wanted:
                t0 = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/api/documents/check",
                                       params={"country": ISSUER, "type": "passport", "number": number}) as r:
                    await r.read()
                documents.append((time.perf_counter() - t0) * 1000)
            hits += sum(matched)
            every = latencies[True] + latencies[False]
            result = {"p50": _pct(every, 50), "p99": _pct(every, 99), "p999": _pct(every, 99.9),
                      "p90_hit": _pct(latencies[True], 90), "p99_hit": _pct(latencies[True], 99),
                      "p99_miss": _pct(latencies[False], 99), "raw_p50": _pct(raw, 50), "raw_p99": _pct(raw, 99),
                      "missed": wrong, "false": false, "doc_p50": _pct(documents, 50), "doc_p99": _pct(documents, 99),
                      "commit_p50": _pct(commits, 50), "commit_p99": _pct(commits, 99),
                      "floor_p50": _pct(floor, 50) if floor else float("nan"),
                      "floor_p99": _pct(floor, 99) if floor else float("nan")}
            results.append(result)
            print(f"   run {n + 1} (replica read into memory first, {warmed:.1f} s): over HTTP p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, p99.9 "
                  f"{result['p999']:.2f} ms (hits p90 {result['p90_hit']:.2f}, p99 {result['p99_hit']:.2f}; no hit p99 "
                  f"{result['p99_miss']:.2f}); node CPU {cpu_per_check:.0f} us/check; collections by generation "
                  f"{collections}; raw SQLite p50 {result['raw_p50']:.3f} ms, p99 {result['raw_p99']:.3f} ms; "
                  f"HTTP floor p50 {result['floor_p50']:.2f} ms, p99 {result['floor_p99']:.2f} ms; "
                  f"document check over HTTP p50 {result['doc_p50']:.2f} ms, p99 {result['doc_p99']:.2f} ms; ratio "
                  f"to raw p50 {result['p50'] / result['raw_p50']:.0f}x, p99 {result['p99'] / result['raw_p99']:.0f}x; "
                  f"raw SQLite INSERT+COMMIT (synchronous=FULL) p50 {result['commit_p50']:.2f} ms, p99 "
                  f"{result['commit_p99']:.2f} ms, hits p99 / commit p99 {result['p99_hit'] / result['commit_p99']:.1f}x; "
                  f"alerted persons not found: {wrong}, others matched: {false}")
    await runner.cleanup()
    reported = await _reports_queued(node, hits)
    reporter.cancel()
    print(f"   hit reports: {hits} hits timed, {reported} person.hit queued in the outbox by the reporter (warm-up "
          f"checks included), none left held")
    await node.stop()
    shutil.rmtree(work, ignore_errors=True)  # the run's federation; the replicas stay for the next run
    return results


async def _reports_queued(node: NationalNode, hits: int) -> int:
    """How many `person.hit` the outbox holds once the reporter has sent every held report; stops the
    bench if that is fewer than the hits timed (the reports are part of the work measured)."""
    deadline = time.monotonic() + 30
    with node.store.engine.connect() as conn:
        while conn.execute(text("SELECT COUNT(*) FROM held_hit_reports")).scalar():
            if time.monotonic() > deadline:
                raise SystemExit("hit reports still held 30 s after the last check: the reporter is stuck")
            conn.rollback()
            await asyncio.sleep(0.05)
        queued = conn.execute(text("SELECT COUNT(*) FROM messages WHERE type = 'person.hit'")).scalar()
    if queued < hits:
        raise SystemExit(f"{hits} hits but {queued} person.hit in the outbox")
    return queued


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_border_check", description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=2_000, help="checks timed per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--client", choices=("process", "in-process"), default="process",
                        help="the border post's client in a process of its own (default), or on the node's loop")
    parser.add_argument("--gc", choices=("served", "cpython"), default="served",
                        help="the heap as `somex serve` sets it (malloc tuned at start, start-up heap frozen), or "
                             "CPython's and glibc's defaults")
    args = parser.parse_args(argv)
    if args.gc == "served":
        tune_malloc()  # as nodes/app/serve.py does first
    configure_logging(os.environ.get("SOMEX_LOG_LEVEL", "WARNING"), json=True)
    print(f"== border check: {args.persons:,} person alerts, {args.documents:,} document alerts, "
          f"{os.cpu_count()} cores, SQLite (WAL, synchronous=FULL), client {args.client}, collector {args.gc}, "
          f"load {os.getloadavg()[0]:.1f}")
    results = asyncio.run(run(args))
    p99 = statistics.median(r["p99"] for r in results)
    print(f"border check p99 over HTTP (median of {len(results)} runs) {p99:.2f} ms (goal < {GOAL_P99_MS} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
