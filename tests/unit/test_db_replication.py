"""The hub's multi-host PostgreSQL URL (docs/database-ha.md): rewritten as libpq's host parameters,
which SQLAlchemy's psycopg dialect hands to libpq; HA is required by several hosts, and then a
writable target."""

from __future__ import annotations

from sqlalchemy import create_engine

from nodes.plumbing.db_replication import hosts_of, libpq_url, requires_sync_replica, url_refusal

MULTI = "postgresql+psycopg://hub@db1.example:5432,db2.example:5433/somex?target_session_attrs=read-write"


def test_a_multi_host_netloc_becomes_libpq_host_parameters_that_psycopg_receives() -> None:
    url = libpq_url(MULTI)
    assert url == ("postgresql+psycopg://hub@/somex?host=db1.example:5432&host=db2.example:5433"
                   "&target_session_attrs=read-write")
    engine = create_engine(url)
    _, params = engine.dialect.create_connect_args(engine.url)
    assert (params["host"], params["port"]) == ("db1.example,db2.example", "5432,5433")
    assert params["target_session_attrs"] == "read-write"
    assert libpq_url(url) == url  # already in that form: unchanged
    assert libpq_url("postgresql+psycopg://hub@db1.example/somex") == "postgresql+psycopg://hub@db1.example/somex"
    assert libpq_url("sqlite:///x.db") == "sqlite:///x.db"


def test_several_hosts_require_synchronous_replication_and_a_writable_target() -> None:
    assert hosts_of(MULTI) == ["db1.example:5432", "db2.example:5433"]
    assert requires_sync_replica(MULTI)
    assert url_refusal(MULTI) is None
    assert url_refusal(MULTI.replace("read-write", "primary")) is None
    for unsafe in (MULTI.split("?")[0], MULTI.replace("read-write", "any"),
                   MULTI.replace("read-write", "prefer-standby")):
        assert "target_session_attrs=read-write" in url_refusal(unsafe)


def test_one_host_requires_nothing_unless_asked() -> None:
    one = "postgresql+psycopg://hub@db1.example/somex"
    assert hosts_of(one) == ["db1.example"] and url_refusal(one) is None
    assert not requires_sync_replica(one) and requires_sync_replica(one, flag=True)
    assert not requires_sync_replica("sqlite:///x.db") and hosts_of("sqlite:///x.db") == []
