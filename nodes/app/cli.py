"""`somex`: the operator's command line."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import asyncio
import json
import sys
from pathlib import Path

from nodes.plumbing.api_client import add_cacert_argument
from nodes.app.tls_cli import add_broker_parsers as add_tls_broker_parsers
from nodes.app.tls_cli import add_federation_parser as add_tls_federation_parser
from nodes.plumbing.cli_support import DEFAULT_STATE, CliError, SomexArgumentParser, add_global_options, run_command
from nodes.plumbing.config import utcnow
from nodes.plumbing.logs import configure_logging
from nodes.app.inbox_cli import add_parser as add_inbox_parser
from nodes.app.inbox_cli import run as run_inbox
from nodes.app.supervisor import add_parsers as add_supervisor_parsers
from nodes.app.supervisor import run_stop, run_up
from nodes.plumbing.private_files import restrict_umask
from nodes.app.store_cli import add_backup_parsers, add_db_parser, run_backup, run_db
from nodes.plumbing.federation import ROLES



def main(argv: list[str] | None = None) -> int:
    restrict_umask()  # before anything is written: databases, logs, the broker's data (issue 14, item 6)
    args = build_parser().parse_args(argv)
    configure_logging()
    return run_command(HANDLERS[args.command], args)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand; the global options (--state-dir, --json) are added last, to all of them."""
    parser = SomexArgumentParser(prog="somex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fed = sub.add_parser("federation", help="the federation's PKI: create it, admit, remove and revoke members, "
                                            "reissue the directory with new types, set the witness policy, sign the broker's TLS certificate, publish the "
                                            "signed documents").add_subparsers(
        dest="action", required=True)
    init = fed.add_parser("init", help="create a root, keys, certificates and the signed directory")
    init.add_argument("--countries", required=True, help="comma-separated ISO 3166-1 alpha-3 codes, e.g. MEX,IDN,ITA")
    init.add_argument("--name", default="somex", help="federation name")
    init.add_argument("--dir", type=Path, help="output directory (default STATE_DIR/federation)")
    init.add_argument("--force", action="store_true", help="overwrite an existing federation")
    root = fed.add_parser("create-root", help="the root operator, offline: a new root key and certificate")
    root.add_argument("--name", required=True, help="federation name")
    root.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    admit = fed.add_parser("admit", help="the root operator, offline: admit a node's join request")
    admit.add_argument("request", type=Path, help="the node's join-request.json")
    admit.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    admit.add_argument("--rotation", action="store_true",
                       help="a new key for a member: listed beside its current one(s), which verify until the "
                            "overlap ends")
    admit.add_argument("--overlap-days", type=float, default=7,
                       help="with --rotation: how long the old key still verifies (messages in flight; default 7)")
    publish = fed.add_parser("publish", help="the hub operator: hand a root-signed directory or revocation list "
                                             "to the running hub, which applies and broadcasts it")
    publish.add_argument("file", type=Path, help="directory.signed.json or revocations.signed.json from the root")
    publish.add_argument("--hub-url", help="the hub's API (default: this state dir's hub, http://127.0.0.1:PORT/api)")
    publish.add_argument("--token-file", type=Path, help="a file holding the hub's operator token "
                                                       "(default: HUB's operator-tokens.json here)")
    add_cacert_argument(publish)
    publish.add_argument("--crl", type=Path, help="the root's tls-revocations.crl.pem to install in this host's "
                                                  "broker first (with a revocation list or a directory that removes "
                                                  "a member); FILE may also be that CRL alone")
    remove = fed.add_parser("remove", help="the root operator, offline: a directory without a member, and its TLS "
                                            "certificates on the TLS CA's CRL (publish both)")
    remove.add_argument("country", help="the member to remove (ISO 3166-1 alpha-3)")
    remove.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    policy = fed.add_parser("witness-policy", help="the root operator, offline: who witnesses the hub's log and "
                                                   "the quorum a checkpoint needs, in a new directory (publish it)")
    policy.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    policy.add_argument("--witnesses", help="comma-separated node ids, in policy order (default: every national node)")
    policy.add_argument("--quorum", help="cosignatures a checkpoint needs, 1..99 (default: the rule of "
                                         "docs/audit-log.md)")
    policy.add_argument("--cosign-interval", help="seconds: a witness cosigns at most once per window (0: every "
                                                  "checkpoint)")
    policy.add_argument("--default", action="store_true", help="state no policy: the documented defaults apply")
    reissue = fed.add_parser("reissue", help="the root operator, offline: a new directory (next serial) granting "
                                              "each member the catalog's message types it lacks, e.g. a class added "
                                              "since the federation was created; prints what it adds (publish it)")
    reissue.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    reissue.add_argument("--type", action="append", dest="types", metavar="TYPE",
                         help="grant only this catalog type (repeatable; default: every catalog type a member lacks)")
    reissue.add_argument("--days", type=int, default=365, help="the new directory's validity from now (default 365)")
    revoke_key = fed.add_parser("revoke", help="the root operator, offline: revoke a key id and the TLS certificate "
                                                "admitted with it (publish the list and the CRL)")
    revoke_key.add_argument("kid", help="64 hex digits: the SHA-256 of the raw public key")
    revoke_key.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    add_tls_federation_parser(fed)

    broker = sub.add_parser("broker", help="a private RabbitMQ on loopback").add_subparsers(dest="action", required=True)
    up = broker.add_parser("up", help="start it and load the federation's users, queues and permissions")
    up.add_argument("--amqp-port", type=int, default=0, help="default: a free port")
    up.add_argument("--amqp-host", default="127.0.0.1",
                    help="the address the AMQPS listener binds and clients connect to (a name in the broker's TLS "
                         "certificate); the management API stays on loopback. Default: 127.0.0.1")
    up.add_argument("--cluster", type=int, default=1, metavar="N",
                    help="start N RabbitMQ nodes (odd, at least 3) as one cluster with quorum queues")
    up.add_argument("--fresh", action="store_true",
                    help="discard the broker data in STATE_DIR/broker (messages queued in it are lost) and start a "
                         "new broker; without it, 'up' only ever restarts the broker recorded there")
    broker.add_parser("down", help="stop it")
    add_tls_broker_parsers(broker)
    broker.add_parser("status", help="is it running; queue depths")

    hub = sub.add_parser("hub", help="the hub").add_subparsers(dest="action", required=True)
    hub_run = hub.add_parser("run", help="relay and audit until stopped")
    hub_run.add_argument("--db", help="audit store URL (default: SQLite in STATE_DIR/hub; e.g. "
                                      "postgresql+psycopg://user@host/somex)")
    hub_run.add_argument("--require-sync-replica", action="store_true",
                         help="refuse to start unless the PostgreSQL server replicates synchronously (implied by a "
                              "multi-host --db URL; docs/database-ha.md)")
    _https_arguments(hub_run)

    requeue = hub.add_parser("requeue-dead", help="put back messages the broker dead-lettered (kept and audited "
                                                  "by the hub), once their cause is fixed; the request is audited")
    requeue.add_argument("--id", type=int, action="append", dest="ids", help="a kept dead letter (default: all)")
    requeue.add_argument("--list", action="store_true", help="only list the kept dead letters")
    requeue.add_argument("--db", help="audit store URL (default: the deployment's)")

    node = sub.add_parser("node", help="a national node").add_subparsers(dest="action", required=True)
    run = node.add_parser("run", help="run a country's node until stopped")
    run.add_argument("--country", required=True, help="the node's ISO 3166-1 alpha-3 code, e.g. MEX")
    run.add_argument("--db", help="the node's database URL (default: SQLite in STATE_DIR; e.g. "
                                  "postgresql+psycopg://user@host/somex_mex)")
    run.add_argument("--config", type=Path, help="the node config file: message classes' own settings, "
                                                 '{"features": {"person": {"review_default_years": 3}}} (default: '
                                                 "STATE_DIR/nodes/COUNTRY/node-config.json if present)")
    _https_arguments(run)

    node_init = node.add_parser("init", help="on the node's host: generate its keys and a join request")
    node_init.add_argument("--country", required=True, help="ISO 3166-1 alpha-3 code, or HUB for the hub's host")
    node_init.add_argument("--out", type=Path, help="the host's federation directory (default STATE_DIR/federation)")
    node_init.add_argument("--rotation", action="store_true",
                           help="a member's new signing and TLS keys (sealing keys kept); send the request with "
                                "'federation admit --rotation'")
    for item in ("organisation", "name", "email", "phone"):
        node_init.add_argument(f"--contact-{item}", help=f"contact {item}, sent in the join request")
    install = node.add_parser("install-admission", help="on the node's host: check and install the root's answer")
    install.add_argument("bundle", type=Path, help="the admission bundle the root operator handed over")
    install.add_argument("--country", required=True, help="this host's node id (ISO 3166-1 alpha-3)")
    install.add_argument("--dir", type=Path, help="the host's federation directory (default STATE_DIR/federation)")
    install.add_argument("--root-fingerprint", help="the root certificate's fingerprint, as read to you by the "
                                                    "root operator (needed the first time)")
    token = node.add_parser("token", help="API tokens of this node").add_subparsers(dest="token_action", required=True)
    create = token.add_parser("create", help="a new token for a role (replaces that role's token); printed once")
    create.add_argument("--role", required=True, choices=list(ROLES),
                        help="who the token is for (operator: the hub's publishing token; carrier: hit / no-hit border checks)")
    create.add_argument("--country", required=True, help="the node id (ISO 3166-1 alpha-3, or HUB)")
    create.add_argument("--dir", type=Path, help="the host's federation directory (default STATE_DIR/federation)")

    send = sub.add_parser("send", help="send a plain text note through a running node's API")
    send.add_argument("--from", dest="sender", required=True, help="the sending country, whose node must be running")
    send.add_argument("--to", required=True, help="comma-separated country codes")
    send.add_argument("--text", required=True, help="the note's text (sealed for the recipients)")
    send.add_argument("--thread", help="a thread id to file the note under (default: a new thread)")
    add_cacert_argument(send)

    audit = sub.add_parser("audit", help="the hub's tamper-evident audit log").add_subparsers(dest="action", required=True)
    export = audit.add_parser("export", help="download a bundle from the running hub (auditor token)")
    export.add_argument("--out", type=Path, required=True, help="the bundle file to write (JSON)")
    export.add_argument("--thread", help="only this thread's entries")
    export.add_argument("--message-id", help="only this message's entries")
    export.add_argument("--since", help="inclusive: RFC 3339 UTC (2026-11-22T17:20:00Z) or a date (2026-11-22)")
    export.add_argument("--until", help="exclusive: RFC 3339 UTC (2026-11-22T17:20:00Z) or a date (2026-11-22)")
    export.add_argument("--quorum", type=int, help="cut the bundle at the newest checkpoint this many witnesses "
                                                   "cosigned (default: the directory's witness policy)")
    add_cacert_argument(export)
    export.add_argument("--allow-empty", action="store_true",
                        help="write a bundle with no entry and exit 0 (without it, an empty selection is an error: "
                             "an empty trail that looks valid hides a wrong filter)")
    verify = audit.add_parser("verify", help="verify a bundle offline, trusting only the federation root")
    verify.add_argument("bundle", type=Path, help="a bundle written by 'somex audit export'")
    verify.add_argument("--root", type=Path, required=True, help="the federation root certificate (PEM)")
    verify.add_argument("--quorum", type=int, help="witnesses whose cosignatures a checkpoint covering every entry "
                                                   "needs (default: the quorum of the directory's witness policy)")

    demo = sub.add_parser("demo", help="a whole federation on this machine, a scenario, a verified audit trail")
    demo.add_argument("--keep", action="store_true", help="keep the federation and its web consoles running after the scenario, until Ctrl-C")

    add_inbox_parser(sub)
    add_db_parser(sub)
    add_backup_parsers(hub, node)
    add_supervisor_parsers(sub)
    for command in _feature_commands():  # a message class's own subcommands, from its feature folder
        command.add_parser(sub)

    add_global_options(parser)
    return parser


def _federation(args: argparse.Namespace) -> int:
    if args.action == "sign-server":
        from nodes.app.tls_cli import run as run_tls_step

        return run_tls_step(args)
    if args.action != "init":
        return _ceremony(args)
    from nodes.app.ceremony import init_federation

    target = args.dir or args.state_dir / "federation"
    countries = [c.strip().upper() for c in args.countries.split(",") if c.strip()]
    try:
        init_federation(target, args.name, countries, utcnow(), force=args.force)
    except (ValueError, FileExistsError) as exc:
        print(f"somex: {exc}", file=sys.stderr)
        return 2
    print(f"federation {args.name!r} with {', '.join(countries)} and HUB written to {target}")
    print("private keys are 0600; this is the demo's one-machine layout: in production each party runs its "
          "own step (docs/deployment.md)")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from nodes.app.local import broker_down, broker_status, broker_up
    from nodes.plumbing.rabbit import BrokerError

    if args.action in ("tls-request", "tls-install"):
        from nodes.app.tls_cli import run as run_tls_step

        return run_tls_step(args)
    try:
        if args.action == "up":
            broker_up(args.state_dir, args.amqp_port, args.cluster, fresh=args.fresh, amqp_host=args.amqp_host)
        elif args.action == "down":
            broker_down(args.state_dir)
        else:
            from nodes.plumbing.cli_support import emit

            status = broker_status(args.state_dir)
            emit(args, status, "\n".join(f"{k}: {json.dumps(v) if isinstance(v, dict | list) else v}"
                                          for k, v in status.items()))
    except BrokerError as exc:
        print(f"somex: broker {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def _https_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-cert", type=Path, help="serve the API and console over HTTPS with this certificate "
                                                       "(PEM, chain first); needs --tls-key")
    parser.add_argument("--tls-key", type=Path, help="the private key (PEM) of --tls-cert")


def _https(args: argparse.Namespace):  # noqa: ANN202 - HttpsFiles | None
    from nodes.plumbing.config import HttpsFiles

    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("somex: --tls-cert and --tls-key go together (a certificate and its private key)")
    if args.tls_cert is None:
        return None
    for path in (args.tls_cert, args.tls_key):
        if not path.is_file():
            raise SystemExit(f"somex: {path} is not a file (the HTTPS certificate and key, PEM)")
    return HttpsFiles(args.tls_cert, args.tls_key)


def _hub(args: argparse.Namespace) -> int:
    if args.action in ("backup", "restore"):
        return run_backup(args, "hub")
    from nodes.plumbing.deployment import Deployment
    from nodes.app.serve import serve_hub
    from nodes.plumbing.db_replication import libpq_url

    config = dataclasses.replace(Deployment.load(args.state_dir).hub_config(), https=_https(args))
    if args.db:  # a multi-host URL as SQLAlchemy reads it (docs/database-ha.md)
        config = dataclasses.replace(config, db_url=libpq_url(args.db))
    if args.action == "requeue-dead":
        from nodes.hub.dead import list_dead_letters, request_requeue

        if args.list:
            for line in list_dead_letters(config):
                print(line)
            return 0
        ids = request_requeue(config, args.ids, by=f"operator:{getpass.getuser()}")
        print(f"{len(ids)} dead letter(s) will be put back by the running hub (audited): {ids}" if ids
              else "no kept dead letter to put back")
        return 0
    _refuse_unsafe_replication(config.db_url, args.require_sync_replica)
    return _serving(config.federation_dir, "HUB", config.db_url, "hub's audit database",
                    lambda: asyncio.run(serve_hub(config)))


def _refuse_unsafe_replication(db_url: str, required: bool) -> None:
    """A hub on PostgreSQL in HA refuses, one line each: no writable target, asynchronous replication."""
    from nodes.plumbing.db_replication import replication_refusal, requires_sync_replica, url_refusal

    refusal = url_refusal(db_url)
    if refusal is None and requires_sync_replica(db_url, required):
        from sqlalchemy.exc import OperationalError

        from nodes.plumbing.db import make_engine

        engine = make_engine(db_url)
        try:
            refusal = replication_refusal(engine)
        except OperationalError:
            return  # unreachable: the start-up database check says so in its own line
        finally:
            engine.dispose()
    if refusal is not None:
        raise CliError(f"refusing to start: {refusal}")


def _ceremony(args: argparse.Namespace) -> int:
    """The key ceremony steps (docs/deployment.md); a refusal is one line with its reason code."""
    from datetime import timedelta

    from crypto.errors import CryptoError
    from nodes.app import ceremony

    now = utcnow()
    try:
        if args.command == "federation" and args.action == "create-root":
            print(f"root of {args.name!r} written to {args.root_dir / 'root'}; keep root.key offline")
            print(f"root certificate fingerprint (read it to every node's operator): "
                  f"{ceremony.create_root(args.root_dir, args.name, now)}")
        elif args.command == "federation" and args.action == "publish":
            from nodes.app.local import PublicationRefused, publish_federation_file

            from nodes.plumbing.rabbit import BrokerError

            token = args.token_file.read_text().strip() if args.token_file else None
            try:
                answer = asyncio.run(publish_federation_file(args.state_dir, args.file, hub_url=args.hub_url,
                                                             token=token, crl=args.crl, cacert=args.cacert))
            except PublicationRefused as exc:
                print(f"somex: refused by the hub ({exc.reason}): {exc.detail}", file=sys.stderr)
                return 2
            except BrokerError as exc:
                print(f"somex: broker: {exc}", file=sys.stderr)
                return 2
            if answer.get("crl_number") is not None:
                print(f"TLS revocation list {answer['crl_number']} installed in the broker: revoked certificates "
                      "are refused at their next connection")
            if answer.get("closed_connections_of"):
                print(f"open broker connections closed: {', '.join(answer['closed_connections_of'])}")
            print(f"{answer['kind']} serial {answer['serial']} applied by the hub and sent to "
                  f"{', '.join(answer['recipients'])} (message {answer['message_id']})")
            if answer.get("withdrawn_broker_users"):
                print(f"broker permissions withdrawn: {', '.join(answer['withdrawn_broker_users'])}")
        elif args.command == "federation" and args.action == "remove":
            from nodes.app.root_operator import issued_tls_certificates, remove_member

            updated = remove_member(args.root_dir, args.country.upper(), now)
            print(f"directory serial {updated.serial} without {args.country.upper()} written to {args.root_dir}")
            _print_tls_revoked(args.root_dir, issued_tls_certificates(args.root_dir, args.country.upper()),
                               "directory.signed.json")
        elif args.command == "federation" and args.action == "witness-policy":
            from nodes.app.root_operator import set_witness_policy

            updated = set_witness_policy(args.root_dir, _witness_policy(args), now)
            print(f"directory serial {updated.serial} with witness policy "
                  f"{updated.witness_policy.as_json() if updated.witness_policy else 'default'} written to "
                  f"{args.root_dir}; publish it (somex federation publish)")
        elif args.command == "federation" and args.action == "reissue":
            from nodes.app.root_operator import reissue_with_catalog_types

            updated, added = reissue_with_catalog_types(args.root_dir, now, args.days, args.types)
            for node_id, types in added.items():
                print(f"{node_id}: + {', '.join(types)}")
            print(f"directory serial {updated.serial} written to {args.root_dir} "
                  f"({'types granted to ' + ', '.join(added) if added else 'no type to grant: validity renewed'}); "
                  "publish it (somex federation publish)")
        elif args.command == "federation" and args.action == "revoke":
            from nodes.app.root_operator import revoke

            tls = revoke(args.root_dir, args.kid, now)
            print(f"key {args.kid[:16]}… revoked in {args.root_dir / 'revocations.signed.json'}")
            _print_tls_revoked(args.root_dir, tls, "revocations.signed.json")
        elif args.command == "federation":
            result = ceremony.admit_request(args.root_dir, args.request.read_bytes(), now, rotation=args.rotation,
                                            overlap=timedelta(days=args.overlap_days))
            print(f"join request fingerprint: {result.request_fingerprint}")
            print("  compare it with the one the node's operator read to you before handing anything out")
            print(f"{result.node_id} admitted: directory serial {result.serial} in {args.root_dir}; give "
                  f"{result.bundle_path} to {result.node_id}'s operator and publish the directory")
        elif args.action == "init":
            out = args.out or args.state_dir / "federation"
            contact = {k: v for k in ("organisation", "name", "email", "phone")
                       if (v := getattr(args, f"contact_{k}"))}
            request = ceremony.init_node(out, args.country.upper(), contact, rotation=args.rotation)
            from crypto.join import fingerprint

            print(f"keys written to {ceremony.node_home(out, args.country.upper())} (private, never send them)")
            print(f"join request: {ceremony.node_home(out, args.country.upper()) / ceremony.JOIN_REQUEST_FILE}")
            print(f"join request fingerprint (read it to the root operator over a second channel): "
                  f"{fingerprint(request)}")
        elif args.action == "install-admission":
            target = args.dir or args.state_dir / "federation"
            ceremony.install_admission(target, args.country.upper(), args.bundle.read_bytes(), now,
                                       args.root_fingerprint)
            print(f"admission installed in {target}: {args.country.upper()} can start")
        else:
            target = args.dir or args.state_dir / "federation"
            token = ceremony.create_token(target, args.country.upper(), args.role)
            print(token)
            print(f"the {args.role} token of {args.country.upper()} (shown once; the node keeps only its digest)",
                  file=sys.stderr)
    except CryptoError as exc:
        print(f"somex: refused ({exc.reason}): {exc.detail}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"somex: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_tls_revoked(root_dir: Path, certs: list, published: str) -> None:  # noqa: ANN001
    from nodes.plumbing.federation import TLS_CRL_FILE

    if certs:
        print(f"TLS certificate(s) {', '.join(format(c.serial_number, 'x')[:16] for c in certs)} revoked in "
              f"{root_dir / TLS_CRL_FILE}")
        print(f"publish both on the hub's and broker's host: somex federation publish {published} --crl {TLS_CRL_FILE}")
    else:
        print(f"no TLS certificate recorded for it (admitted before the root kept root/tls-issued/): publish it: "
              f"somex federation publish {published}")


def _witness_policy(args: argparse.Namespace):  # noqa: ANN202 - crypto.witness_policy.WitnessPolicy | None
    """The policy `federation witness-policy` states; ValueError (one line) for bad input."""
    from crypto.witness_policy import WitnessPolicy

    stated = [o for o in ("witnesses", "quorum", "cosign_interval") if getattr(args, o) is not None]
    if args.default:
        if stated:
            raise ValueError("--default states no policy: give it alone, without --witnesses, --quorum or --cosign-interval")
        return None
    if not stated:
        raise ValueError("state the policy: --witnesses, --quorum and/or --cosign-interval (or --default)")
    witnesses = None
    if args.witnesses is not None:
        witnesses = tuple(w.strip().upper() for w in args.witnesses.split(","))
        if not all(witnesses):
            raise ValueError(f"--witnesses is a comma-separated list of node ids, not {args.witnesses!r}")
    numbers = {}
    for option in ("quorum", "cosign_interval"):
        value = getattr(args, option)
        if value is not None:
            if not value.strip().isdigit():
                raise ValueError(f"--{option.replace('_', '-')} must be a whole number, not {value!r}")
            numbers[option] = int(value)
    return WitnessPolicy(witnesses, numbers.get("quorum"), numbers.get("cosign_interval"))


def _node(args: argparse.Namespace) -> int:
    if args.action in ("backup", "restore"):
        return run_backup(args, "node")
    if args.action != "run":
        return _ceremony(args)
    from nodes.plumbing.deployment import NODE_CONFIG_FILE, Deployment
    from nodes.app.serve import serve_node

    config = dataclasses.replace(Deployment.load(args.state_dir).node_config(args.country.upper()),
                                 https=_https(args))
    if args.db:
        config = dataclasses.replace(config, db_url=args.db)
    config = _with_node_config_file(config, args.config or args.state_dir / "nodes" / config.country / NODE_CONFIG_FILE,
                                    required=args.config is not None)
    return _serving(config.federation_dir, config.country, config.db_url, f"{config.country} node's database",
                    lambda: asyncio.run(serve_node(config)))


def _with_node_config_file(config, path: Path, *, required: bool):  # noqa: ANN001, ANN202 - NodeConfig
    """`config` with the file's per-feature settings, checked against the node's features now: an
    unknown feature or setting, or a wrong type, refuses the start in one line (exit 2)."""
    from nodes.national.feature import discover, resolve_settings
    from nodes.plumbing.config import BadNodeConfig
    from nodes.plumbing.deployment import read_node_config_file

    if not required and not path.exists():
        return config
    try:
        config = dataclasses.replace(config, features=read_node_config_file(path))
        resolve_settings(discover(), config)
    except BadNodeConfig as exc:
        raise CliError(f"refusing to start: {exc} (node config file {path})") from None
    return config


def _serving(federation_dir: Path, node_id: str, db_url: str, db_what: str, run) -> int:  # noqa: ANN001
    """Run a hub or node after checking its files; a directory or key it must not trust, or storage it
    cannot read, stops it with one clear line and exit code 2."""
    import sqlite3

    from sqlalchemy.exc import DatabaseError

    from crypto.errors import CryptoError
    from nodes.plumbing.storage_check import check_database, check_federation, database_unreadable
    from nodes.plumbing.clock_words import clock_words

    try:
        check_federation(federation_dir, node_id)
        check_database(db_url, db_what)
        run()
    except CryptoError as exc:
        print(f"somex: refusing to start: {exc} (federation files in {federation_dir}){clock_words(exc, utcnow())}",
              file=sys.stderr)
        return 2
    except (DatabaseError, sqlite3.DatabaseError) as exc:  # met after the start-up check: the same one line
        print(f"somex: {database_unreadable(exc, db_url, db_what)}", file=sys.stderr)
        return 2
    return 0


def _send(args: argparse.Namespace) -> int:
    from nodes.plumbing.cli_support import api_error_line, country_code, emit
    from nodes.app.local import send_note

    sender = country_code(args.sender, "--from")
    to = [country_code(t, "--to") for t in args.to.split(",") if t.strip()]
    result = asyncio.run(send_note(args.state_dir, sender, to, args.text, args.thread, cacert=args.cacert))
    if "id" not in result:
        raise CliError(f"send {api_error_line(result.pop('_status', 400), result)}")
    emit(args, result, f"note {result['id']} {result['status']} at {sender} for {', '.join(to)} "
                       f"(read it with 'somex inbox --node {to[0]} --state-dir {args.state_dir} --wait 30')")
    return 0


def _audit(args: argparse.Namespace) -> int:
    if args.action == "export":
        from nodes.app.local import export_audit
        from protocol.filters import FilterError, time_bound

        try:  # checked here too: a typo is one line before any call, never an empty bundle
            for name in ("since", "until"):
                if getattr(args, name):
                    time_bound(f"--{name}", getattr(args, name))
        except FilterError as exc:
            raise CliError(exc.detail) from None

        bundle = asyncio.run(export_audit(args.state_dir, thread=args.thread, message_id=args.message_id,
                                          since=args.since, until=args.until,
                                          quorum=None if args.quorum is None else str(args.quorum),
                                          cacert=args.cacert))
        if not bundle["entries"] and not args.allow_empty:
            raise CliError("the selection holds no audit entry, nothing written: check --since/--until/--thread/"
                           "--message-id, or add --allow-empty to write the empty bundle")
        args.out.write_text(json.dumps(bundle))
        print(f"{len(bundle['entries'])} entries, {len(bundle['checkpoints'])} checkpoints -> {args.out}")
        return 0
    from nodes.app.local import print_verification

    return print_verification(args.bundle, args.root, args.quorum)


def _demo(args: argparse.Namespace) -> int:
    from nodes.app.demo import run_demo

    return asyncio.run(run_demo(args.state_dir if args.state_dir != DEFAULT_STATE else Path(".somex-demo"),
                                keep=args.keep))


def _feature_commands() -> list:  # noqa: ANN202 - list[CliCommand]
    from nodes.national.feature import discover

    return [command for feature in discover() for command in feature.cli]


HANDLERS = {
    "federation": _federation, "broker": _broker, "hub": _hub, "node": _node, "send": _send, "demo": _demo,
    "audit": _audit, "inbox": run_inbox, "db": run_db, "up": run_up, "stop": run_stop,
    **{command.name: command.run for command in _feature_commands()},
}


if __name__ == "__main__":
    sys.exit(main())
