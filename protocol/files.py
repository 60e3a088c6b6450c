"""Evidence files of any size (up to 2 GiB): the file reference a sealed message carries, and the
`file.chunk` message that carries one 4 MiB piece of the file (docs/evidence-files.md).

A message (an MLA request or answer) lists its large files in `files`: name, media type, size,
SHA-256 of the whole file, the chunk size, and the SHA-256 of every chunk. Each chunk then travels
as its own sealed, signed, receipted `file.chunk` on the carrier's thread, `reply_to` the carrier,
its header naming the carrier, the file's place in it, the chunk's index and length (what an auditor
sees). The chunk's sealed plaintext is its bytes themselves (no JSON, no base64 inside the seal), and
its sealed bytes travel raw beside the envelope in a binary frame (protocol/frame.py: no base64url).
The receiver checks each chunk against the digest the sealed carrier listed for it, and the whole
file against its SHA-256 once every chunk is in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from protocol.errors import PolicyError
from protocol.message_class import EnvelopeView, MessageClass, MessageType, MiB
from protocol.schema import SHA256_HEX, UUID, Bytes, Int, List, Obj, Str

CHUNK_BYTES = 4 * MiB
MAX_FILE_BYTES = 2 * 1024 * MiB
MAX_CHUNKS = -(-MAX_FILE_BYTES // CHUNK_BYTES)  # 512
MAX_FILES = 20  # large files per carrier message
# A chunk's frame is its bytes, the AEAD tag, the seal's header (two keys) and the envelope: a few KiB
# over the chunk. A chunk in base64url text (the forms before the frame) is refused as `bad_payload`.
MAX_CHUNK_MESSAGE_BYTES = CHUNK_BYTES + 64 * 1024

FILE_REF = Obj(required={
    "name": Str(min_len=1, max_len=255, pattern=r"[^/\\\x00-\x1f]+"),
    "media_type": Str(min_len=3, max_len=127, pattern=r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+"),
    "size": Int(minimum=1, maximum=MAX_FILE_BYTES),
    "sha256": SHA256_HEX,
    "chunk_bytes": Int(minimum=1, maximum=CHUNK_BYTES),
    "chunks": List(SHA256_HEX, min_items=1, max_items=MAX_CHUNKS),  # the SHA-256 of each chunk, in order
})
FILE_REFS = List(FILE_REF, max_items=MAX_FILES)

CHUNK_HEADER = Obj(required={"file": UUID, "n": Int(maximum=MAX_FILES - 1), "chunk": Int(maximum=MAX_CHUNKS - 1),
                             "chunks": Int(minimum=1, maximum=MAX_CHUNKS),
                             "bytes": Int(minimum=1, maximum=CHUNK_BYTES)})  # the chunk's length
CHUNK = Obj(required={"data": Bytes(max_len=CHUNK_BYTES)})  # the opened plaintext (raw_plaintext below)


def chunk_count(size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    return -(-size // chunk_bytes)


def chunk_length(ref: Mapping[str, Any], index: int) -> int:
    """The number of bytes chunk `index` of the referenced file holds (the last one may be short)."""
    return min(ref["chunk_bytes"], ref["size"] - index * ref["chunk_bytes"])


def check_file_ref(ref: Mapping[str, Any]) -> None:
    """A reference whose chunk list covers exactly its size (schema-valid references only)."""
    if len(ref["chunks"]) != chunk_count(ref["size"], ref["chunk_bytes"]):
        raise PolicyError("file_ref_mismatch", f"file {ref['name'][:80]!r}: {ref['size']} bytes in chunks of "
                                               f"{ref['chunk_bytes']} are {chunk_count(ref['size'], ref['chunk_bytes'])}"
                                               f" chunks, not {len(ref['chunks'])}")


def check_file_refs(refs: list[Mapping[str, Any]]) -> None:
    for ref in refs:
        check_file_ref(ref)


def chunk_data(body: Mapping[str, Any]) -> bytes:
    """The chunk's bytes (the opened plaintext, 1..CHUNK_BYTES of them)."""
    data = body["data"]
    if not isinstance(data, bytes):
        raise PolicyError("chunk_mismatch", "chunk data is not bytes")
    if not 0 < len(data) <= CHUNK_BYTES:
        raise PolicyError("chunk_too_large", f"a chunk holds 1..{CHUNK_BYTES} bytes, not {len(data)}")
    return data


def verify_chunk(ref: Mapping[str, Any], index: int, data: bytes) -> None:
    """Chunk `index` of the referenced file: the length and SHA-256 the sealed carrier listed."""
    if not 0 <= index < len(ref["chunks"]):
        raise PolicyError("chunk_out_of_range", f"file {ref['name'][:80]!r} has {len(ref['chunks'])} chunks, "
                                                f"not a chunk {index}")
    if len(data) != chunk_length(ref, index) or hashlib.sha256(data).hexdigest() != ref["chunks"][index]:
        raise PolicyError("chunk_digest_mismatch", f"chunk {index} of {ref['name'][:80]!r} does not match the "
                                                   "length and SHA-256 its carrier lists")


def chunk_envelope_rule(env: EnvelopeView) -> None:
    """Checked by the hub too (the body is sealed): one recipient, on a thread, an index in range."""
    if len(env.recipients) != 1 or env.recipients == ("*",):
        raise PolicyError("bad_recipients", "a file chunk goes to one State")
    if not env.thread:
        raise PolicyError("header_mismatch", "a file chunk travels on its carrier's thread")
    if env.header["chunk"] >= env.header["chunks"]:
        raise PolicyError("chunk_out_of_range", f"chunk {env.header['chunk']} of {env.header['chunks']}")


def chunk_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """The sealed bytes are a chunk's worth, as many as the signed header says. (The header's file, n
    and chunk are signed, and the AEAD binds the plaintext to this message's type, id and sender.)"""
    if len(chunk_data(body)) != env.header["bytes"]:
        raise PolicyError("header_mismatch", f"the header says {env.header['bytes']} bytes, the chunk holds "
                                             f"{len(body['data'])}")


# Kept as long as the MLA messages that carry them.
MESSAGE_CLASS = MessageClass("files", (
    MessageType("file.chunk", "node", sealed=True, receipted=True, max_bytes=MAX_CHUNK_MESSAGE_BYTES,
                header=CHUNK_HEADER, body=CHUNK, body_rule=chunk_rule, envelope_rule=chunk_envelope_rule,
                retention_days=3650, raw_plaintext=True, framed=True),
))
