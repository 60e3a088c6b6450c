"""The hub's Merkle audit log on a real SQLite file: exports verify offline, and tampering with the
stored log — an edited, deleted, reordered or truncated-and-regrown entry — is caught, naming the
first bad entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from crypto.audit_bundle import verify_bundle
from crypto.note import cosign_note
from nodes.hub.audit import ACCEPTED, REJECTED, AuditEntry, AuditStore, SeenMessage, forwarded
from nodes.hub.export import export_bundle
from nodes.plumbing.db import make_engine
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def federation(tmp_path_factory):  # noqa: ANN001, ANN201
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "audit-test", ["MEX", "IDN"], NOW)
    return load_federation(path, NOW)


def entry(i: int, tag: str = "") -> AuditEntry:
    return AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at=f"2026-11-22T12:00:{i % 60:02d}.000000Z",
                      message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="MEX",
                      recipients=("IDN",), thread=f"case-{i % 7}{tag}", marks_seen=True)


class Log:
    def __init__(self, url: str, federation) -> None:  # noqa: ANN001
        self.url, self.federation = url, federation
        self.engine = make_engine(url)
        self.store = self.open()

    def open(self) -> AuditStore:
        creds = self.federation.credentials("HUB")
        return AuditStore(self.engine, "somex/audit-test/audit", creds.signing_key, "somex/audit-test/audit")

    def grow(self, n: int, every: int = 10, tag: str = "", witnesses: tuple[str, ...] = ("IDN", "MEX")) -> None:
        start = self.store.size
        for i in range(start, start + n, every):
            self.store.append([entry(j, tag) for j in range(i, min(i + every, start + n))])
            note = self.store.sign_checkpoint("2026-11-22T12:00:00.000000Z")
            if note is not None:
                self.cosign(self.store.size, witnesses)

    def cosign(self, size: int, witnesses: tuple[str, ...]) -> None:
        """What each witness node does with a checkpoint it has checked (nodes/national/witness.py)."""
        body = self.store.checkpoint(size).body
        for witness in witnesses:
            signature = cosign_note(body, witness, self.federation.credentials(witness).signing_key, 1_800_000_000)
            self.store.add_cosignature(size, witness, signature, 1_800_000_000)

    def export(self, **query) -> dict:  # noqa: ANN003
        raw = (self.federation.path / "directory.signed.json").read_bytes()
        return json.loads(json.dumps(export_bundle(self.store, raw, quorum=query.pop("quorum", 2), **query)))

    def verify(self, **query):  # noqa: ANN003, ANN201
        return verify_bundle(self.export(**query), self.federation.root_cert)

    def sql(self, statement: str, **params) -> None:  # noqa: ANN003
        """What someone with access to the database could do behind the hub's back."""
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request, tmp_path, federation) -> Log:  # noqa: ANN001
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(tmp_path.name.lower().replace("-", "_")[:60])
    built = Log(url, federation)
    built.grow(100)
    yield built
    built.engine.dispose()


def test_full_export_and_thread_export_verify(log: Log) -> None:
    report = log.verify()
    assert report.ok, [str(f) for f in report.findings]
    assert report.entries == 100 and report.checkpoints == 10 and report.tree_size == 100
    selection = log.verify(thread="case-3")
    assert selection.ok and selection.entries == len([i for i in range(100) if i % 7 == 3])


def test_changed_entry_is_named(log: Log) -> None:
    leaf = json.loads(log.store.entry(37)["leaf"])
    leaf["verdict"] = "rejected"
    log.sql("UPDATE audit_entries SET leaf = :leaf WHERE seq = 37", leaf=json.dumps(leaf, separators=(",", ":")).encode())
    report = log.verify()
    assert not report.ok and report.first_bad_index == 37
    assert log.verify(thread="case-2").first_bad_index == 37  # 37 % 7 == 2: its proof fails too


def test_deleted_entry_is_named(log: Log) -> None:
    log.sql("DELETE FROM audit_entries WHERE seq = 41")
    report = log.verify()
    assert not report.ok and report.first_bad_index == 41
    assert "missing_entry" in {f.what for f in report.findings}


def test_reordered_entries_are_named(log: Log) -> None:
    a, b = log.store.entry(20)["leaf"], log.store.entry(30)["leaf"]
    log.sql("UPDATE audit_entries SET leaf = :leaf WHERE seq = 20", leaf=b)
    log.sql("UPDATE audit_entries SET leaf = :leaf WHERE seq = 30", leaf=a)
    report = log.verify()
    assert not report.ok and report.first_bad_index == 20
    assert {f.index for f in report.findings if f.what == "misplaced_entry"} == {20, 30}


def test_truncated_and_regrown_log_is_caught(log: Log) -> None:
    # Someone with database access cuts the log at 53 and lets the hub grow it again: every new
    # entry and checkpoint is genuinely signed, but the old checkpoints contradict the new history.
    log.sql("DELETE FROM audit_entries WHERE seq >= 53")
    log.sql("DELETE FROM seen_messages WHERE seq >= 53")
    log.sql("DELETE FROM merkle_nodes WHERE (((id & 1099511627775) + 1) << CAST(id >> 40 AS INTEGER)) > 53")
    log.store = log.open()
    assert log.store.size == 53
    log.grow(60, tag="-regrown")  # now 113 entries; checkpoints 60..100 are the old history's
    report = log.verify()
    assert not report.ok
    assert "inconsistent_checkpoints" in {f.what for f in report.findings}
    rewritten = [f for f in report.findings if f.what == "rewritten_log"]
    assert rewritten and rewritten[0].index == 50 and "[50, 60)" in rewritten[0].detail


@pytest.mark.slow
def test_a_100000_entry_log_verifies(tmp_path, federation) -> None:  # noqa: ANN001
    log = Log(f"sqlite:///{tmp_path / 'big.db'}", federation)
    log.grow(100_000, every=1000)
    report = log.verify()
    assert report.ok and report.entries == 100_000 and report.checkpoints == 100


def test_an_empty_batch_appends_nothing(log: Log) -> None:
    # A batch of redeliveries that are all in the log already leaves the log as it was.
    root, size = log.store.root(), log.store.size
    log.store.append([])
    assert (log.store.root(), log.store.size) == (root, size)
    assert log.verify().ok


def test_spent_ids_are_found_with_their_entry_and_forwards_done_ride_in_an_append(log: Log) -> None:
    # What the hub reads before deciding a batch, and writes with the next batch (issue 19), on each database.
    first, unknown = entry(3).message_id, "01a20000-0000-7000-8000-ffffffffffff"
    assert log.store.seen([first, unknown, first]) == {first: SeenMessage(3, entry(3).digest, ACCEPTED)}
    assert log.store.seen([]) == {}
    log.store.append([entry(100)], forwarded={5: "2026-11-22T12:01:00.000000Z", 6: "2026-11-22T12:01:01.000000Z"})
    log.store.append([], forwarded={6: "2026-11-22T12:09:00.000000Z", 7: "2026-11-22T12:01:02.000000Z"})
    with log.engine.connect() as conn:
        done = dict(conn.execute(select(forwarded.c.seq, forwarded.c.at)).all())
    assert done == {5: "2026-11-22T12:01:00.000000Z", 6: "2026-11-22T12:01:01.000000Z",
                    7: "2026-11-22T12:01:02.000000Z"}  # a forward recorded already keeps its first time
    assert log.store.size == 101 and log.verify().ok


def test_hourly_volume_counts_each_recipient_of_accepted_entries(log: Log) -> None:
    # The fixture's log holds 100 entries of 2026-11-22T12, before the window.
    def sent(n: int, at: str, recipients: tuple[str, ...], verdict: str = ACCEPTED) -> AuditEntry:
        return AuditEntry(verdict=verdict, digest=f"{n:064x}", received_at=at, message_id=f"01a20000-0000-7000-9000-{n:012x}",
                          type="note", sender="MEX", recipients=recipients)

    log.store.append([sent(1, "2026-11-23T09:59:59.000000Z", ("IDN",)),  # before the window
                      sent(2, "2026-11-23T10:00:00.000000Z", ("IDN", "ITA")),
                      sent(3, "2026-11-23T10:30:00.000000Z", ("IDN",)),
                      sent(4, "2026-11-23T10:40:00.000000Z", ("IDN",), REJECTED),
                      sent(5, "2026-11-23T11:00:00.000000Z", ("ITA",))])
    assert log.store.hourly_volume("2026-11-23T10") == [
        ("2026-11-23T10", "MEX", "IDN", 2), ("2026-11-23T10", "MEX", "ITA", 1), ("2026-11-23T11", "MEX", "ITA", 1)]


def test_an_entry_with_lone_surrogates_is_still_written_and_verifies(log: Log) -> None:
    # JSON may carry "\ud800" (valid UTF-8 on the wire); RFC 8785 refuses it. Such a message is
    # rejected, and its rejection must still reach the log, not fail the batch that holds it.
    odd = AuditEntry(verdict=REJECTED, digest="ab" * 32, received_at="2026-11-22T12:01:00.000000Z", type="note",
                     sender="MEX", recipients=("IDN",), thread="t\ud800", reason="bad_field",
                     header={"ref\udc00": "x"}, handling={"code": "H2", "condition": "no\ud800 onward transfer"})
    log.store.append([odd, entry(101)])
    log.store.sign_checkpoint("2026-11-22T12:01:00.000000Z")
    log.cosign(log.store.size, ("IDN", "MEX"))
    stored = json.loads(log.store.entry(100)["leaf"])
    assert stored["handling"] == {"code": "H2", "condition": "no\ufffd onward transfer"}
    assert stored["thread"] == "t\ufffd" and stored["header"] == {"ref\ufffd": "x"}
    report = log.verify()
    assert report.ok and report.tree_size == 102, [str(f) for f in report.findings]


def test_an_export_spanning_a_rotation_of_the_hubs_key_verifies(tmp_path) -> None:  # noqa: ANN001
    """Checkpoints signed by the hub's old key, the bundle's directory listing old and new: it verifies
    (the old code trusted only the newest certificate and named every checkpoint as badly signed)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from crypto.join import make_join_request
    from crypto.keys import HybridSealingKey, SealingKey, SigningKey
    from nodes.app import ceremony

    path = tmp_path / "federation"
    init_federation(path, "audit-test", ["MEX", "IDN"], NOW)  # the witnesses Log.grow cosigns with
    built = Log(f"sqlite:///{tmp_path / 'audit.db'}", load_federation(path, NOW))
    built.grow(20)  # signed by the hub's current key
    hub = ceremony.node_home(path, "HUB")
    request = make_join_request("HUB", SigningKey.generate(),
                                SealingKey.from_pem((hub / "sealing.key").read_bytes()).public_bytes(),
                                HybridSealingKey.from_bytes((hub / "hybrid_sealing.key").read_bytes()).public_bytes(),
                                ec.generate_private_key(ec.SECP256R1()).public_key())
    ceremony.admit_request(path, request, NOW, rotation=True)
    built.federation = load_federation(path, NOW)
    assert len(built.federation.directory.node("HUB").certificates) == 2
    report = built.verify()
    assert report.ok, [str(f) for f in report.findings]
    built.engine.dispose()
