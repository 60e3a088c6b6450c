"""The demo's own steps: its processes, waiting for an effect with a deadline, saying what happens.

Used by `somex demo` (nodes/app/demo.py), which hands the features' demo steps a
`DemoFederation` (nodes/national/feature.py) whose `wait_for` and `say` are these.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from nodes.plumbing.private_files import private_dir


class Processes:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.logs = state_dir / "logs"
        private_dir(self.logs)  # the processes' logs name cases and people: their owner's alone
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> None:
        out = os.fdopen(os.open(self.logs / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                        "ab")  # owned by the child process
        env = {**os.environ, "SOMEX_LOG_FORMAT": "json"}
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "nodes.app.cli", "--state-dir", str(self.state_dir), *args],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}; log tail:\n{tail}")

    def stop(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_for(what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 30.0,
                   procs: Processes | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if procs is not None:
            procs.check_alive()
        try:
            last = await probe()
            if last:
                return last
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what} (last seen: {last!r})")


def say(text: str = "") -> None:
    print(text, flush=True)
