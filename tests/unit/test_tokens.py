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
