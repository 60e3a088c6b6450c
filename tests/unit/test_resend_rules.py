"""protocol/resend.py: a re-send reaches the one recipient it names, only if the message was for it;
a resend.request names a window that is forward and at most 30 days long."""

from __future__ import annotations

import pytest

from protocol import policy
from protocol.errors import ProtocolError
from protocol.resend import narrowed, window_rule


def test_a_resend_is_narrowed_to_its_one_recipient_and_never_widened() -> None:
    assert narrowed(("MEX", "IDN"), None) == ("MEX", "IDN")
    assert narrowed(("MEX", "IDN"), "MEX") == ("MEX",)
    assert narrowed(("MEX", "IDN"), "ITA") == ()


@pytest.mark.parametrize(("since", "until", "ok"), [
    ("2026-11-01T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z", True),  # 30 days
    ("2026-11-01T00:00:00.000000Z", "2026-12-01T00:00:00.000001Z", False),  # a microsecond more
    ("2026-12-01T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z", False),  # empty
    ("2026-12-02T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z", False),  # backwards
])
def test_the_window_of_a_resend_request(since: str, until: str, ok: bool) -> None:
    class Env:
        type = "resend.request"

    if ok:
        window_rule(Env(), {"since": since, "until": until})
    else:
        with pytest.raises(ProtocolError) as refused:
            window_rule(Env(), {"since": since, "until": until})
        assert refused.value.reason == "bad_body"
    assert policy.BODY_RULES["resend.request"] is window_rule  # checked at the hub and at the peer
