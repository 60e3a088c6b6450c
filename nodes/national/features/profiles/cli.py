"""`somex profile show [COUNTRY] | publish FILE`: competent-authority profiles through a running
node's API (docs/profiles.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from nodes.plumbing.api_client import add_cacert_argument, api_session, default_cacert
from nodes.plumbing.cli_support import CliError, api_error_line, country_code, deployment_of, emit, node_endpoint, \
    wants_json


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("profile", help="competent-authority profiles: what each State accepts (through a "
                                            "node's API)")
    parser.add_argument("--node", required=True, help="the focal point's country, e.g. ITA")
    add_cacert_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="every member's profile in force, or one State's")
    show.add_argument("country", nargs="?", help="a State, e.g. MEX (default: all)")
    publish = actions.add_parser("publish", help="sign and broadcast this State's profile")
    publish.add_argument("file", type=Path, help="the profile as JSON (fields as in docs/profiles.md)")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


def _profile_file(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{path}: no such file; give a JSON profile (example: docs/profiles.md)") from None
    except ValueError as exc:
        raise CliError(f"{path}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CliError(f"{path}: a profile is a JSON object")
    return value


async def _run(args: argparse.Namespace) -> int:
    deployment = deployment_of(args.state_dir)
    profile = _profile_file(args.file) if args.action == "publish" else None  # a bad file is no half-done act
    async with api_session(args.cacert or default_cacert(deployment.federation_dir)) as session:
        base, token = node_endpoint(deployment, country_code(args.node, "--node"))
        headers = {"Authorization": f"Bearer {token}"}
        if args.action == "publish":
            call = session.post(f"{base}/profiles", json=profile, headers=headers)
        elif args.country:
            call = session.get(f"{base}/profiles/{country_code(args.country, 'COUNTRY')}", headers=headers)
        else:
            call = session.get(f"{base}/profiles", headers=headers)
        async with call as r:
            status, result = r.status, await r.json(content_type=None)
    if status >= 300:
        if wants_json(args):
            print(json.dumps(result, indent=2))
        print(f"somex: profile {args.action} {api_error_line(status, result)}", file=sys.stderr)
        return 1
    emit(args, result, _human(args.action, result))
    return 0


def _line(entry: dict[str, Any]) -> str:
    p = entry["profile"]
    basis = "convention accepted" if p["convention_basis_for_extradition"] else "treaty required"
    return (f"{p['country']}  serial {p['serial']}  languages {', '.join(p['languages'])}  extradition: {basis}  "
            f"MLA: {p['mla_authority']['name']} ({p['mla_authority']['contact']})  "
            f"urgent: {', '.join(p.get('urgent_channels', [])) or '-'}")


def _human(action: str, result: Any) -> str:
    if action == "publish":
        return f"published {result['country']} serial {result['serial']} (message {result['id']})"
    if "profiles" in result:
        return "\n".join(_line(e) for e in result["profiles"]) or "no profile published"
    return _line(result)
