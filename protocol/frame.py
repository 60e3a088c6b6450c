"""The binary frame: a signed envelope's JSON and its sealed bytes, raw, in one AMQP body
(docs/evidence-files.md, "The binary frame"). Only types that opt in (`MessageType.framed`: a file
chunk) travel so; every other message is its envelope's JSON alone, which never starts with MAGIC.

    MAGIC (5 bytes) | length of the envelope JSON (4 bytes, big-endian) | envelope JSON | sealed bytes

The envelope's signed members carry the sealed bytes' SHA-256 (`body_digest`) and length
(`sealed_bytes`); `protocol.envelope.decode` checks both, so a frame cut short, with bytes appended or
with other bytes refuses as a whole.
"""

from __future__ import annotations

from protocol.errors import DecodeError

MAGIC = b"\x00SXF1"  # a NUL: no JSON text starts with one
_LENGTH = 4
PREFIX = len(MAGIC) + _LENGTH


def is_frame(raw: bytes) -> bool:
    return raw[:len(MAGIC)] == MAGIC


def split(raw: bytes) -> tuple[memoryview, memoryview]:
    """The envelope JSON and the sealed bytes of a frame (views of `raw`, no copy), or DecodeError
    (`bad_frame`) when its length prefix does not fit inside it."""
    if not is_frame(raw) or len(raw) < PREFIX:
        raise DecodeError("bad_frame", "a frame is MAGIC, a 4-byte length, the envelope, the sealed bytes")
    end = PREFIX + int.from_bytes(raw[len(MAGIC):PREFIX])  # big-endian (the default)
    if end > len(raw):
        raise DecodeError("bad_frame", f"the envelope's length {end - PREFIX} runs past the frame's {len(raw)} bytes")
    view = memoryview(raw)
    return view[PREFIX:end], view[end:]


def head(envelope_json: bytes) -> bytes:
    """What precedes the sealed bytes: `head(j) + sealed` is the frame. (An envelope of 4 GiB would
    raise OverflowError: the decoder refuses anything over 32 MiB.)"""
    return MAGIC + len(envelope_json).to_bytes(_LENGTH) + envelope_json
