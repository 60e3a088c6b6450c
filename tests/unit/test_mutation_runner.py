"""tests/mutation/run.py's change detection: which functions CI mutates (docs/testing.md)."""

from __future__ import annotations

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
