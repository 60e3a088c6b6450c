"""Issue 21, item 6 (item 9 of the issue): in JSON mode every line is a JSON object, library lines
and Python warnings included; no null fields."""

from __future__ import annotations

import json
import logging
import warnings

import pytest
import structlog

from nodes.plumbing.logs import _HANDLER_NAME, configure_logging


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """JSON logging to the captured stderr (configured in the test: capture swaps stderr per phase)."""
    yield lambda: configure_logging("INFO", json=True)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def test_library_lines_and_warnings_are_json_lines_without_null_fields(json_logs, capsys) -> None:  # noqa: ANN001
    json_logs()
    logging.getLogger("aiormq.connection").error("Unexpected connection close from remote %r", "amqps://x")
    logging.getLogger("aio_pika.robust_connection").warning("Connection attempt failed")
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    # What the warnings machinery hands a warning to (captureWarnings installs logging's hook); called
    # directly, because whether warn() reaches it depends on filters other tools (mutmut) set.
    warnings.showwarning(RuntimeWarning("coroutine 'Connection.close' was never awaited"), RuntimeWarning,
                         __file__, 1)
    structlog.get_logger("somex.test").info("message relayed", message_id="m-1", thread=None)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]  # each line alone is JSON
    assert all(None not in r.values() for r in records)
    # Ours, in order: a line another part of the process logs meanwhile (mutmut's runner, a
    # finaliser) must be JSON without nulls too (above), but is not one of ours.
    ours = ("Unexpected connection close", "Connection attempt failed", "Task exception was never retrieved",
            "was never awaited", "message relayed")
    records = [r for r in records if any(o in str(r.get("event", "")) for o in ours)]
    assert [r["event"].split(" ")[0] for r in records] == ["Unexpected", "Connection", "Task", records[3]["event"]
                                                           .split(" ")[0], "message"]
    assert records[0]["logger"] == "aiormq.connection" and records[0]["level"] == "error"
    assert "ConnectionRefusedError" in records[2]["exception"]
    assert records[3]["logger"] == "py.warnings" and "never awaited" in records[3]["event"]
    assert "thread" not in records[4] and records[4]["message_id"] == "m-1"


def test_aiormqs_per_attempt_reconnect_error_is_left_to_somexs_own_warning(json_logs, capsys) -> None:  # noqa: ANN001
    json_logs()
    logging.getLogger("aiormq.connection").error("error when creating transport: <AMQPConnectionError: (111)>")
    logging.getLogger("aiormq.connection").error("Unexpected connection close from remote")
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["event"] == "Unexpected connection close from remote"
