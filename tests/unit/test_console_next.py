"""Where the console sends a browser after login (`next`): a path of the console, or the home page."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.plumbing.console import _safe_next


@pytest.mark.parametrize("target", ["/console/", "/console/events", "/console/mla/7?ok=sent%20it",
                                    "/console/threads/jit%3Ax%2Fy", "/console/cases/search?name=KOVA%C4%8C"])
def test_a_path_of_the_console_is_kept(target: str) -> None:
    assert _safe_next(target) == target


@pytest.mark.parametrize("target", [
    "/console/\r\nX-Injected: 1", "/console/%0D%0AX-Injected:", "/console/%00", "/console/%C2%85", "/console/%E2%80%A8",
    "//evil.example/", "/\\evil.example/", "/console/\\evil", "https://evil.example/console/", "/console/../api/health",
    "/console/%2e%2E/api", "/console/a/./b", "/console/é", "/console/a b", "/console/#x", "/console", "console/",
    "/console/login", "/console/login?next=//evil.example", "", None, 7])
def test_anything_else_means_the_home_page(target: object) -> None:
    assert _safe_next(target) is None


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text().map(lambda t: "/console/" + t),
                 st.lists(st.sampled_from(["/console/", "/", "..", ".", "%0A", "%2e", "\\", "a", "?", "%", "\r", "é"]))
                 .map("".join)))
def test_whatever_is_kept_is_a_console_path_without_control_characters_or_dot_segments(target: str) -> None:
    kept = _safe_next(target)
    if kept is None:
        return
    assert kept.startswith("/console/") and kept.isascii() and not kept.startswith("/console/login")
    decoded = unquote(kept)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\\#" for c in decoded)
    assert not {".", ".."} & set(decoded.split("?")[0].split("/"))
