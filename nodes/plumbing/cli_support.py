"""What every `somex` command shares: global options, one-line errors with exit code 2, and the
look-ups (deployment, a node's API address and token) whose failure is a user's mistake, not a bug.

A subcommand raises `CliError("what is wrong; what to do")`; `main` prints it as one line on stderr
and exits 2. Options in `GLOBAL_OPTIONS` are accepted before or after any subcommand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_MISTAKE = 2
DEFAULT_STATE = Path(".somex")
STATE_ENV = "SOMEX_STATE_DIR"


class CliError(Exception):
    """A user's mistake or an unmet precondition: one line saying what is wrong and what to do."""


class SomexArgumentParser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (what is wrong, where the help is), exit code 2.
    Subcommand parsers inherit the class (argparse makes them with the parent's type)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_MISTAKE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Accept the global options on `parser` and on every subcommand parser below it, so that
    `somex --state-dir X broker up` and `somex broker up --state-dir X` mean the same.

    The top level holds the defaults; the copies on subparsers default to SUPPRESS, so an option
    given before the subcommand is not overwritten by a subparser's default. Subcommands added by
    other modules get the options too, as long as this runs after they are registered."""
    for index, target in enumerate(parser_tree(parser)):
        top = index == 0
        target.add_argument("--state-dir", type=Path,
                            default=Path(os.environ.get(STATE_ENV) or DEFAULT_STATE) if top else argparse.SUPPRESS,
                            help=f"where the federation, broker data, databases and logs live (default "
                                 f"${STATE_ENV}, else {DEFAULT_STATE})")
        target.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                            help="machine-readable JSON on stdout (default: JSON only when stdout is not a "
                                 "terminal)")


def parser_tree(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and every subcommand parser below it."""
    found = [parser]
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk over subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for child in dict.fromkeys(action.choices.values()):
                found.extend(parser_tree(child))
    return found


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False)) or not sys.stdout.isatty()


def emit(args: argparse.Namespace, result: Any, text: str) -> None:
    """Print `result` as JSON for scripts, else `text` for a person."""
    print(json.dumps(result, indent=2) if wants_json(args) else text)


def deployment_of(state_dir: Path):  # noqa: ANN201 - Deployment (imported late: the CLI starts fast)
    """The local deployment; one line saying which command to run first when there is none."""
    from nodes.plumbing.deployment import Deployment

    try:
        return Deployment.load(state_dir)
    except SystemExit as exc:
        raise CliError(str(exc.code)) from None


def country_code(value: str, what: str = "country") -> str:
    """An ISO 3166-1 alpha-3 code in upper case (or HUB), whatever case the user typed."""
    code = value.strip().upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise CliError(f"{what} {value!r} is not a country code: use ISO 3166-1 alpha-3, e.g. MEX")
    return code


def node_endpoint(deployment: Any, country: str, role: str = "focal") -> tuple[str, str]:
    """(API base URL, `role` token) of a node of this local deployment; CliError naming the nodes
    there are when `country` is not one of them."""
    from nodes.plumbing.api_client import api_base
    from nodes.plumbing.config import utcnow
    from nodes.plumbing.federation import load_federation

    code = country_code(country)
    ports = deployment.node_http_ports
    if code not in ports:
        raise CliError(f"{code} is not a node of the federation in {deployment.state_dir} "
                       f"(nodes: {', '.join(sorted(ports)) or 'none'}); use one of them")
    credentials = load_federation(deployment.federation_dir, utcnow()).credentials(code)
    if role not in credentials.tokens:
        raise CliError(f"no {role} token for {code} in {credentials.home}: create one with "
                       f"'somex node token create --role {role} --country {code} --state-dir {deployment.state_dir}'")
    return api_base(deployment.state_dir, code, ports[code]), credentials.tokens[role]


def hub_endpoint(deployment: Any, role: str) -> tuple[str, str]:
    from nodes.plumbing.api_client import api_base
    from nodes.plumbing.config import utcnow
    from nodes.plumbing.federation import load_federation

    credentials = load_federation(deployment.federation_dir, utcnow()).credentials("HUB")
    if role not in credentials.tokens:
        raise CliError(f"no {role} token for HUB in {credentials.home}: create one with "
                       f"'somex node token create --role {role} --country HUB --state-dir {deployment.state_dir}'")
    return api_base(deployment.state_dir, "HUB", deployment.hub_http_port), credentials.tokens[role]


def who_listens(state_dir: Path, port: int | None) -> str:
    """The process of this state dir that should listen on `port` (for 'not running' messages)."""
    try:
        record = json.loads((state_dir / "deployment.json").read_text())
    except (OSError, ValueError):
        return "the process"
    if port == record.get("hub_http_port"):
        return "the hub"
    for country, node_port in (record.get("node_http_ports") or {}).items():
        if node_port == port:
            return f"{country}'s node"
    return "the process"


def api_error_line(status: int, body: Any) -> str:
    """One line for an API refusal: its reason code and detail."""
    if isinstance(body, dict) and "error" in body:
        detail = f": {body['detail']}" if body.get("detail") else ""
        return f"refused ({status} {body['error']}){detail}"
    return f"refused (HTTP {status})"


def run_command(handler: Any, args: argparse.Namespace) -> int:
    """Run a subcommand; whatever goes wrong reaches the user as one line on stderr, never a traceback
    (SOMEX_DEBUG=1 re-raises, for a developer)."""
    try:
        return handler(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns failures into lines
        if os.environ.get("SOMEX_DEBUG"):
            raise
        line, code = describe_failure(exc, args)
        print(f"somex: {line}", file=sys.stderr)
        return code
    except SystemExit as exc:  # an older check's `raise SystemExit("...")`: the same one line, exit 2
        if isinstance(exc.code, str):
            print(exc.code if exc.code.startswith("somex:") else f"somex: {exc.code}", file=sys.stderr)
            return EXIT_MISTAKE
        raise


def describe_failure(exc: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    """(one line, exit code) for a failure: what is wrong and what to do. 2 for a mistake or an unmet
    precondition, 1 for a defect of somex itself."""
    import aiohttp

    from crypto.errors import CryptoError
    from nodes.plumbing.api_client import ApiTrustError, trust_failure
    from nodes.plumbing.rabbit import BrokerError
    from nodes.plumbing.storage_check import UnreadableStorage

    state_dir = getattr(args, "state_dir", DEFAULT_STATE)
    if isinstance(exc, CliError | UnreadableStorage):
        return str(exc), EXIT_MISTAKE
    if isinstance(exc, ApiTrustError):  # an HTTPS server, or a --cacert, that cannot be trusted
        return str(exc), EXIT_MISTAKE
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):  # before its parent, ClientConnectorError
        return trust_failure(exc, getattr(args, "cacert", None)), EXIT_MISTAKE
    if isinstance(exc, aiohttp.ClientConnectorError):
        who = who_listens(state_dir, exc.port)
        return (f"nothing answers at {exc.host}:{exc.port}: {who} is not running; start it with "
                f"'somex up --state-dir {state_dir}' (or 'somex node run' / 'somex hub run')"), EXIT_MISTAKE
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return f"the API call failed ({type(exc).__name__}: {exc}); check that the process is running", EXIT_MISTAKE
    if isinstance(exc, CryptoError):
        return f"refused ({exc.reason}): {exc.detail}", EXIT_MISTAKE
    if isinstance(exc, BrokerError):
        return f"broker: {exc}", EXIT_MISTAKE
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}; check the path", EXIT_MISTAKE
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_MISTAKE
    if isinstance(exc, ValueError):
        return str(exc), EXIT_MISTAKE
    return (f"unexpected {type(exc).__name__}: {exc} (a defect of somex; SOMEX_DEBUG=1 shows the traceback, "
            "please report it)"), 1
