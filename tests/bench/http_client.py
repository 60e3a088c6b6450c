"""A border post's client in a process of its own: POSTs each zone to the node over one keep-alive
connection, one at a time, and prints the latencies (ms) and answers as JSON on stdout.

A client inside the node's process shares its event loop, its GIL and its garbage collector, and
adds its own JSON and HTTP work to every latency: the node's answer time is what a separate
process sees. stdlib http.client keeps the client's own cost small and steady.
Input (stdin, JSON): {"host", "port", "token", "path", "zones": [...]}.
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def check_all(host: str, port: int, token: str, path: str, zones: list[str]) -> dict[str, list]:
    conn = http.client.HTTPConnection(host, port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, answers = [], []
    try:
        for zone in zones:
            body = json.dumps({"mrz": zone})
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                raise SystemExit(f"the node answered {response.status}: {raw[:300]!r}")
            answers.append(bool(json.loads(raw)["person_matches"]))
    finally:
        conn.close()
    return {"latencies": latencies, "matched": answers}


def main() -> int:
    job = json.load(sys.stdin)
    json.dump(check_all(job["host"], job["port"], job["token"], job["path"], job["zones"]), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
