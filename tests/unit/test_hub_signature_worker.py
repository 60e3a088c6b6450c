"""The hub's signature worker's frames (nodes/hub/signature_worker.py), without a process: each check
of each request answered in order, 1 where the signature verifies, 0 where it does not."""

from __future__ import annotations

import io

from crypto.keys import SigningKey, raw_public
from nodes.hub.signature_worker import encode_request, serve


def test_the_worker_answers_each_check_in_order_and_a_forged_one_with_0() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    raw = raw_public(key.public_key)
    data = [b"first", b"second" * 300, b"", b"fourth"]
    good = [(raw, key.sign(d), d) for d in data]
    forged = [(raw, other.sign(b"first"), b"first"), (raw, key.sign(b"first"), b"firsT")]
    answers = io.BytesIO()
    serve(io.BytesIO(encode_request(good[:2]) + encode_request(forged + good[2:])), answers)
    assert answers.getvalue() == bytes([1, 1, 0, 0, 1, 1])


def test_a_key_that_is_not_a_curve_point_is_answered_0_and_the_worker_goes_on() -> None:
    key = SigningKey.generate()
    good = (raw_public(key.public_key), key.sign(b"x"), b"x")
    answers = io.BytesIO()
    serve(io.BytesIO(encode_request([(b"\xff" * 32, key.sign(b"x"), b"x"), good])), answers)
    assert answers.getvalue() == bytes([0, 1])
