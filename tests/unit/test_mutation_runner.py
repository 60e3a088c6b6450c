"""tests/mutation/run.py's change detection: which functions CI mutates (docs/testing.md)."""

from __future__ import annotations

import json

import pytest

from tests.mutation import run


def test_functions_are_named_as_mutmut_names_them() -> None:
    names = run.function_hashes("protocol/receipts.py")
    assert {"x_parse_log_receipt", "x\u01c1LogReceipt\u01c1signing_input"} <= set(names)
    assert all(len(digest) == 64 for digest in names.values())


def test_only_new_or_changed_functions_are_mutated_again() -> None:
    recorded = {"functions": run.function_hashes("crypto/signing.py")}
    assert run.changed_functions("crypto/signing.py", recorded) == []
    recorded["functions"]["x_verify_envelope"] = "0" * 64
    del recorded["functions"]["x_sign_envelope"]
    assert run.changed_functions("crypto/signing.py", recorded) == ["x_sign_envelope", "x_verify_envelope"]
    assert run.changed_functions("crypto/signing.py", {}) == sorted(run.function_hashes("crypto/signing.py"))


def test_every_trust_guarding_module_is_a_module_of_the_pure_core() -> None:
    assert set(run.TRUST_MODULES) <= set(run.all_modules())


def test_a_run_that_ran_no_mutant_is_a_failure_never_a_score(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    # mutmut's first, unmutated test run failed: it made the mutants (their results all unset) and ran none.
    monkeypatch.setattr(run, "ROOT", tmp_path)
    (tmp_path / "mutants" / "protocol").mkdir(parents=True)
    (tmp_path / "mutants" / "protocol" / "policy.py.meta").write_text(
        '{"exit_code_by_key": {"protocol.policy.x_is_for__mutmut_1": null}}')
    rows = {"protocol/policy.py": run.tally("protocol/policy.py"), "crypto/signing.py": run.tally("crypto/signing.py")}
    assert rows["protocol/policy.py"]["score"] == 1.0  # what the table would have said
    assert run.did_not_run(rows) == ["protocol/policy.py", "crypto/signing.py"]  # no results at all for signing
    (tmp_path / "mutants" / "protocol" / "policy.py.meta").write_text(
        '{"exit_code_by_key": {"protocol.policy.x_is_for__mutmut_1": 1}}')
    assert run.did_not_run({"protocol/policy.py": run.tally("protocol/policy.py")}) == []


def test_accept_records_the_checked_functions_hashes_and_keeps_the_floors(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    # After a passing check the next one mutates nothing of what was checked; the floor is unchanged,
    # and a module that never had a floor is not given one.
    monkeypatch.setattr(run, "FLOORS", tmp_path / "floors.json")
    stale = {k: "0" * 64 for k in run.function_hashes("crypto/signing.py")}
    floors = {"crypto/signing.py": {"floor": 0.93, "sha256": "0" * 64, "functions": stale}}
    run.accept(floors, {"crypto/signing.py": {}, "protocol/files.py": {}})
    written = json.loads((tmp_path / "floors.json").read_text())
    assert written["crypto/signing.py"]["floor"] == 0.93
    assert written["crypto/signing.py"]["sha256"] == run.source_hash("crypto/signing.py")
    assert run.changed_functions("crypto/signing.py", written["crypto/signing.py"]) == []
    assert "protocol/files.py" not in written


def test_accept_only_goes_with_check() -> None:
    with pytest.raises(SystemExit):
        run.main(["--accept"])
