"""API tokens: random, stored as digests, matched to their role."""

from __future__ import annotations

import hashlib

from crypto.tokens import is_token_digest, new_token, role_for, token_digest


def test_new_tokens_are_32_random_bytes_and_differ() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) == 43 for t in tokens)


def test_the_digest_is_sha256_hex_and_is_not_the_token() -> None:
    token = new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert is_token_digest(token_digest(token)) and not is_token_digest(token)


def test_each_token_finds_its_role_and_nothing_else_finds_one() -> None:
    tokens = {role: new_token() for role in ("focal", "feed", "auditor")}
    digests = {role: token_digest(t) for role, t in tokens.items()}
    assert {role_for(t, digests) for t in tokens.values()} == set(tokens)
    for wrong in ("", tokens["focal"][:-1], tokens["focal"] + "x", digests["focal"], "\udcff"):
        assert role_for(wrong, digests) is None


def test_only_64_lowercase_hex_digits_are_a_stored_digest() -> None:
    digest = token_digest("t")
    assert is_token_digest(digest)
    for wrong in (None, 7, b"0" * 64, digest.upper(), digest[:-1], digest + "0", " " + digest[1:], "g" * 64):
        assert not is_token_digest(wrong)


def test_a_token_is_digested_as_utf8_and_a_lone_surrogate_still_digests() -> None:
    assert token_digest("é") == hashlib.sha256("é".encode()).hexdigest()
    assert token_digest("\udcff") == hashlib.sha256(b"\xed\xb3\xbf").hexdigest()


def test_with_two_roles_sharing_a_digest_the_token_finds_one_of_them_and_an_empty_table_none() -> None:
    token = new_token()
    assert role_for(token, {"focal": token_digest(token), "feed": token_digest(token)}) in {"focal", "feed"}
    assert role_for(token, {"feed": token_digest("other"), "focal": token_digest(token)}) == "focal"
    assert role_for(token, {}) is None
