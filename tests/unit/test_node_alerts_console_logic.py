"""The alert pages' own decisions: a feed file's format from its name, its line count for the
progress bar (which must agree with how the intake splits lines), the percentage, and paging."""

from __future__ import annotations

import asyncio

import pytest

from nodes.national.features.alerts import feeds
from nodes.national.features.alerts.console import FormError, LineTally, feed_format, parse_offset, percent


def test_the_format_comes_from_the_file_name() -> None:
    assert feed_format("alerts.ndjson") == feed_format("A.JSONL") == "ndjson"
    assert feed_format("2026-11-23.alerts.CSV") == "csv"
    for name in ("alerts.xlsx", "alerts", ".csv", "alerts.csv.gz"):
        with pytest.raises(FormError) as refused:
            feed_format(name)
        assert refused.value.reason == "bad_file_type" and ".ndjson" in refused.value.detail


class _Counter:
    """Stands in for a FeedIntake: counts the lines line_blocks hands over or skips as too long."""

    def __init__(self) -> None:
        self.lines = 0

    def too_long(self) -> None:
        self.lines += 1


def _intake_lines(data: bytes, chunk: int) -> int:
    counter = _Counter()

    async def run() -> None:
        async def chunks():  # noqa: ANN202
            for start in range(0, len(data), chunk):
                yield data[start:start + chunk]

        async for lines, _ in feeds.line_blocks(chunks(), counter):  # type: ignore[arg-type]
            counter.lines += len(lines)

    asyncio.run(run())
    return counter.lines


LONG = b"x" * (feeds.MAX_RECORD_BYTES + 10)
BIG_BLOCK = (b'{"a": 1}\n' * (feeds.READ_BYTES // 9 + 5))


@pytest.mark.parametrize("data", [
    b"", b"a", b"a\n", b"a\nb", b"a\nb\n", b"\n\n", b"a\r\nb\r\n", b"h1,h2\n1,2\n\n3,4",
    BIG_BLOCK, BIG_BLOCK + LONG, BIG_BLOCK + LONG + b"\nlast\n", BIG_BLOCK + LONG + b"\n", LONG * 40 + b"\nz",
])
@pytest.mark.parametrize("chunk", [1000, 64 * 1024, 1024 * 1024])
def test_the_tally_counts_the_lines_the_intake_will_count(data: bytes, chunk: int) -> None:
    tally = LineTally()
    for start in range(0, len(data), chunk):
        tally.add(data[start:start + chunk])
    assert tally.size == len(data)
    assert tally.lines == _intake_lines(data, chunk)


def test_a_nul_byte_marks_the_file_binary() -> None:
    tally = LineTally()
    tally.add(b"document_number,status\n")
    assert not tally.binary
    tally.add(b"\xff\xfed\x00o\x00c\x00")
    assert tally.binary


def test_percent_reaches_100_only_when_every_line_is_read() -> None:
    assert percent(0, 12) == 0
    assert percent(6, 12) == 50
    assert percent(999, 1000) == 99  # never rounded up to a full bar
    assert percent(12, 12) == 100
    assert percent(0, 0) == 100


def test_offsets_are_whole_numbers_and_bad_ones_are_explained() -> None:
    assert parse_offset(None, "offset") == parse_offset("", "offset") == 0
    assert parse_offset("200", "offset") == 200
    for bad in ("-1", "1e3", "ten", "٣", str(2**63)):
        with pytest.raises(FormError, match="offset is a whole number"):
            parse_offset(bad, "offset")
