"""protocol/resend.py (issue 24): the words of a refused resend.request window (what the restored node's
operator reads), and the narrowing of a re-send to exactly the one recipient it names."""

from __future__ import annotations

import pytest

from protocol import resend
from protocol.errors import ProtocolError


class Env:
    type = "resend.request"


def refused(since: str, until: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        resend.window_rule(Env(), {"since": since, "until": until})
    return caught.value


def test_a_window_that_does_not_go_forward_names_both_ends() -> None:
    err = refused("2026-12-02T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z")
    assert (err.reason, err.detail) == ("bad_body", "resend window: since 2026-12-02T00:00:00.000000Z is not before "
                                                    "until 2026-12-01T00:00:00.000000Z")
    err = refused("2026-12-01T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z")
    assert err.detail == ("resend window: since 2026-12-01T00:00:00.000000Z is not before "
                          "until 2026-12-01T00:00:00.000000Z")


def test_a_window_longer_than_30_days_says_the_limit() -> None:
    assert resend.WINDOW.days == 30
    err = refused("2026-11-01T00:00:00.000000Z", "2026-12-02T00:00:00.000000Z")
    assert (err.reason, err.detail) == ("bad_body", "resend window longer than 30 days")
    resend.window_rule(Env(), {"since": "2026-12-01T00:00:00.000000Z", "until": "2026-12-01T00:00:00.000001Z"})


def test_a_resend_reaches_exactly_the_one_named_recipient_in_the_order_given() -> None:
    assert resend.narrowed(["IDN", "MEX", "ITA"], None) == ("IDN", "MEX", "ITA")
    assert resend.narrowed(["IDN", "MEX", "ITA"], "ITA") == ("ITA",)
    assert resend.narrowed(("MEX",), "MEX") == ("MEX",)
    assert resend.narrowed((), "MEX") == ()
    assert resend.narrowed(("MEX",), "") == ()
    assert resend.RESEND_TO == "somex-resend-to"
