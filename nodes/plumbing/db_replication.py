"""The hub's PostgreSQL in high availability (docs/database-ha.md): the multi-host URL and the
start-up refusals.

A URL naming more than one host is HA: the hub then requires a writable target
(`target_session_attrs=read-write` or `primary`, so libpq never settles on a standby) and
synchronous replication on the server it reaches (a commit, and so an ack on hub.in, exists on the
standby too). `--require-sync-replica` asks the same of a one-host URL (a proxy or virtual address in
front of the pair). SQLAlchemy's URL parser takes one host in its netloc: `a:1,b:2` there is
rewritten as libpq's repeated `host=` parameters, which SQLAlchemy's psycopg dialect passes on.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

WRITABLE_TARGETS = ("read-write", "primary")
ASYNC_COMMIT = ("off", "local")
_MULTI_NETLOC = re.compile(r"^(?P<scheme>postgresql(?:\+\w+)?://)(?P<user>[^@/]*@)?(?P<hosts>[^/@?]*,[^/?]*)"
                           r"(?P<rest>/.*)?$")


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://u@h1:p1,h2:p2/db?x=y` as `postgresql+psycopg://u@/db?host=h1:p1&host=h2:p2&x=y`."""
    found = _MULTI_NETLOC.match(url)
    if found is None:
        return url
    path, _, query = (found["rest"] or "/").partition("?")
    hosts = "&".join(f"host={h.strip()}" for h in found["hosts"].split(",") if h.strip())
    return f"{found['scheme']}{found['user'] or ''}{path}?{hosts}" + (f"&{query}" if query else "")


def hosts_of(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    parsed = make_url(libpq_url(url))
    if not parsed.drivername.startswith("postgresql"):
        return []
    extra = parsed.query.get("host", ())
    extra = [extra] if isinstance(extra, str) else list(extra)
    return ([parsed.host] if parsed.host else []) + [h for part in extra for h in part.split(",")]


def url_refusal(url: str) -> str | None:
    """Why a multi-host URL is unsafe for the hub's log (None: fine, or not multi-host)."""
    from sqlalchemy.engine import make_url

    if len(hosts_of(url)) < 2:
        return None
    target = make_url(libpq_url(url)).query.get("target_session_attrs")
    if target not in WRITABLE_TARGETS:
        return ("the hub's database URL names several hosts but no writable target: add "
                "'target_session_attrs=read-write' to it (libpq could otherwise connect to a read-only standby)")
    return None


def replication_refusal(engine: Engine) -> str | None:
    """Why the server the engine reaches does not replicate synchronously (None: it does)."""
    with engine.connect() as conn:
        names = conn.execute(text("SHOW synchronous_standby_names")).scalar() or ""
        commit = conn.execute(text("SHOW synchronous_commit")).scalar() or ""
    if not names.strip():
        return ("the hub's PostgreSQL replicates asynchronously (synchronous_standby_names is empty), where "
                "synchronous replication is required: an acknowledged message could be lost in a failover; "
                "wait for the standby to be in sync ('somex db status' or 'pg_autoctl show state') or fix the "
                "failover manager's settings (docs/database-ha.md)")
    if commit in ASYNC_COMMIT:
        return (f"the hub's PostgreSQL has synchronous_commit={commit}, where synchronous replication is "
                "required: set it to 'on' or 'remote_apply' for the hub's role or database (docs/database-ha.md)")
    return None


def requires_sync_replica(url: str, flag: bool = False) -> bool:
    """HA is required by a multi-host URL, or asked for (`--require-sync-replica`)."""
    return flag or len(hosts_of(url)) >= 2
