"""A withdrawn alert's tombstone keeps only what orders versions (issue 20 item 4): a keyed hash
of the document instead of its number, no status, dates or national reference; the merge rule
stays exact (late older versions ignored, a newer create brings the alert back)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from nodes.national.features.alerts.replica import apply_versions, check_many, load_tombstone_key, replica, tombstone_number, versions_of
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.db import make_engine
from protocol import envelope as wire

START = utcnow() - timedelta(minutes=10)


def version(action: str, seconds: int, status: str = "stolen") -> tuple[wire.Envelope, dict]:
    body = {"document_number": "YT 4455667", "document_type": "passport", "issuing_country": "ITA",
            "status": status, "action": action, "reported": "2026-11-20", "national_reference": "ROMA-SQUADRA-7"}
    env = wire.build(message_id=new_message_id(), type="alert.document", sender="ITA", recipients=["*"],
                     created=START + timedelta(seconds=seconds), ttl=timedelta(hours=1), body=body)
    return env, body


def apply(engine, key: bytes, *items: tuple[wire.Envelope, dict]) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        for env, body in items:
            apply_versions(conn, versions_of(env, [body]), tombstone_key=key)


def rows(engine) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(replica))]


def hit(engine) -> bool:  # noqa: ANN001
    [result] = check_many(engine, [("ITA", "passport", "YT4455667")], utcnow().date().isoformat())
    return result.alert is not None


def test_a_tombstone_holds_no_number_reference_status_or_dates(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    replica.metadata.create_all(engine)
    key = load_tombstone_key(tmp_path)
    create, withdraw = version("create", 0), version("withdraw", 5, "lost")
    apply(engine, key, create, withdraw)
    [row] = rows(engine)
    assert row["number"] == tombstone_number(key, "ITA", "passport", "YT4455667") != "YT4455667"
    assert row["document_number"] == row["number"] and not row["active"]
    assert (row["status"], row["reported"], row["national_reference"], row["issue_date"]) == ("", "", None, None)
    assert row["review_date"] == "2036-11-20"  # the purge still finds it
    text = " ".join(str(v) for v in row.values())
    assert "4455667" not in text and "ROMA" not in text
    engine.dispose()


def test_the_merge_rule_stays_exact_across_a_tombstone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    replica.metadata.create_all(engine)
    key = load_tombstone_key(tmp_path)
    create, update, withdraw, again = (version("create", 0), version("update", 2, "lost"), version("withdraw", 5),
                                       version("create", 9, "revoked"))
    apply(engine, key, withdraw)
    apply(engine, key, create, update)  # older than the withdrawal: both stay ignored
    assert not hit(engine) and len(rows(engine)) == 1 and not rows(engine)[0]["active"]
    apply(engine, key, again)  # a newer create: the alert is back under its number, the tombstone gone
    [row] = rows(engine)
    assert row["number"] == "YT4455667" and row["status"] == "revoked" and hit(engine)
    apply(engine, key, withdraw, create)  # redelivered older versions change nothing
    assert [r["status"] for r in rows(engine)] == ["revoked"]
    engine.dispose()


def test_the_tombstone_key_is_the_nodes_own_and_private(tmp_path: Path) -> None:
    key = load_tombstone_key(tmp_path)
    assert load_tombstone_key(tmp_path) == key and len(key) == 32
    assert (tmp_path / "tombstone.key").stat().st_mode & 0o777 == 0o600
    assert tombstone_number(key, "ITA", "passport", "X1") != tombstone_number(b"other" * 8, "ITA", "passport", "X1")


def test_the_replica_keeps_an_alert_at_most_ten_years_after_it_was_sent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    replica.metadata.create_all(engine)
    env, body = version("create", 0)
    body = {**body, "review_date": "9999-12-31"}
    env = wire.build(message_id=new_message_id(), type="alert.document", sender="ITA", recipients=["*"],
                     created=START, ttl=timedelta(hours=1), body=body)
    apply(engine, load_tombstone_key(tmp_path), (env, body))
    [row] = rows(engine)
    assert row["review_date"] == f"{START.year + 10}-{START:%m-%d}"
    engine.dispose()
