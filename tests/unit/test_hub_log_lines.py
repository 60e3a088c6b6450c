"""The hub's log line for a relayed message: its recipients counted, named only when few (a broadcast
at 190 members would write 189 names a line; the audit log keeps them all)."""

from __future__ import annotations

from structlog.testing import capture_logs

from nodes.hub.audit import ACCEPTED, AuditEntry
from nodes.hub.decide import FORWARD, Verdict
from nodes.hub.relay import LOGGED_RECIPIENTS, Hub, _Handled


def relayed(recipients: tuple[str, ...]) -> dict:
    entry = AuditEntry(verdict=ACCEPTED, digest="0" * 64, received_at="2026-12-02T12:00:00.000000Z",
                       message_id="01a20000-0000-7000-8000-000000000001", type="alert.document", sender="MEX",
                       recipients=recipients, seq=7)
    with capture_logs() as logs:
        Hub._log(None, _Handled(None, Verdict(FORWARD, entry, recipients=recipients)))  # type: ignore[arg-type]
    (line,) = logs
    assert line["event"] == "message relayed" and line["message_id"] == entry.message_id and line["seq"] == 7
    return line


def test_a_message_to_few_recipients_names_them() -> None:
    line = relayed(("IDN", "ITA"))
    assert line["recipients"] == 2 and line["to"] == ["IDN", "ITA"]


def test_a_broadcast_to_189_recipients_is_counted_not_listed() -> None:
    members = tuple(f"C{i:02d}" for i in range(189))
    line = relayed(members)
    assert line["recipients"] == 189 and line["to"] is None
    assert relayed(members[:LOGGED_RECIPIENTS])["to"] == list(members[:LOGGED_RECIPIENTS])
    assert relayed(members[:LOGGED_RECIPIENTS + 1])["to"] is None
