"""Issue 21, item 5: an audit export that selects nothing is an error unless asked for, so an empty
trail is never mistaken for a clean one."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.app import cli


@pytest.fixture
def empty_log(monkeypatch: pytest.MonkeyPatch) -> None:
    async def export_audit(state_dir: Path, **query: str | None) -> dict:
        return {"entries": [], "checkpoints": []}

    monkeypatch.setattr("nodes.app.local.export_audit", export_audit)
    monkeypatch.setattr("nodes.app.cli.configure_logging", lambda: None)


def test_an_empty_export_is_refused_in_one_line_unless_allowed(empty_log, tmp_path: Path,  # noqa: ANN001
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trail.json"
    assert cli.main(["--state-dir", str(tmp_path), "audit", "export", "--out", str(out), "--since",
                     "2026-11-22"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no audit entry" in line and "--allow-empty" in line
    assert not out.exists()
    assert cli.main(["audit", "export", "--out", str(out), "--allow-empty", "--state-dir", str(tmp_path)]) == 0
    assert out.exists() and "0 entries" in capsys.readouterr().out


def test_a_bad_time_filter_is_refused_before_any_call(empty_log, tmp_path: Path,  # noqa: ANN001
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "export", "--out", str(tmp_path / "t.json"), "--since", "yesterday"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--since='yesterday' is not an RFC 3339 UTC time like 2026-11-22T17:20:00Z" in line
