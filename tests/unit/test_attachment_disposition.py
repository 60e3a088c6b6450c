"""The download header for a file name another State chose: any name, a header aiohttp will send."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.plumbing.http import attachment_disposition

FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what aiohttp refuses in a header (http_writer)
SHAPE = re.compile(r'attachment; filename="([ !#-:<-\[\]-~]*)"; filename\*=UTF-8\'\'([A-Za-z0-9_.~%-]*)')


def test_a_plain_name_is_kept_in_both_forms() -> None:
    assert attachment_disposition("bank-records.csv") == \
        "attachment; filename=\"bank-records.csv\"; filename*=UTF-8''bank-records.csv"


def test_quotes_controls_and_surrogates_cannot_reach_the_header() -> None:
    header = attachment_disposition('a"\\\r\n\x7f\x85\u2028\ud800é.csv')
    assert header == "attachment; filename=\"a_________.csv\"; filename*=UTF-8''a%22%5C______%C3%A9.csv"


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_every_name_gives_a_header_aiohttp_sends_and_a_browser_reads_back(name: str) -> None:
    header = attachment_disposition(name)
    assert FORBIDDEN.search(header) is None and header.isascii()
    match = SHAPE.fullmatch(header)
    assert match is not None
    assert len(unquote(match.group(2))) == len(name)  # one character shown for each written
