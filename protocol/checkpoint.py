"""Checkpoints in the C2SP tlog-checkpoint format, carried as signed notes (C2SP signed-note).

  <origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines\\n]
  \\n
  — <key name> <base64(key id[4] || signature)>\\n   (one line per signature)

The body is deterministic for a size (no timestamp), so cosignatures of several witnesses merge;
times live in the cosignatures. Pure: formats and parses; crypto/note.py signs and verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from protocol.errors import ProtocolError

TYPE_ED25519 = 0x01
TYPE_COSIGNATURE_V1 = 0x04
TYPE_ML_DSA_44 = 0x06
_SIG_PREFIX = "\u2014 "
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ProtocolError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode("utf-8")


def parse_checkpoint_body(body: bytes) -> Checkpoint:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("bad_checkpoint", "not UTF-8") from None
    if not text.endswith("\n"):
        raise CheckpointError("bad_checkpoint", "the body must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("bad_checkpoint", "origin, size and root hash lines are required")
    origin, size, root, *extensions = lines
    if not origin or any(not line for line in extensions):
        raise CheckpointError("bad_checkpoint", "empty origin or extension line")
    if not _SIZE.fullmatch(size) or int(size) >= 2**64:
        raise CheckpointError("bad_checkpoint", f"tree size {size[:24]!r} is not a decimal without leading zeros")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except binascii.Error:
        raise CheckpointError("bad_checkpoint", "root hash is not base64") from None
    if len(root_hash) != 32 or base64.b64encode(root_hash).decode() != root:
        raise CheckpointError("bad_checkpoint", "root hash must be 32 bytes in canonical base64")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes  # 4 bytes
    sig: bytes

    def line(self) -> str:
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + self.sig).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    body: bytes
    signatures: tuple[NoteSignature, ...]

    def with_signature(self, signature: NoteSignature) -> SignedNote:
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id))
        return SignedNote(self.body, (*kept, signature))


def format_note(note: SignedNote) -> bytes:
    return note.body + b"\n" + "".join(s.line() for s in note.signatures).encode("utf-8")


def parse_note(raw: bytes) -> SignedNote:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("bad_note", "not UTF-8") from None
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise CheckpointError("bad_note", "a note is a body, a blank line, and signature lines")
    body, sig_text = text[: split + 1], text[split + 2:]
    signatures = []
    for line in sig_text[:-1].split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("bad_note", f"not a signature line: {line[:40]!r}")
        name, _, encoded = line[len(_SIG_PREFIX):].rpartition(" ")
        if not name or " " in name or "+" in name:
            raise CheckpointError("bad_note", f"bad key name {name[:40]!r}")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError("bad_note", "signature is not base64") from None
        if len(blob) < 5:
            raise CheckpointError("bad_note", "signature too short")
        signatures.append(NoteSignature(name, blob[:4], blob[4:]))
    if not signatures:
        raise CheckpointError("bad_note", "a note needs at least one signature")
    return SignedNote(body.encode("utf-8"), tuple(signatures))


def key_id(name: str, type_byte: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([type_byte]) + public_key).digest()[:4]


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body
