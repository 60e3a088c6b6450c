"""The root-signed directory and revocation list, and the trust store verifiers resolve keys with."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto.directory
from crypto.directory import (
    DIRECTORY_DOMAIN,
    REVOCATIONS_DOMAIN,
    Directory,
    NodeEntry,
    RevocationList,
    TrustStore,
    load_directory,
    load_revocations,
    sign_directory,
    sign_revocations,
)
from crypto.errors import CryptoError, DirectoryError
from crypto.keys import SealingKey, SigningKey
from crypto.pki import cert_to_pem, create_root, issue_certificate

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT_KEY, ROOT_CERT = create_root("unit", NOW)
KEYS = {n: SigningKey.generate() for n in ("HUB", "MEX", "IDN")}


def _cert(node_id: str, key: SigningKey, days: int = 825, at: datetime = NOW,
          root: tuple[SigningKey, x509.Certificate] = (ROOT_KEY, ROOT_CERT)) -> x509.Certificate:
    return issue_certificate(root[0], root[1], node_id, key.public_key, at, days=days)


CERTS = {n: _cert(n, k) for n, k in KEYS.items()}


def _entry(node_id: str, *certs: x509.Certificate) -> NodeEntry:
    types = {"hub.rejection"} if node_id == "HUB" else {"alert.document", "note"}
    return NodeEntry(node_id, certs or (CERTS[node_id],), "hub" if node_id == "HUB" else node_id,
                     frozenset(types), SealingKey.generate().public_bytes())


ENTRIES = {n: _entry(n) for n in KEYS}


def _directory(days: int = 30, **nodes: NodeEntry) -> Directory:
    return Directory("unit", 7, NOW - timedelta(minutes=5), NOW + timedelta(days=days), {**ENTRIES, **nodes})


DIRECTORY = _directory()
SIGNED = sign_directory(DIRECTORY, ROOT_KEY)
REVOCATIONS = RevocationList("unit", 3, NOW, NOW + timedelta(days=7), frozenset({"ab" * 32}))


def _root_signed(inner_name: str, inner: Any, domain: bytes = DIRECTORY_DOMAIN,
                 key: SigningKey = ROOT_KEY, kid: str | None = None) -> bytes:
    """Signed the way the root signs, whatever the content: for content checks after the signature."""
    value = base64.b64encode(key.sign(domain + rfc8785.dumps(inner))).decode()
    return rfc8785.dumps({inner_name: inner, "sig": {"alg": "ed25519", "kid": kid or key.kid, "value": value}})


def _reason(raw: bytes, now: datetime | None = NOW) -> str:
    with pytest.raises(CryptoError) as caught:
        load_directory(raw, ROOT_CERT, now)
    return caught.value.reason


# -- the directory itself ------------------------------------------------------------------------

def test_signed_directory_loads_back_identical() -> None:
    loaded = load_directory(SIGNED, ROOT_CERT, NOW)
    assert loaded == DIRECTORY
    assert loaded.as_json() == DIRECTORY.as_json()
    assert SIGNED == rfc8785.dumps(json.loads(SIGNED))  # the wire form is canonical


def test_directory_lookups() -> None:
    assert DIRECTORY.node("MEX") is DIRECTORY.nodes["MEX"]
    assert DIRECTORY.node_ids() == ["IDN", "MEX"]
    assert DIRECTORY.node_ids(exclude_hub=False) == ["HUB", "IDN", "MEX"]
    assert DIRECTORY.by_broker_user("hub").node_id == "HUB"
    assert DIRECTORY.by_broker_user("nobody") is None
    entry, cert = DIRECTORY.key_for(KEYS["IDN"].kid)
    assert entry.node_id == "IDN" and cert == CERTS["IDN"]


def test_unknown_node_and_unknown_key_are_directory_errors() -> None:
    with pytest.raises(DirectoryError) as caught:
        DIRECTORY.node("FRA")
    assert caught.value.reason == "unknown_node"
    with pytest.raises(DirectoryError) as caught:
        DIRECTORY.key_for(SigningKey.generate().kid)
    assert caught.value.reason == "unknown_key"


def test_every_certificate_of_a_rollover_resolves_to_its_node() -> None:
    new_key = SigningKey.generate()
    directory = _directory(MEX=_entry("MEX", CERTS["MEX"], _cert("MEX", new_key)))
    loaded = load_directory(sign_directory(directory, ROOT_KEY), ROOT_CERT, NOW)
    assert loaded.key_for(KEYS["MEX"].kid)[0].node_id == loaded.key_for(new_key.kid)[0].node_id == "MEX"
    assert loaded.node("MEX").certificates[-1].public_key() == new_key.public_key


def test_times_travel_with_second_precision_in_utc() -> None:
    directory = Directory("unit", 1, NOW + timedelta(microseconds=7), NOW + timedelta(days=1, microseconds=9),
                          ENTRIES)
    assert directory.issued == NOW and directory.issued.tzinfo == UTC
    assert load_directory(sign_directory(directory, ROOT_KEY), ROOT_CERT, NOW) == directory
    assert json.loads(sign_directory(directory, ROOT_KEY))["directory"]["issued"] == "2026-11-22T12:00:00Z"


@pytest.mark.parametrize("build", [
    lambda: Directory("unit", 1, NOW, NOW + timedelta(days=1), {n: e for n, e in ENTRIES.items() if n != "HUB"}),
    lambda: Directory("unit", 1, NOW, NOW - timedelta(days=1), ENTRIES),
    lambda: Directory("unit", -1, NOW, NOW + timedelta(days=1), ENTRIES),
    lambda: Directory("unit", 1, datetime(2026, 1, 1), NOW + timedelta(days=1), ENTRIES),
    lambda: Directory("unit", 1, NOW, NOW + timedelta(days=1), {**ENTRIES, "FRA": ENTRIES["MEX"]}),
    lambda: _directory(IDN=NodeEntry("IDN", (CERTS["IDN"],), "MEX", frozenset(), bytes(32))),
    lambda: _directory(IDN=_entry("IDN", CERTS["MEX"])),
    lambda: NodeEntry("mex", (CERTS["MEX"],), "MEX", frozenset(), bytes(32)),
    lambda: NodeEntry("MEX", (), "MEX", frozenset(), bytes(32)),
    lambda: NodeEntry("MEX", (CERTS["MEX"],), "MEX", frozenset(), bytes(31)),
], ids=["no-hub", "expires-before-issued", "negative-serial", "naive-time", "entry-under-other-id",
        "shared-broker-user", "shared-key", "bad-node-id", "no-certificate", "short-sealing-key"])
def test_inconsistent_directory_cannot_be_built(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


# -- refusals ----------------------------------------------------------------------------------

def test_directory_signed_by_a_non_root_key_is_refused() -> None:
    assert _reason(sign_directory(DIRECTORY, SigningKey.generate())) == "bad_signature"


def test_directory_signed_by_a_non_root_key_claiming_the_roots_kid_is_refused() -> None:
    raw = _root_signed("directory", DIRECTORY.as_json(), key=SigningKey.generate(), kid=ROOT_KEY.kid)
    assert _reason(raw) == "bad_signature"


def test_directory_signed_by_another_federations_root_is_refused() -> None:
    _, other_cert = create_root("unit", NOW)
    with pytest.raises(DirectoryError) as caught:
        load_directory(SIGNED, other_cert, NOW)
    assert caught.value.reason == "bad_signature"


def test_expired_directory_is_refused() -> None:
    assert _reason(SIGNED, NOW + timedelta(days=30)) == "expired"
    load_directory(SIGNED, ROOT_CERT, NOW + timedelta(days=30) - timedelta(seconds=1))


def test_directory_not_yet_valid_is_refused() -> None:
    assert _reason(SIGNED, NOW - timedelta(hours=1)) == "not_yet_valid"


def test_validity_window_can_be_skipped_for_offline_audit() -> None:
    assert load_directory(SIGNED, ROOT_CERT, None) == DIRECTORY


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def mutate(outer: dict) -> None:
        target = outer
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return mutate


OTHER_MEX_CERT = cert_to_pem(_cert("MEX", SigningKey.generate()))
TAMPERINGS = {
    "federation": _set(("directory", "federation"), "unit2"),
    "serial": _set(("directory", "serial"), 8),
    "issued": _set(("directory", "issued"), "2026-11-22T11:00:00Z"),
    "expires": _set(("directory", "expires"), "2036-11-22T12:00:00Z"),
    "node_id": _set(("directory", "nodes", 2, "node_id"), "MEY"),
    "certificate": _set(("directory", "nodes", 2, "certificates"), [OTHER_MEX_CERT]),
    "extra-certificate": lambda o: o["directory"]["nodes"][2]["certificates"].append(OTHER_MEX_CERT),
    "broker_user": _set(("directory", "nodes", 2, "broker_user"), "IDN"),
    "allowed_types": lambda o: o["directory"]["nodes"][2]["allowed_types"].append("hub.rejection"),
    "sealing_key": _set(("directory", "nodes", 2, "sealing_key"), base64.b64encode(bytes(32)).decode()),
    "dropped-node": lambda o: o["directory"]["nodes"].pop(1),
    "extra-member": _set(("directory", "note"), "hello"),
    "sig.alg": _set(("sig", "alg"), "ml-dsa-65"),
    "sig.kid": _set(("sig", "kid"), "00" * 32),
    "sig.value": _set(("sig", "value"), base64.b64encode(bytes(64)).decode()),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampered_directory_is_refused(tamper: Callable[[dict], None]) -> None:
    outer = json.loads(SIGNED)
    assert outer["directory"]["nodes"][2]["node_id"] == "MEX"
    tamper(outer)
    assert _reason(rfc8785.dumps(outer)) == "bad_signature"


@pytest.mark.parametrize("raw", [
    b"", b"null", b"[]", b"{}", b"\xff\xfe", SIGNED[:-1], SIGNED + b"\n", SIGNED.replace(b":", b": ", 1),
    json.dumps(json.loads(SIGNED), indent=1).encode(),
    b'{"directory":{},"directory":{},"sig":{}}',
    SIGNED.replace(b'{"directory":', b'{"a":1,"directory":', 1),
    b"[" * 100_000,
], ids=["empty", "null", "array", "empty-object", "not-utf8", "truncated", "trailing-newline", "whitespace",
        "pretty-printed", "duplicate-member", "unknown-member", "deep"])
def test_malformed_directory_is_refused(raw: bytes) -> None:
    assert _reason(raw) == "malformed"


def test_oversize_directory_is_refused_before_parsing() -> None:
    assert _reason(b" " * (crypto.directory.MAX_SIGNED_BYTES + 1)) == "malformed"


def _inner(**changes: Any) -> dict[str, Any]:
    inner = DIRECTORY.as_json()
    mex = inner["nodes"][2]
    for key, value in changes.items():
        (mex if key in mex else inner)[key] = value
    return inner


@pytest.mark.parametrize(("inner", "reason"), [
    (_inner(certificates=[cert_to_pem(_cert("MEX", KEYS["MEX"], root=create_root("x", NOW)))]),
     "cert_not_from_root"),
    (_inner(certificates=[cert_to_pem(CERTS["IDN"])]), "cert_name_mismatch"),  # IDN's certificate listed for MEX
    (_inner(certificates=[cert_to_pem(ROOT_CERT)]), "malformed"),  # the CA certificate as a node key
    (_inner(certificates=["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]), "malformed"),
    (_inner(allowed_types=["note", "alert.document"]), "malformed"),  # not sorted
    (_inner(allowed_types=["note", "note"]), "malformed"),
    (_inner(sealing_key="AAAA"), "malformed"),
    (_inner(serial="7"), "malformed"),
    (_inner(serial=True), "malformed"),
    (_inner(issued="2026-11-22 11:55:00"), "malformed"),
    (_inner(issued="2026-11-22T11:55:00+00:00"), "malformed"),
    (_inner(nodes=list(reversed(DIRECTORY.as_json()["nodes"]))), "malformed"),
    (_inner(nodes=[n for n in DIRECTORY.as_json()["nodes"] if n["node_id"] != "HUB"]), "malformed"),
    (_inner(node_id="mex"), "malformed"),
    (_inner(color="blue"), "malformed"),
    ([], "malformed"),
], ids=["foreign-cert", "other-nodes-cert", "ca-cert", "bad-pem", "unsorted-types", "duplicate-type",
        "short-sealing-key", "string-serial", "bool-serial", "bad-time", "offset-time", "unsorted-nodes",
        "no-hub", "bad-node-id", "unknown-member", "not-an-object"])
def test_root_signed_but_inconsistent_directory_is_refused(inner: Any, reason: str) -> None:
    assert _reason(_root_signed("directory", inner)) == reason


def test_revocations_signature_does_not_pass_as_a_directory() -> None:
    raw = _root_signed("directory", DIRECTORY.as_json(), domain=REVOCATIONS_DOMAIN)
    assert _reason(raw) == "bad_signature"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_byte_change_to_a_signed_directory_is_refused(data: st.DataObject) -> None:
    raw = bytearray(SIGNED)
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    change = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="change")
    if change == "replace":
        raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]), label="byte")
    elif change == "insert":
        raw.insert(position, data.draw(st.integers(0, 255), label="byte"))
    else:
        del raw[position]
    with pytest.raises(DirectoryError):
        load_directory(bytes(raw), ROOT_CERT, NOW)


# -- revocations -------------------------------------------------------------------------------

def test_signed_revocations_load_back_identical() -> None:
    raw = sign_revocations(REVOCATIONS, ROOT_KEY)
    assert load_revocations(raw, ROOT_CERT) == REVOCATIONS


def test_revocations_signed_by_a_non_root_key_are_refused() -> None:
    with pytest.raises(DirectoryError) as caught:
        load_revocations(sign_revocations(REVOCATIONS, SigningKey.generate()), ROOT_CERT)
    assert caught.value.reason == "bad_signature"


def test_tampered_revocations_are_refused() -> None:
    outer = json.loads(sign_revocations(REVOCATIONS, ROOT_KEY))
    outer["revocations"]["revoked"] = []
    with pytest.raises(DirectoryError) as caught:
        load_revocations(rfc8785.dumps(outer), ROOT_CERT)
    assert caught.value.reason == "bad_signature"


def test_directory_signature_does_not_pass_as_revocations() -> None:
    raw = _root_signed("revocations", REVOCATIONS.as_json(), domain=DIRECTORY_DOMAIN)
    with pytest.raises(DirectoryError) as caught:
        load_revocations(raw, ROOT_CERT)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("revoked", [["AB" * 32], ["ab"], ["ff" * 32, "ab" * 32], "ab" * 32])
def test_revocations_with_bad_key_ids_are_malformed(revoked: object) -> None:
    inner = {**REVOCATIONS.as_json(), "revoked": revoked}
    with pytest.raises(DirectoryError) as caught:
        load_revocations(_root_signed("revocations", inner, domain=REVOCATIONS_DOMAIN), ROOT_CERT)
    assert caught.value.reason == "malformed"


# -- the trust store ---------------------------------------------------------------------------

def _trust(directory: Directory = DIRECTORY, revoked: frozenset[str] = frozenset()) -> TrustStore:
    return TrustStore(directory, RevocationList("unit", 1, NOW, NOW + timedelta(days=7), revoked), ROOT_CERT)


def _signer_reason(trust: TrustStore, kid: str, now: datetime = NOW) -> str:
    with pytest.raises(CryptoError) as caught:
        trust.signer(kid, now)
    return caught.value.reason


def test_trust_store_resolves_each_key_to_its_node() -> None:
    trust = _trust()
    for node_id, key in KEYS.items():
        assert trust.signer(key.kid, NOW) == (node_id, key.public_key)


def test_revoked_key_is_refused_by_the_trust_store() -> None:
    trust = _trust(revoked=frozenset({KEYS["MEX"].kid}))
    assert _signer_reason(trust, KEYS["MEX"].kid) == "revoked_key"
    assert trust.signer(KEYS["IDN"].kid, NOW)[0] == "IDN"


def test_unknown_key_is_refused_by_the_trust_store() -> None:
    assert _signer_reason(_trust(), SigningKey.generate().kid) == "unknown_key"
    assert _signer_reason(_trust(), "not a kid") == "unknown_key"


def test_expired_and_not_yet_valid_certificates_are_refused_by_the_trust_store() -> None:
    old, early = SigningKey.generate(), SigningKey.generate()
    directory = _directory(MEX=_entry("MEX", _cert("MEX", old, days=1)),
                           IDN=_entry("IDN", _cert("IDN", early, at=NOW + timedelta(days=2))))
    trust = _trust(directory)
    assert trust.signer(old.kid, NOW)[0] == "MEX"
    assert _signer_reason(trust, old.kid, NOW + timedelta(days=2)) == "cert_expired"
    assert _signer_reason(trust, early.kid) == "cert_not_yet_valid"
    assert trust.signer(early.kid, NOW + timedelta(days=3))[0] == "IDN"


def test_certificate_from_another_root_is_refused_by_the_trust_store() -> None:
    rogue = SigningKey.generate()
    directory = _directory(MEX=_entry("MEX", _cert("MEX", rogue, root=create_root("unit", NOW))))
    assert _signer_reason(_trust(directory), rogue.kid) == "cert_not_from_root"


def test_trust_store_refuses_every_key_once_its_directory_expired() -> None:
    assert _signer_reason(_trust(), KEYS["MEX"].kid, NOW + timedelta(days=30)) == "directory_expired"


def test_trust_store_checks_each_certificate_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[x509.Certificate] = []
    check = crypto.directory.check_issued_by
    monkeypatch.setattr(crypto.directory, "check_issued_by", lambda cert, root: (calls.append(cert), check(cert, root)))
    trust = _trust()
    for _ in range(1000):
        trust.signer(KEYS["MEX"].kid, NOW)
        trust.signer(KEYS["HUB"].kid, NOW)
    assert calls == [CERTS["MEX"], CERTS["HUB"]]


def test_trust_store_refuses_revocations_of_another_federation() -> None:
    with pytest.raises(ValueError):
        TrustStore(DIRECTORY, RevocationList("other", 1, NOW, NOW + timedelta(days=7), frozenset()), ROOT_CERT)


def test_an_optional_hybrid_sealing_key_round_trips_and_its_absence_changes_no_byte() -> None:
    from dataclasses import replace

    from crypto.keys import HybridSealingKey

    hybrid = HybridSealingKey.generate().public_bytes()
    directory = _directory(MEX=replace(ENTRIES["MEX"], hybrid_sealing_key=hybrid))
    loaded = load_directory(sign_directory(directory, ROOT_KEY), ROOT_CERT, NOW)
    assert loaded.node("MEX").hybrid_sealing_key == hybrid and loaded.node("IDN").hybrid_sealing_key is None
    assert "hybrid_sealing_key" not in SIGNED.decode()  # directories without one are as before
    with pytest.raises(ValueError, match="hybrid sealing key"):
        replace(ENTRIES["MEX"], hybrid_sealing_key=hybrid[:-1])


# -- succession and freshness ----------------------------------------------------------------------

def test_a_revocation_list_carries_its_next_update_and_needs_one() -> None:
    assert load_revocations(sign_revocations(REVOCATIONS, ROOT_KEY), ROOT_CERT).next_update == NOW + timedelta(days=7)
    inner = {k: v for k, v in REVOCATIONS.as_json().items() if k != "next_update"}
    with pytest.raises(DirectoryError) as caught:
        load_revocations(_root_signed("revocations", inner, REVOCATIONS_DOMAIN), ROOT_CERT)
    assert caught.value.reason == "malformed"
    with pytest.raises(ValueError):
        RevocationList("unit", 1, NOW, NOW, frozenset())


def test_only_a_higher_serial_or_the_same_document_succeeds_the_one_held() -> None:
    from crypto.directory import HeldDocument, check_succession, document_digest

    held = HeldDocument(REVOCATIONS.serial, document_digest(REVOCATIONS))
    check_succession("revocations", None, REVOCATIONS)
    check_succession("revocations", held, REVOCATIONS)  # a restart on the same list
    check_succession("revocations", held, RevocationList("unit", 4, NOW, NOW + timedelta(days=1), frozenset()))
    for offered, reason in ((RevocationList("unit", 2, NOW, NOW + timedelta(days=9), REVOCATIONS.revoked),
                             "stale_revocations"),
                            (RevocationList("unit", 3, NOW, NOW + timedelta(days=9), REVOCATIONS.revoked),
                             "serial_reused")):
        with pytest.raises(DirectoryError) as caught:
            check_succession("revocations", held, offered)
        assert caught.value.reason == reason
    with pytest.raises(DirectoryError) as caught:
        check_succession("directory", HeldDocument(DIRECTORY.serial + 1, "0" * 64), DIRECTORY)
    assert caught.value.reason == "stale_directory"


def test_a_revocation_list_is_overdue_from_its_next_update() -> None:
    from crypto.directory import revocations_overdue

    assert not revocations_overdue(REVOCATIONS, NOW + timedelta(days=7) - timedelta(seconds=1))
    assert revocations_overdue(REVOCATIONS, NOW + timedelta(days=7))


# -- the bounds of a directory and a revocation list, at their edges ------------------------------------


@pytest.mark.parametrize("inner", [
    _inner(allowed_types=[5]), _inner(allowed_types=[""]), _inner(allowed_types="note"),
    _inner(broker_user=""), _inner(broker_user=7), _inner(serial=-1),
    _inner(expires=_inner()["issued"]),
], ids=["non-string-type", "empty-type", "types-not-a-list", "empty-broker-user", "int-broker-user",
        "negative-serial", "expires-when-issued"])
def test_a_directory_outside_its_bounds_is_malformed(inner: Any) -> None:
    assert _reason(_root_signed("directory", inner)) == "malformed"


@pytest.mark.parametrize("serial", [0, 2**53 - 1])
def test_directory_and_revocation_serials_run_from_0_to_2_53_minus_1(serial: int) -> None:
    directory = Directory("unit", serial, NOW - timedelta(minutes=5), NOW + timedelta(days=1), ENTRIES)
    assert load_directory(sign_directory(directory, ROOT_KEY), ROOT_CERT, NOW).serial == serial
    revocations = RevocationList("unit", serial, NOW, NOW + timedelta(days=7), frozenset())
    assert load_revocations(sign_revocations(revocations, ROOT_KEY), ROOT_CERT).serial == serial


@pytest.mark.parametrize("serial", [-1, 2**53, True, "1"])
def test_a_serial_outside_0_to_2_53_minus_1_is_refused_when_built(serial: object) -> None:
    with pytest.raises(ValueError, match="serial is an integer from 0 to 2\\*\\*53-1"):
        Directory("unit", serial, NOW - timedelta(minutes=5), NOW + timedelta(days=1), ENTRIES)
    with pytest.raises(ValueError, match="serial is an integer from 0 to 2\\*\\*53-1"):
        RevocationList("unit", serial, NOW, NOW + timedelta(days=7), frozenset())


def test_a_directory_or_revocation_list_ending_when_it_starts_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="must expire after it is issued"):
        Directory("unit", 1, NOW, NOW, ENTRIES)
    with pytest.raises(ValueError, match="next_update must follow its issue"):
        RevocationList("unit", 1, NOW, NOW, frozenset())


def test_unknown_nodes_and_keys_are_named_cut_to_16_characters() -> None:
    with pytest.raises(DirectoryError) as caught:
        DIRECTORY.node("X" * 40)
    assert (caught.value.reason, caught.value.detail) == ("unknown_node", f"{'X' * 16!r} is not in the directory")
    with pytest.raises(DirectoryError) as caught:
        DIRECTORY.key_for("ab" * 32)
    assert (caught.value.reason, caught.value.detail) == (
        "unknown_key", f"no certificate in the directory has key {('ab' * 32)[:16]!r}")


def test_a_built_directory_and_revocation_list_hold_immutable_normalised_values() -> None:
    entry = NodeEntry("MEX", [CERTS["MEX"]], "MEX", ["note"], SealingKey.generate().public_bytes())
    assert entry.certificates == (CERTS["MEX"],) and entry.allowed_types == frozenset({"note"})
    directory = Directory("unit", 1, NOW.replace(microsecond=7), NOW + timedelta(days=1), {**ENTRIES, "MEX": entry})
    assert directory.issued == NOW and directory.issued.tzinfo is UTC
    with pytest.raises(TypeError):
        directory.nodes["ITA"] = entry  # type: ignore[index]
    revocations = RevocationList("unit", 1, NOW.replace(microsecond=7), NOW + timedelta(days=7), ["ab" * 32])
    assert revocations.issued == NOW and revocations.revoked == frozenset({"ab" * 32})
    assert revocations.next_update == NOW + timedelta(days=7)


# -- what an operator reads in a refusal, and the edges of the trust store (issue 24) ----------------

def _directory_error(call: Callable[[], object]) -> DirectoryError:
    with pytest.raises(DirectoryError) as caught:
        call()
    return caught.value


def test_a_signed_document_with_a_json_constant_is_malformed_and_says_so() -> None:
    raw = SIGNED.replace(b'"serial":7', b'"serial":NaN', 1)
    assert raw != SIGNED
    error = _directory_error(lambda: load_directory(raw, ROOT_CERT, NOW))
    assert (error.reason, error.detail) == ("malformed", "not a signed directory: NaN is not JSON")


@pytest.mark.parametrize(("change", "detail"), [
    ({"color": "blue"}, "revocations: unknown members ['color'], missing members []"),
    ({"serial": "3"}, "serial must be an integer"),
    ({"federation": ""}, "federation must be a non-empty string"),
    ({"revoked": ["ab" * 32, "ab" * 32]}, "revoked must be sorted and without duplicates"),
], ids=["unknown-member", "string-serial", "empty-federation", "duplicate-kid"])
def test_a_root_signed_but_malformed_revocation_list_names_what_is_wrong(change: dict, detail: str) -> None:
    inner = {**REVOCATIONS.as_json(), **change}
    raw = _root_signed("revocations", inner, domain=REVOCATIONS_DOMAIN)
    error = _directory_error(lambda: load_revocations(raw, ROOT_CERT))
    assert (error.reason, error.detail) == ("malformed", f"revocation list content: {detail}")


def test_a_refused_succession_tells_the_operator_what_to_install() -> None:
    from crypto.directory import HeldDocument, check_succession, document_digest

    held = HeldDocument(REVOCATIONS.serial, document_digest(REVOCATIONS))
    older = RevocationList("unit", 2, NOW, NOW + timedelta(days=9), REVOCATIONS.revoked)
    error = _directory_error(lambda: check_succession("revocations", held, older))
    assert (error.reason, error.detail) == (
        "stale_revocations", "revocations serial 2 is older than serial 3 already accepted here: "
                             "install the newest one the root published")
    other = RevocationList("unit", 3, NOW, NOW + timedelta(days=9), REVOCATIONS.revoked)
    error = _directory_error(lambda: check_succession("revocations", held, other))
    assert (error.reason, error.detail) == (
        "serial_reused", "a different revocations with serial 3, which is already accepted here: "
                         "the root must publish a higher serial")


def test_a_publication_that_is_neither_document_is_malformed_and_says_so() -> None:
    from crypto.directory import publication_kind

    error = _directory_error(lambda: publication_kind(b'{"sig":{}}'))
    assert (error.reason, error.detail) == ("malformed", "neither a signed directory nor a signed revocation list")


def test_a_published_directory_is_checked_against_the_clock() -> None:
    from crypto.directory import check_publication

    newer = sign_directory(Directory("unit", 8, NOW - timedelta(minutes=5), NOW + timedelta(days=1), ENTRIES),
                           ROOT_KEY)
    assert check_publication(newer, ROOT_CERT, DIRECTORY, REVOCATIONS, NOW).serial == 8
    error = _directory_error(lambda: check_publication(newer, ROOT_CERT, DIRECTORY, REVOCATIONS,
                                                       NOW + timedelta(days=2)))
    assert error.reason == "expired"


def test_a_published_document_of_another_federation_or_an_old_serial_is_refused_with_its_words() -> None:
    from crypto.directory import check_publication

    name = "f" * 80
    other = sign_revocations(RevocationList(name, 9, NOW, NOW + timedelta(days=7), frozenset()), ROOT_KEY)
    error = _directory_error(lambda: check_publication(other, ROOT_CERT, DIRECTORY, REVOCATIONS, NOW))
    assert (error.reason, error.detail) == ("wrong_federation", f"a revocations of {'f' * 64!r}, not of 'unit'")
    same = sign_revocations(REVOCATIONS, ROOT_KEY)
    error = _directory_error(lambda: check_publication(same, ROOT_CERT, DIRECTORY, REVOCATIONS, NOW))
    assert (error.reason, error.detail) == (
        "stale_revocations", "revocations serial 3 is not higher than serial 3 in use here: nothing changed")


def test_a_trust_store_for_revocations_of_another_federation_names_both() -> None:
    with pytest.raises(ValueError, match="^revocations of 'other' for directory of 'unit'$"):
        TrustStore(DIRECTORY, RevocationList("other", 1, NOW, NOW + timedelta(days=7), frozenset()), ROOT_CERT)


def _signer_error(trust: TrustStore, kid: str, now: datetime = NOW) -> CryptoError:
    with pytest.raises(CryptoError) as caught:
        trust.signer(kid, now)
    return caught.value


def test_a_trust_store_refusal_names_the_key_and_its_node() -> None:
    kid = KEYS["MEX"].kid
    error = _signer_error(_trust(), kid, NOW + timedelta(days=30))
    assert (error.reason, error.detail) == ("directory_expired", "the directory expired 2026-12-22T12:00:00Z")
    error = _signer_error(_trust(revoked=frozenset({kid})), kid)
    assert (error.reason, error.detail) == ("revoked_key", f"key {kid[:16]}… was revoked by the root")
    unknown = SigningKey.generate().kid
    error = _signer_error(_trust(), unknown)
    assert (error.reason, error.detail) == ("unknown_key",
                                            f"no certificate in the directory has key {unknown[:16]!r}")


def test_a_key_revoked_after_the_trust_store_cached_it_is_refused() -> None:
    """The cache spares the root check, never the revocation check (two probes per lookup)."""
    trust = _trust()
    kid = KEYS["MEX"].kid
    assert trust.signer(kid, NOW)[0] == "MEX"
    trust.revocations = RevocationList("unit", 2, NOW, NOW + timedelta(days=7), frozenset({kid}))
    error = _signer_error(trust, kid)
    assert (error.reason, error.detail) == ("revoked_key", f"key {kid[:16]}… of MEX was revoked by the root")
    assert trust.signer(KEYS["IDN"].kid, NOW)[0] == "IDN"


def test_a_key_is_valid_from_its_not_before_to_its_not_after_inclusive_and_says_when_outside() -> None:
    key = SigningKey.generate()
    cert = _cert("MEX", key, days=1)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    trust = _trust(_directory(MEX=_entry("MEX", cert)))
    assert trust.signer(key.kid, start)[0] == trust.signer(key.kid, end)[0] == "MEX"
    early = _signer_error(trust, key.kid, start - timedelta(seconds=1))
    assert (early.reason, early.detail, early.valid_from) == (
        "cert_not_yet_valid", f"key {key.kid[:16]}… of MEX is valid from {start.isoformat()}", start)
    late = _signer_error(trust, key.kid, end + timedelta(seconds=1))
    assert (late.reason, late.detail, late.valid_until) == (
        "cert_expired", f"key {key.kid[:16]}… of MEX expired {end.isoformat()}", end)


_LATER = NOW + timedelta(days=1)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: RevocationList("", 1, NOW, _LATER, frozenset()), "a revocation list needs a federation name"),
    (lambda: RevocationList("unit", -1, NOW, _LATER, frozenset()),
     "a revocation list serial is an integer from 0 to 2**53-1"),
    (lambda: RevocationList("unit", 1, datetime(2026, 1, 1), _LATER, frozenset()),
     "issued must be a timezone-aware datetime"),
    (lambda: RevocationList("unit", 1, NOW, datetime(2026, 12, 1), frozenset()),
     "next_update must be a timezone-aware datetime"),
    (lambda: RevocationList("unit", 1, NOW, NOW, frozenset()), "a revocation list's next_update must follow its issue"),
    (lambda: RevocationList("unit", 1, NOW, _LATER, frozenset({"AB" * 32})),
     f"not key ids (64 lowercase hex digits): {['AB' * 32]}"),
    (lambda: Directory("", 1, NOW, _LATER, ENTRIES), "a directory needs a federation name"),
    (lambda: Directory("unit", -1, NOW, _LATER, ENTRIES), "a directory serial is an integer from 0 to 2**53-1"),
    (lambda: Directory("unit", 1, datetime(2026, 1, 1), _LATER, ENTRIES), "issued must be a timezone-aware datetime"),
    (lambda: Directory("unit", 1, NOW, datetime(2026, 12, 1), ENTRIES), "expires must be a timezone-aware datetime"),
    (lambda: Directory("unit", 1, NOW, NOW, ENTRIES), "a directory must expire after it is issued"),
    (lambda: Directory("unit", 1, NOW, _LATER, {n: e for n, e in ENTRIES.items() if n != "HUB"}),
     "a directory must list the hub"),
    (lambda: Directory("unit", 1, NOW, _LATER, {**ENTRIES, "FRA": ENTRIES["MEX"]}), "entry for MEX listed under FRA"),
    (lambda: _directory(IDN=NodeEntry("IDN", (CERTS["IDN"],), "MEX", frozenset(), bytes(32))),
     "broker user 'MEX' belongs to two nodes"),
    (lambda: _directory(IDN=_entry("IDN", CERTS["MEX"])), "one key is listed for two nodes (IDN)"),
    (lambda: NodeEntry("mex" * 10, (CERTS["MEX"],), "MEX", frozenset(), bytes(32)),
     f"node id {('mex' * 10)[:16]!r} is neither HUB nor three capital letters"),
    (lambda: NodeEntry("MEX", (), "MEX", frozenset(), bytes(32)), "MEX has no certificate"),
    (lambda: NodeEntry("MEX", (CERTS["MEX"],), "", frozenset(), bytes(32)), "MEX has no broker user"),
    (lambda: NodeEntry("MEX", (CERTS["MEX"],), "MEX", frozenset(), bytes(31)),
     "MEX: a sealing key is a raw 32-byte X25519 public key"),
    (lambda: NodeEntry("MEX", (CERTS["MEX"],), "MEX", frozenset(), bytes(32), bytes(32)),
     f"MEX: a hybrid sealing key is {crypto.directory.HYBRID_KEY_SIZE} bytes"),
], ids=["rl-federation", "rl-serial", "rl-naive-issued", "rl-naive-next-update", "rl-empty-window", "rl-bad-kid",
        "d-federation", "d-serial", "d-naive-issued", "d-naive-expires", "d-empty-window", "d-no-hub",
        "d-entry-under-other-id", "d-shared-broker-user", "d-shared-key", "e-bad-node-id", "e-no-certificate",
        "e-no-broker-user", "e-short-sealing-key", "e-short-hybrid-key"])
def test_a_document_built_wrongly_by_our_own_code_says_exactly_what_is_wrong(build: Callable[[], object],
                                                                               message: str) -> None:
    import re

    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build()


def test_a_directory_outside_its_window_says_when_it_is_valid() -> None:
    from crypto.directory import check_directory_window

    early = _directory_error(lambda: check_directory_window(DIRECTORY, DIRECTORY.issued - timedelta(seconds=1)))
    assert (early.reason, early.detail, early.valid_from) == ("not_yet_valid", "issued 2026-11-22T11:55:00Z",
                                                              DIRECTORY.issued)
    late = _directory_error(lambda: check_directory_window(DIRECTORY, DIRECTORY.expires))
    assert (late.reason, late.valid_until) == ("expired", DIRECTORY.expires)
    assert late.detail == "the directory expired 2026-12-22T12:00:00Z: ask the root for a new one"
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime$"):
        check_directory_window(DIRECTORY, datetime(2026, 11, 22, 12, 0))


def _node_member(name: str, value: object) -> dict[str, Any]:
    inner = _inner()
    inner["nodes"][2][name] = value
    return inner


def _outer(**sig: str) -> bytes:
    outer = json.loads(SIGNED)
    outer["sig"] = {**outer["sig"], **sig}
    return rfc8785.dumps(outer)


@pytest.mark.parametrize(("raw", "reason", "detail"), [
    (b"[]", "malformed", "not a signed directory: signed directory must be an object"),
    (b'{"directory":{},"directory":{},"sig":{}}', "malformed", "not a signed directory: a member appears twice"),
    (SIGNED.replace(b'"serial":7', b'"serial":NaN', 1), "malformed", "not a signed directory: NaN is not JSON"),
    (SIGNED.replace(b'{"directory":', b'{"a":1,"directory":', 1), "malformed",
     "not a signed directory: signed directory: unknown members ['a'], missing members []"),
    (rfc8785.dumps({"directory": DIRECTORY.as_json(), "sig": {"alg": "ed25519", "kid": ROOT_KEY.kid}}), "malformed",
     "not a signed directory: sig: unknown members [], missing members ['value']"),
    (_root_signed("directory", []), "malformed", "not a signed directory: directory must be an object"),
    (json.dumps(json.loads(SIGNED), indent=1).encode(), "malformed",
     "not a signed directory: not in RFC 8785 canonical form"),
    (_outer(value="AA"), "malformed", "not a signed directory: directory field is not base64"),
    (_outer(kid="00" * 32), "bad_signature",
     "the directory is signed by key '0000000000000000', not by the federation root"),
    (_root_signed("directory", DIRECTORY.as_json(), key=SigningKey.generate(), kid=ROOT_KEY.kid), "bad_signature",
     "the directory is not signed by the federation root (bad_signature)"),
    (_outer(alg="rsa"), "bad_signature", "the directory is not signed by the federation root (unsupported_alg)"),
    (_root_signed("directory", _inner(issued=5)), "malformed", "directory content: a time must be a string"),
    (_root_signed("directory", _inner(issued="2026-1-22T11:55:00Z")), "malformed",
     "directory content: '2026-1-22T11:55:00Z' is not an RFC 3339 UTC time of the form 2026-01-31T12:00:00Z"),
    (_root_signed("directory", _inner(certificates=[cert_to_pem(CERTS["MEX"]).replace("\n", "\r\n")])), "malformed",
     "directory content: a certificate is not in canonical PEM form"),
    (_root_signed("directory", _inner(certificates=[""])), "malformed",
     "directory content: certificate must be a non-empty string"),
    (_root_signed("directory", _inner(certificates=cert_to_pem(CERTS["MEX"]))), "malformed",
     "directory content: MEX: certificates must be a list"),
    (_root_signed("directory", {k: v for k, v in _inner().items() if k != "serial"}), "malformed",
     "directory content: directory: unknown members [], missing members ['serial']"),
    (_root_signed("directory", _inner(serial="7")), "malformed",
     "directory content: serial must be an integer and nodes a list"),
    (_root_signed("directory", _inner(nodes={})), "malformed",
     "directory content: serial must be an integer and nodes a list"),
    (_root_signed("directory", _inner(nodes=list(reversed(DIRECTORY.as_json()["nodes"])))), "malformed",
     "directory content: nodes must be sorted by node_id, each once"),
    (_root_signed("directory", _inner(node_id="mex")), "malformed",
     "directory content: node id 'mex' is neither HUB nor three capital letters"),
    (_root_signed("directory", _inner(node_id="")), "malformed", "directory content: node_id must be a non-empty string"),
    (_root_signed("directory", _inner(certificates=[cert_to_pem(ROOT_CERT)])), "malformed",
     "directory content: a certificate of MEX is not an end-entity signing certificate"),
    (_root_signed("directory", _node_member("color", "blue")), "malformed",
     "directory content: node: unknown members ['color'], missing members []"),
    (_root_signed("directory", _inner(nodes=[1])), "malformed", "directory content: node must be an object"),
    (_root_signed("directory", _inner(sealing_key="AAAA")), "malformed",
     "directory content: MEX: a sealing key is a raw 32-byte X25519 public key"),
    (_root_signed("directory", _inner(allowed_types=["note", "alert.document"])), "malformed",
     "directory content: allowed_types must be sorted and without duplicates"),
    (_root_signed("directory", _inner(allowed_types=[""])), "malformed",
     "directory content: allowed_types must be a list of non-empty strings"),
    (_root_signed("directory", _inner(federation="")), "malformed",
     "directory content: federation must be a non-empty string"),
    (_root_signed("directory", _inner(broker_user="")), "malformed",
     "directory content: broker_user must be a non-empty string"),
    (_root_signed("directory", _inner(nodes=[n for n in DIRECTORY.as_json()["nodes"] if n["node_id"] != "HUB"])),
     "malformed", "directory content: a directory must list the hub"),
    (_root_signed("directory", _inner(certificates=[cert_to_pem(CERTS["IDN"])])), "cert_name_mismatch",
     "a certificate of 'IDN' is listed for MEX"),
], ids=["array", "duplicate-member", "nan", "outer-extra", "sig-member", "inner-not-object", "pretty", "sig-value", "kid", "other-key", "alg",
        "time-not-string", "time-single-digit", "cert-not-canonical", "cert-empty", "certs-not-list", "missing-serial",
        "string-serial", "nodes-not-list", "unsorted-nodes", "bad-node-id", "empty-node-id", "ca-cert", "node-extra",
        "node-not-object", "short-sealing-key", "unsorted-types", "empty-type", "empty-federation",
        "empty-broker-user", "no-hub", "other-nodes-cert"])
def test_a_refused_directory_tells_the_operator_what_is_wrong(raw: bytes, reason: str, detail: str) -> None:
    error = _directory_error(lambda: load_directory(raw, ROOT_CERT, NOW))
    assert (error.reason, error.detail) == (reason, detail)


def test_a_certificate_of_another_root_in_a_directory_names_its_node() -> None:
    foreign = _cert("MEX", KEYS["MEX"], root=create_root("x", NOW))
    error = _directory_error(lambda: load_directory(_root_signed("directory", _inner(
        certificates=[cert_to_pem(foreign)])), ROOT_CERT, NOW))
    assert error.reason == "cert_not_from_root"
    assert error.detail.startswith("a certificate of MEX: issuer ")


def test_a_time_whose_zone_has_no_offset_is_not_timezone_aware() -> None:
    from datetime import tzinfo

    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> None:
            return None

    with pytest.raises(ValueError, match="^issued must be a timezone-aware datetime$"):
        Directory("unit", 1, datetime(2026, 11, 22, tzinfo=NoOffset()), _LATER, ENTRIES)


def test_signed_bytes_of_exactly_the_size_limit_are_parsed_and_a_bytearray_is_read_like_bytes() -> None:
    error = _directory_error(lambda: load_directory(b" " * crypto.directory.MAX_SIGNED_BYTES, ROOT_CERT, NOW))
    assert error.reason == "malformed" and "expected at most" not in error.detail
    assert load_directory(bytearray(SIGNED), ROOT_CERT, NOW) == DIRECTORY
    error = _directory_error(lambda: load_directory(SIGNED.decode(), ROOT_CERT, NOW))  # type: ignore[arg-type]
    assert error.detail == f"not a signed directory: expected at most {crypto.directory.MAX_SIGNED_BYTES} bytes"


def test_directory_times_are_written_in_utc_whatever_the_hosts_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Mexico_City")
    time.tzset()
    try:
        assert NOW.astimezone(None).utcoffset() == timedelta(hours=-6)  # the host zone is in effect
        stated = json.loads(SIGNED)["directory"]
        assert json.loads(sign_directory(DIRECTORY, ROOT_KEY))["directory"] == stated
        assert stated["issued"] == "2026-11-22T11:55:00Z"
        assert load_directory(SIGNED, ROOT_CERT, NOW) == DIRECTORY
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_time_that_is_not_a_datetime_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="^issued must be a timezone-aware datetime$"):
        Directory("unit", 1, "2026-11-22T12:00:00Z", _LATER, ENTRIES)  # type: ignore[arg-type]


def test_a_directory_built_with_a_tls_certificate_or_foreign_witnesses_names_them() -> None:
    from crypto.pki import create_tls_ca, issue_tls_certificate, new_tls_key
    from crypto.witness_policy import WitnessPolicy

    tls = issue_tls_certificate(*create_tls_ca(ROOT_KEY, ROOT_CERT, NOW), "MEX", new_tls_key().public_key(), NOW)
    with pytest.raises(TypeError, match="^a certificate of MEX does not carry an Ed25519 key$"):
        _directory(MEX=_entry("MEX", tls))
    with pytest.raises(ValueError, match=r"^witness_policy names \['AAA', 'BBB', 'CCC'\], not national nodes of "
                                         r"this directory$"):
        _directory(days=30).__class__("unit", 1, NOW, _LATER, ENTRIES,
                                      WitnessPolicy(("MEX", "AAA", "BBB", "CCC", "DDD")))


def test_names_in_a_refused_node_entry_are_cut_to_16_characters() -> None:
    long_name = _cert("ABCDEFGHIJKLMNOPQRSTU", KEYS["MEX"])
    error = _directory_error(lambda: load_directory(_root_signed("directory", _inner(
        certificates=[cert_to_pem(long_name)])), ROOT_CERT, NOW))
    assert (error.reason, error.detail) == ("cert_name_mismatch", "a certificate of 'ABCDEFGHIJKLMNOP' is listed for MEX")
    error = _directory_error(lambda: load_directory(_root_signed("directory", _inner(node_id="m" * 20)),
                                                    ROOT_CERT, NOW))
    assert error.detail == f"directory content: node id {'m' * 16!r} is neither HUB nor three capital letters"
