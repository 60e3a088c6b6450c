"""`somex db upgrade`, `somex node backup|restore`, `somex hub backup|restore` (issue 18).

Without --db each command uses the deployment's database (STATE_DIR/hub/audit.db,
STATE_DIR/nodes/<ID>/node.db). Every refusal is one line with its reason code; nothing changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nodes.plumbing.cli_support import CliError, country_code, emit

KEYS_NOT_INCLUDED = ("the private keys (signing, sealing, TLS) are NOT in it: they live in the federation "
                     "directory {federation}; back that up separately, encrypted and offline (docs/operations.md)")


def add_db_parser(sub: Any) -> None:
    db = sub.add_parser("db", help="the hub's and nodes' database schemas").add_subparsers(dest="action",
                                                                                          required=True)
    upgrade = db.add_parser("upgrade", help="migrate a stopped hub's or node's database to this release's schema "
                                            "(back it up first)")
    side = upgrade.add_mutually_exclusive_group(required=True)
    side.add_argument("--hub", action="store_true", help="the hub's audit database")
    side.add_argument("--node", metavar="COUNTRY", help="a national node's database, e.g. MEX")
    upgrade.add_argument("--db", help="the database URL (default: the deployment's in STATE_DIR)")
    from nodes.app.db_ha import add_db_ha_parsers

    add_db_ha_parsers(db)


def add_backup_parsers(hub: Any, node: Any) -> None:
    """`backup` and `restore` under `somex hub` and `somex node`."""
    for group, side in ((hub, "hub"), (node, "node")):
        made = group.add_parser("backup", help=f"a consistent copy of the {side}'s database, while it runs "
                                               "(never its keys)")
        made.add_argument("--out", type=Path, required=True, help="the backup file to write (0600)")
        back = group.add_parser("restore", help=f"replace the stopped {side}'s database with a backup")
        back.add_argument("file", type=Path, help=f"a file written by 'somex {side} backup'")
        for parser in (made, back):
            if side == "node":
                parser.add_argument("--country", required=True, help="the node's ISO 3166-1 alpha-3 code")
            parser.add_argument("--db", help="the database URL (default: the deployment's in STATE_DIR)")


def _target(args: argparse.Namespace, side: str, country: str | None):  # noqa: ANN202
    """(schema, holder, db URL, federation dir, what) of the command's database."""
    from nodes.plumbing.deployment import Deployment

    if side == "hub":
        from nodes.hub.schema import HUB_SCHEMA
        from protocol.policy import HUB_ID

        schema, holder, what = HUB_SCHEMA, HUB_ID, "hub's database"
    else:
        from nodes.national.schema import NODE_SCHEMA

        schema, holder, what = NODE_SCHEMA, country_code(country or "", "--country"), f"{country}'s node database"
    if args.db:
        return schema, holder, args.db, args.state_dir / "federation", what
    deployment = Deployment.load(args.state_dir)
    config = deployment.hub_config() if side == "hub" else deployment.node_config(holder)
    return schema, holder, config.db_url, config.federation_dir, what


def run_db(args: argparse.Namespace) -> int:
    if args.action != "upgrade":
        from nodes.app.db_ha import run_db_ha

        return run_db_ha(args)
    from sqlalchemy.exc import OperationalError

    from nodes.plumbing.db import make_engine
    from nodes.plumbing.schema import UNVERSIONED, upgrade, where

    from nodes.plumbing.db import sqlite_path

    side = "hub" if args.hub else "node"
    schema, holder, db_url, _, what = _target(args, side, args.node and args.node.upper())
    path = sqlite_path(db_url)
    if path is not None and not path.is_file():  # a typo must not leave a new empty database behind
        raise CliError(f"no {what} at {path}: check --db (a new database is made by starting the {side}; "
                       f"nothing changed)")
    engine = make_engine(db_url)
    at = where(engine)
    try:
        before, after = upgrade(engine, schema, holder)
    except OperationalError as exc:
        raise CliError(f"cannot reach the {what} {where(engine)}: {str(exc.orig).strip().splitlines()[0]}; "
                       f"check --db (nothing changed)") from None
    finally:
        engine.dispose()
    start = {None: "none (an empty database)", UNVERSIONED: "none (made by somex 0.3: checked, adopted as 0001)"
             }.get(before, before)
    emit(args, {"holder": holder, "side": side, "before": before, "after": after},
         f"{what} {at}: schema revision {start} -> {after}"
         if before != after else f"{what}: already at schema revision {after}, nothing to do")
    return 0


def run_backup(args: argparse.Namespace, side: str) -> int:
    """`somex hub|node backup|restore`."""
    from nodes.plumbing.backup import backup, restore

    schema, holder, db_url, federation_dir, what = _target(args, side, getattr(args, "country", None) and
                                                           args.country.upper())
    keys = KEYS_NOT_INCLUDED.format(federation=federation_dir)
    if args.action == "backup":
        facts = backup(db_url, args.out, schema, holder)
        emit(args, {"file": str(args.out), "holder": holder, "revision": facts.revision, "keys_included": False,
                    "keys": keys},
             f"backup of the {what} (schema revision {facts.revision or '0001, unversioned'}) written to "
             f"{args.out}; {keys}")
        return 0
    from nodes.plumbing.store_lease import StoreInUse

    try:
        facts = restore(args.file, db_url, schema, holder, what)
    except StoreInUse as exc:
        raise CliError(str(exc)) from None
    after = _after_restore(side, db_url, holder, federation_dir)
    emit(args, {"file": str(args.file), "holder": holder, "revision": facts.revision, **after},
         f"the {what} was restored from {args.file} (schema revision {facts.revision or '0001, unversioned'}); "
         f"{after['next']}")
    return 0


def _after_restore(side: str, db_url: str, holder: str, federation_dir: Path) -> dict[str, Any]:
    """What the operator must know after a restore (docs/operations.md, "Backup and restore")."""
    from sqlalchemy import func, select

    from nodes.plumbing.db import make_engine

    if side == "node":
        return _ask_peers(db_url, holder, federation_dir)
    from nodes.hub.audit import entries

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            size = conn.execute(select(func.count()).select_from(entries)).scalar_one()
    finally:
        engine.dispose()
    return {"log_size": size,
            "next": f"the audit log continues from the restored head ({size} entries): every witness that "
                    f"cosigned a larger log refuses it and raises an alarm; restore the newest backup, or follow "
                    f"docs/operations.md, 'Restoring the hub'"}


def _ask_peers(db_url: str, country: str, federation_dir: Path) -> dict[str, Any]:
    """A restored node asks each peer for what it missed (nodes/national/resend.py): the signed
    requests are queued in its outbox and go out when it starts."""
    from crypto.errors import CryptoError
    from nodes.national.resend import ask_peers
    from nodes.plumbing.config import utcnow
    from nodes.plumbing.db import make_engine
    from nodes.plumbing.federation import load_federation

    engine = make_engine(db_url)
    try:
        asked = ask_peers(engine, load_federation(federation_dir, utcnow()), country, utcnow())
    except (OSError, KeyError, ValueError, CryptoError) as exc:
        return {"resend_requests": {}, "next": f"the peers were NOT asked to send again what {country} missed: "
                f"cannot sign with its keys from {federation_dir} ({exc}); put its federation directory in place "
                "and run this restore again (docs/operations.md, 'Restoring a node')"}
    finally:
        engine.dispose()
    if asked["why"]:
        return {"resend_requests": {}, "next": f"the peers were NOT asked to send again what {country} missed: "
                f"{asked['why']}; ask their focal points (docs/operations.md, 'Restoring a node')"}
    return {"resend_requests": asked["asked"],
            "next": f"start the node: it asks {len(asked['asked'])} peer(s) to send again what they sent it since "
                    "the backup (resend.request, queued in its outbox); what they still hold comes back, stored "
                    "once (docs/operations.md, 'Restoring a node')"}
