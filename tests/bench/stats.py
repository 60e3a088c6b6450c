"""Small statistics helpers for the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    name: str
    messages: int
    seconds: float
    latencies_ms: list[float]
    python_cpu: dict[str, float] | None = None  # CPU seconds of each of the path's processes
    broker_cpu: float = float("nan")  # CPU seconds of the broker during the run

    @classmethod
    def of(cls, name: str, measured) -> Run:  # noqa: ANN001 - a tests.bench.roles.Measured
        return cls(name, len(measured.latencies_ms), measured.seconds, measured.latencies_ms,
                   measured.python_cpu, measured.broker_cpu)

    @property
    def cpu_per_message_us(self) -> tuple[float, float]:
        """(Python, broker) CPU microseconds per delivered message."""
        python = sum((self.python_cpu or {}).values())
        return (python / max(self.messages, 1) * 1e6, self.broker_cpu / max(self.messages, 1) * 1e6)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    def line(self) -> str:
        return (f"{self.name:<44} {self.rate:>9.0f} msg/s   p50 {self.percentile(50):>7.1f} ms"
                f"   p99 {self.percentile(99):>7.1f} ms   ({self.messages} in {self.seconds:.2f} s)"
                + ("" if not self.python_cpu else
                   "\n    CPU per message: Python {:.0f} µs ({}), broker {:.0f} µs".format(
                       self.cpu_per_message_us[0],
                       ", ".join(f"{name} {cpu / max(self.messages, 1) * 1e6:.0f}" for name, cpu in self.python_cpu.items()),
                       self.cpu_per_message_us[1])))
