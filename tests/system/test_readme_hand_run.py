"""Issue 21, items 1 and 4: the README's "Running a federation by hand" block, run literally, command
by command, in a temporary directory (real broker, real processes), with each step's effect checked.
The block must not rot: a command that fails, prints a traceback, or does not do what it says, fails
this test. It also holds the broker restart under a running federation (`broker down; broker up`):
same ports, traffic resumes, no process restarted; and every log line of every process is JSON."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Running a federation by hand"


def readme_commands(readme: str) -> list[str]:
    """The shell commands of the hand-run section's first ```sh block, continuation lines joined."""
    section = readme[readme.index(SECTION):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the hand-run section has a ```sh block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip() and not current.lstrip().startswith("#"):
            commands.append(current.strip())
        current = ""
    return commands


def test_the_hand_run_block_has_no_link_outside_the_repository_and_its_files_exist() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index(SECTION):readme.index("\n## ", readme.index(SECTION) + 1)]
    assert "../" not in section
    for path in re.findall(r"docs/[\w./-]+\.\w+", section):
        assert (REPO / path).is_file(), path
    assert readme_commands(readme)[0].startswith(".venv/bin/somex federation init")


_last_health: dict[int, Any] = {}


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
            _last_health[port] = json.loads(response.read())
    except OSError as exc:
        _last_health[port] = repr(exc)
        return None
    return _last_health[port]


def _until(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last answers: {_last_health})")


def _runs(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie waits for whatever reaps here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class HandRun:
    """The README's commands, run in `root` as a user runs them from the repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".venv" / "bin").mkdir(parents=True)
        somex = root / ".venv" / "bin" / "somex"
        somex.write_text(f"#!/bin/sh\nexec {sys.executable} -m nodes.app.cli \"$@\"\n")
        somex.chmod(0o755)
        (root / "docs").symlink_to(REPO / "docs")
        self.env = {k: v for k, v in os.environ.items() if k != "SOMEX_STATE_DIR"}
        self.env["PYTHONPATH"] = str(REPO)
        self.state = root / ".somex"

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env, capture_output=True,
                                text=True, timeout=300, check=False)
        assert "Traceback" not in result.stderr + result.stdout, f"{command}:\n{result.stderr}"
        assert result.returncode == 0, f"{command} -> {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result

    @property
    def deployment(self) -> dict[str, Any]:
        return json.loads((self.state / "deployment.json").read_text())

    def pids(self) -> dict[str, int]:
        return {n: e["pid"] for n, e in json.loads((self.state / "processes.json").read_text()).items()}

    def stop_everything(self) -> None:
        subprocess.run([str(self.root / ".venv/bin/somex"), "stop"], cwd=self.root, env=self.env, timeout=120,
                       capture_output=True, check=False)
        subprocess.run([str(self.root / ".venv/bin/somex"), "broker", "down"], cwd=self.root, env=self.env,
                       timeout=120, capture_output=True, check=False)


def test_the_readme_hand_run_block_works_as_written(tmp_path: Path) -> None:
    commands = readme_commands((REPO / "README.md").read_text())
    hand = HandRun(tmp_path)
    seen: dict[str, Any] = {}
    try:
        for command in commands:
            words = command.split()[1:]
            out = hand.run(command).stdout
            match words[:2]:
                case ["federation", "init"]:
                    assert (hand.state / "federation" / "root" / "root.crt").is_file()
                case ["broker", "up"] if "deployment" not in seen:
                    seen["deployment"] = hand.deployment
                case ["broker", "up"]:  # under a running federation: same ports, nothing restarted
                    assert hand.deployment == seen["deployment"], "broker up kept every port"
                    for name, port in [("HUB", hand.deployment["hub_http_port"]),
                                       *hand.deployment["node_http_ports"].items()]:
                        _until(lambda p=port: (_health(p) or {}).get("broker_connected") is True, 120,
                               f"{name} linked to the broker again by itself")
                    assert hand.pids() == seen["pids"], "no process restarted"
                case ["up", *_]:
                    seen["pids"] = hand.pids()
                    assert set(seen["pids"]) == {"HUB", "MEX", "IDN", "ITA"}
                    for name in seen["pids"]:
                        assert (hand.state / "logs" / f"{name}.log").is_file()
                        assert f"{name}.log" in out
                case ["send", *_]:
                    seen.setdefault("notes", []).append(json.loads(out)["id"])
                    said = shlex.split(command, comments=True)
                    seen["text"] = said[said.index("--text") + 1]
                case ["inbox", *_]:
                    listed = {m["message_id"]: m for m in json.loads(out)["messages"]}
                    if "--type" in words and words[words.index("--type") + 1] == "mla.request":
                        assert seen["mla"] in listed
                    else:
                        assert seen["notes"][-1] in listed
                        assert listed[seen["notes"][-1]]["body"]["text"] == seen["text"]
                case ["mla", "--node"] if words[3] == "create":
                    seen["mla"] = json.loads(out)["id"]
                case ["mla", "--node"] if words[3] == "list":
                    assert [r["reference"] for r in json.loads(out)["requests"]] == ["ITA-1"]
                case ["feed", "push"]:
                    assert "3 alerts sent" in out
                case ["audit", "export"]:
                    trail = json.loads((tmp_path / "trail.json").read_text())
                    # cut at the newest checkpoint the witnesses cosigned: the first note is long in it
                    ids = {json.loads(base64.b64decode(e["leaf"]))["message_id"] for e in trail["entries"]}
                    assert seen["notes"][0] in ids
                case ["audit", "verify"]:
                    assert "VERIFIED" in out
                case ["broker", "down"] if "stopped" not in seen:
                    seen["down"] = True
                    hub = hand.deployment["hub_http_port"]
                    _until(lambda: (_health(hub) or {}).get("broker_connected") is False, 120,
                           "the hub's health showing the broker gone")
                case ["broker", "status"]:
                    assert json.loads(out)["running"] is True
                case ["stop", *_]:
                    seen["stopped"] = True
                    assert not any(_runs(pid) for pid in seen["pids"].values())
        assert {"deployment", "pids", "notes", "mla", "down", "stopped"} <= set(seen)
        assert len(seen["notes"]) == 2
        for name in seen["pids"]:  # one log per process, JSON lines only (library lines too, outage included)
            for line in (hand.state / "logs" / f"{name}.log").read_text().splitlines():
                record = json.loads(line)
                assert None not in record.values(), line
    finally:
        hand.stop_everything()
