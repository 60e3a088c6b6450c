"""Small statistics helpers for the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    name: str
    messages: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    def line(self) -> str:
        return (f"{self.name:<44} {self.rate:>9.0f} msg/s   p50 {self.percentile(50):>7.1f} ms"
                f"   p99 {self.percentile(99):>7.1f} ms   ({self.messages} in {self.seconds:.2f} s)")
