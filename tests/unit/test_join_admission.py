"""crypto/join.py's admission (issue 24, mut24: survivors of `admit`). Admissions are made inside
each test: one built when the module is imported is built before a mutant is active."""

from __future__ import annotations

from datetime import timedelta

from crypto.join import admit, load_join_request
from tests.unit.test_join import HUB, MEX, NOW, ROOT_CERT, ROOT_KEY, TLS_CA, Node


def test_a_directory_issued_with_an_admission_is_valid_for_365_days_by_default() -> None:
    hub = admit(load_join_request(HUB.request), ROOT_KEY, ROOT_CERT, TLS_CA, None, NOW, broker_user="hub",
                allowed_types=frozenset({"hub.rejection"}))
    assert hub.directory.expires == NOW + timedelta(days=365)


def test_a_rotation_keeps_the_members_broker_user_and_types_whatever_the_operator_passes() -> None:
    """A new key is not a new identity: the broker user (its RabbitMQ permissions) and the types it
    may send stay the member's, even when the operator's command names others."""
    hub = admit(load_join_request(HUB.request), ROOT_KEY, ROOT_CERT, TLS_CA, None, NOW, broker_user="hub",
                allowed_types=frozenset({"hub.rejection"}))
    mex = admit(load_join_request(MEX.request), ROOT_KEY, ROOT_CERT, TLS_CA, hub.directory, NOW, broker_user="mex",
                allowed_types=frozenset({"note"}))
    rotated = admit(load_join_request(Node("MEX").request), ROOT_KEY, ROOT_CERT, TLS_CA, mex.directory, NOW,
                    broker_user="intruder", allowed_types=frozenset({"alert.document"}), rotation=True)
    entry = rotated.directory.node("MEX")
    assert (entry.broker_user, entry.allowed_types) == ("mex", frozenset({"note"}))
    assert len(entry.certificates) == 2


def test_an_admission_never_shortens_the_directorys_validity() -> None:
    hub = admit(load_join_request(HUB.request), ROOT_KEY, ROOT_CERT, TLS_CA, None, NOW, broker_user="hub",
                allowed_types=frozenset({"hub.rejection"}), directory_days=500)
    mex = admit(load_join_request(MEX.request), ROOT_KEY, ROOT_CERT, TLS_CA, hub.directory, NOW, broker_user="mex",
                allowed_types=frozenset({"note"}))
    assert mex.directory.expires == hub.directory.expires == NOW + timedelta(days=500)


def test_a_malformed_bundle_says_which_part_is_wrong() -> None:
    from tests.unit.test_join import _check, _join_error

    edited = _join_error(lambda: _check(b'{ "admission": 1 }'))
    assert edited.reason == "malformed_bundle"
    assert "admission bundle: not in RFC 8785 canonical form (re-encoded or edited)" in edited.detail
    assert _join_error(lambda: _check(b"[]")).detail == "not an admission bundle: bundle must be an object"
    assert _join_error(lambda: _check(b'{"admission":1}')).detail == (
        "not an admission bundle: admission must be an object")


def test_a_bundle_whose_directory_has_expired_is_refused() -> None:
    """A node must not install a directory past its validity (an old one replayed to it)."""
    import pytest

    from crypto.errors import DirectoryError
    from tests.unit.test_join import _bundle, _check

    then = NOW - timedelta(days=30)
    hub = admit(load_join_request(HUB.request), ROOT_KEY, ROOT_CERT, TLS_CA, None, then, broker_user="hub",
                allowed_types=frozenset({"hub.rejection"}), directory_days=1)
    mex = admit(load_join_request(MEX.request), ROOT_KEY, ROOT_CERT, TLS_CA, hub.directory, then, broker_user="mex",
                allowed_types=frozenset({"note"}), directory_days=1)
    with pytest.raises(DirectoryError) as caught:
        _check(_bundle(mex))
    assert caught.value.reason == "expired"


def test_a_bundle_with_an_empty_document_or_another_nodes_long_id_says_so() -> None:
    from tests.unit.test_join import _bundle, _check, _join_error

    for member in ("directory", "revocations"):
        error = _join_error(lambda member=member: _check(_bundle(**{member: ""})))
        assert (error.reason, error.detail) == (
            "malformed_bundle", f"not an admission bundle: {member} must be a non-empty string")
    error = _join_error(lambda: _check(_bundle(node_id="ABCDEFGHIJKLMNOPQRSTUVWXYZ")))
    assert (error.reason, error.detail) == ("bundle_mismatch", "the bundle is for 'ABCDEFGHIJKLMNOP', this node is MEX")


def test_a_join_request_over_64_kib_duplicated_or_with_nan_is_refused_saying_why() -> None:
    from crypto.join import MAX_REQUEST_BYTES
    from tests.unit.test_join import _join_error

    def detail(raw: bytes) -> str:
        error = _join_error(lambda: load_join_request(raw))
        assert error.reason == "malformed_request"
        return error.detail

    assert detail(b" " * (MAX_REQUEST_BYTES + 1)) == f"not a join request: expected at most {MAX_REQUEST_BYTES} bytes"
    assert detail(b" " * MAX_REQUEST_BYTES).startswith("not a join request: Expecting value")  # at the limit: read
    assert detail(b'{"sig":1,"sig":2}') == "not a join request: a member appears twice"
    assert detail(b'{"sig":NaN}') == "not a join request: NaN is not JSON"
    assert detail(b'{ "sig": 1 }') == "not a join request: not in RFC 8785 canonical form (re-encoded or edited)"


def test_a_contact_with_every_field_or_one_character_values_is_accepted() -> None:
    from tests.unit.test_join import _resigned

    every = {"organisation": "P", "name": "N", "email": "e@x.org", "phone": "+52 55 0000 0000"}
    assert load_join_request(_resigned(MEX.request, {"contact": every}, MEX.signing)).contact == every
