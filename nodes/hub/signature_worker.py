"""A hub's signature worker: a process of its own that verifies Ed25519 signatures it is sent on
stdin and answers on stdout, so that the checks run outside the hub's GIL (issue 19). It decides
nothing: it says which (key, signature, signed bytes) verify (nodes/hub/signature_checks.py).

Frames, both ways in order: a request is a count n (4 bytes, big-endian), then n checks of a raw
public key (32 bytes), a signature (64 bytes), the signed bytes' length (4 bytes) and the signed
bytes; the answer is n bytes, 1 where the signature verifies, 0 where it does not.

    python -m nodes.hub.signature_worker
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.errors import CryptoError
from crypto.keys import ED25519, verify_signature

KEY, SIGNATURE = 32, 64
COUNT = struct.Struct("!I")


def encode_request(checks: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """One request frame for (raw key, signature, signed bytes) checks of the sizes above."""
    parts = [COUNT.pack(len(checks))]
    for key, signature, data in checks:
        parts += (key, signature, COUNT.pack(len(data)), data)
    return b"".join(parts)


def _requests(stream: BinaryIO) -> Iterator[list[tuple[bytes, bytes, bytes]]]:
    while header := stream.read(COUNT.size):
        checks = []
        for _ in range(COUNT.unpack(header)[0]):
            key, signature = stream.read(KEY), stream.read(SIGNATURE)
            data = stream.read(COUNT.unpack(stream.read(COUNT.size))[0])
            checks.append((key, signature, data))
        yield checks


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    keys: dict[bytes, Ed25519PublicKey] = {}
    for checks in _requests(requests):
        answer = bytearray()
        for raw, signature, data in checks:
            try:
                key = keys.get(raw)
                if key is None:
                    if len(keys) > 4096:
                        keys.clear()
                    key = keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
                verify_signature(ED25519, key, signature, data)
                answer.append(1)
            except (CryptoError, ValueError):
                answer.append(0)
        answers.write(answer)
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
