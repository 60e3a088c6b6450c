"""`somex up` / `somex stop`: run the hub and every node of a local federation in the background,
one log file per process under STATE_DIR/logs/, and stop exactly those processes again.

The processes started are recorded in STATE_DIR/processes.json (pid and command line); `stop` signals
only a pid whose command line is still the recorded one, so a reused pid is never killed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from nodes.plumbing.cli_support import CliError, country_code, deployment_of
from nodes.plumbing.private_files import private_dir, write_private

RECORD = "processes.json"
LOGS = "logs"


def add_parsers(sub: Any) -> None:
    up = sub.add_parser("up", help="start the hub and the nodes in the background, one log per process in "
                                   "STATE_DIR/logs; 'somex stop' stops them")
    up.add_argument("--countries", help="comma-separated nodes to start (default: every node of the deployment)")
    up.add_argument("--no-hub", action="store_true", help="start only nodes (the hub runs elsewhere)")
    up.add_argument("--wait", type=float, default=120, help="seconds to wait for every API to answer (default 120)")
    sub.add_parser("stop", help="stop what 'somex up' started (SIGTERM, then SIGKILL after 30 s)")


def run_up(args: argparse.Namespace) -> int:
    deployment = deployment_of(args.state_dir)
    names = ([country_code(c, "--countries") for c in args.countries.split(",") if c.strip()] if args.countries
             else sorted(deployment.node_http_ports))
    unknown = [n for n in names if n not in deployment.node_http_ports]
    if unknown:
        raise CliError(f"{', '.join(unknown)} not in the federation in {args.state_dir} (nodes: "
                       f"{', '.join(sorted(deployment.node_http_ports))})")
    wanted = ([] if args.no_hub else ["HUB"]) + names
    record = _running(args.state_dir)
    logs = args.state_dir / LOGS
    private_dir(logs)
    for name in wanted:
        if name in record:
            continue
        command = [sys.executable, "-m", "nodes.app.cli", "--state-dir", str(args.state_dir),
                   *(["hub", "run"] if name == "HUB" else ["node", "run", "--country", name])]
        with open(logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, env={**os.environ, "SOMEX_LOG_FORMAT": "json"})
        record[name] = {"pid": process.pid, "cmdline": command}
        _save(args.state_dir, record)
    ports = {"HUB": deployment.hub_http_port, **deployment.node_http_ports}
    deadline = time.monotonic() + args.wait
    for name in wanted:
        while not _answers(ports[name]):
            if not _alive(record[name]):
                _forget(args.state_dir, name)
                raise CliError(f"{name} exited at start-up: read {logs / f'{name}.log'}")
            if time.monotonic() > deadline:
                raise CliError(f"{name} does not answer on port {ports[name]} after {args.wait:.0f} s: read "
                               f"{logs / f'{name}.log'}")
            time.sleep(0.2)
    for name in wanted:
        console = "/console/" if name != "HUB" else "/console/ (auditor)"
        print(f"{name:<4} pid {record[name]['pid']:<7} http://127.0.0.1:{ports[name]}{console}  "
              f"log {logs / f'{name}.log'}")
    print(f"running; stop them with 'somex stop --state-dir {args.state_dir}'")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    record = _running(args.state_dir)
    if not record:
        print(f"nothing started by 'somex up' runs in {args.state_dir}")
        _save(args.state_dir, {})
        return 0
    for entry in record.values():
        os.kill(entry["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(_alive(e) for e in record.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, entry in record.items():
        if _alive(entry):
            os.kill(entry["pid"], signal.SIGKILL)
            print(f"{name} did not stop within 30 s: killed")
    _save(args.state_dir, {})
    print(f"stopped {', '.join(record)}")
    return 0


def _running(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The recorded processes still alive (a dead or reused pid is dropped from the record)."""
    path = state_dir / RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in record.items() if _alive(entry)}


def _alive(entry: dict[str, Any]) -> bool:
    """The pid runs, is not a zombie, and still runs the recorded command."""
    try:
        cmdline = Path(f"/proc/{entry['pid']}/cmdline").read_bytes()
        state = Path(f"/proc/{entry['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        try:  # our own child (the start-up check): reap it
            os.waitpid(entry["pid"], os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return cmdline.split(b"\0")[:-1] == [part.encode() for part in entry["cmdline"]]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _save(state_dir: Path, record: dict[str, Any]) -> None:
    write_private(state_dir / RECORD, json.dumps(record, indent=2) + "\n")


def _forget(state_dir: Path, name: str) -> None:
    record = _running(state_dir)
    record.pop(name, None)
    _save(state_dir, record)
