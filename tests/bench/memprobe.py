"""Where a process's peak resident memory comes from (`SOMEX_BENCH_MEMPROBE=<dir>` in the bench
roles): a thread samples VmRSS every 2 ms from the moment the role is ready; at each new peak (past
the first 8 MiB of growth, every 2 MiB more) it notes every thread's stack and the Python blocks of
256 KiB or more alive then (tracemalloc, started at ready: only what was allocated since is seen).
The last few peaks are in `<dir>/mem-<pid>.txt`."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import traceback
import tracemalloc
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def _malloc() -> str:
    """glibc's view: bytes in arenas (in use, free but kept) and in mmapped blocks."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return "mallinfo2 unavailable"
    return (f"malloc: arenas {m.arena / MiB:.1f} MiB (in use {m.uordblks / MiB:.1f}, free {m.fordblks / MiB:.1f}), "
            f"mmapped blocks {m.hblkhd / MiB:.1f} MiB in {m.hblks}")


def _status() -> str:
    with open("/proc/self/status") as f:
        return ", ".join(line.strip().replace("\t", " ") for line in f if line.startswith(("RssAnon", "RssFile")))


def _moment(rss: int) -> str:
    traced, _ = tracemalloc.get_traced_memory()
    lines = [f"== RSS {rss / MiB:.1f} MiB at {time.monotonic():.3f}; {_status()}; {_malloc()}; Python traced "
             f"{traced / MiB:.1f} MiB (tracemalloc's own {tracemalloc.get_tracemalloc_memory() / MiB:.1f} MiB)"]
    me = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident != me:
            stack = "".join(traceback.format_stack(frame, limit=14))
            lines.append(f"-- thread {names.get(ident, ident)}\n{stack}")
    big = [t for t in tracemalloc.take_snapshot().traces if t.size >= 256 * 1024]
    lines.append(f"-- Python blocks >= 256 KiB: {len(big)}, {sum(t.size for t in big) / MiB:.1f} MiB")
    for t in sorted(big, key=lambda t: -t.size):
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in t.traceback)
        lines.append(f"   {t.size / MiB:5.1f} MiB  {where}")
    return "\n".join(lines)


def start_probe(directory: Path) -> None:
    tracemalloc.start(12)
    base = _rss()
    peaks: list[str] = []
    state = {"max": base + 8 * MiB}

    def sample() -> None:
        while True:
            rss = _rss()
            if rss > state["max"]:
                state["max"] = rss + 2 * MiB
                peaks.append(_moment(rss))
                del peaks[:-4]
                (directory / f"mem-{os.getpid()}.txt").write_text(
                    f"RSS at ready {base / MiB:.1f} MiB; the last peaks:\n" + "\n\n".join(peaks))
            time.sleep(0.002)

    threading.Thread(target=sample, name="memprobe", daemon=True).start()
