"""Checkpoints (C2SP tlog-checkpoint) as signed notes (C2SP signed-note): the format and its
strict parser only, no key material; crypto/note.py signs and verifies."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.errors import ProtocolError

TYPE_ED25519 = 0x01  # a log's Ed25519 signature over the note text
TYPE_ED25519_COSIGNATURE = 0x04  # a witness's timestamped Ed25519 cosignature/v1
TYPE_ML_DSA_44 = 0x06  # a timestamped ML-DSA-44 (subtree/v1) cosignature: reserved, not implemented
TYPE_COSIGNATURE_V1 = TYPE_ED25519_COSIGNATURE  # the name crypto/note.py used first

# The spec asks verifiers to accept at least 16; golang.org/x/mod/sumdb/note stops at 100.
MAX_SIGNATURES = 100
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_PREFIX = "\u2014 "
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(ProtocolError, ValueError):
    """A checkpoint or signed note that is not exactly the format. `reason` is one of:

    bad_utf8             not valid UTF-8
    control_character    an ASCII control character other than newline
    no_final_newline     a note text, checkpoint body or signed note that does not end in a newline
    missing_lines        fewer than the three lines origin, size, root hash
    bad_origin           an empty origin line
    bad_size             a tree size that is not ASCII decimal without leading zeros, below 2^64
    bad_root_hash        a root hash that is not 32 bytes in canonical standard base64
    bad_extension        an empty extension line
    missing_signatures   no blank line before the signatures, or no signature line after it
    bad_signature_line   a line that is not "\u2014 <name> <base64>", or a signature under 5 bytes
    bad_key_name         an empty key name, or one with a Unicode space or "+"
    too_many_signatures  more than MAX_SIGNATURES signature lines
    bad_key_id           a key id that is not 4 bytes
    bad_timestamp        a cosignature time outside 0 .. 2^63 - 1
    """


def log_origin(federation: str) -> str:
    """The origin line (and the hub's note key name) of a federation's audit log."""
    return f"somex/{federation}/audit"


def check_note_text(text: bytes) -> str:
    """The decoded text if it may be signed as a note: UTF-8, no controls but newline, newline-ended."""
    try:
        decoded = text.decode("utf-8")
    except (UnicodeDecodeError, AttributeError):
        raise CheckpointError("bad_utf8", "a note is UTF-8 bytes") from None
    control = _CONTROL.search(decoded)
    if control:
        raise CheckpointError("control_character", f"control character {control.group()!r} at {control.start()}")
    if not decoded.endswith("\n"):
        raise CheckpointError("no_final_newline", "a note text ends with a newline")
    return decoded


def _is_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: what its origin's key signs and witnesses cosign.

    Its body is deterministic for a tree (no time in it), so cosignatures that witnesses make at
    different times over it can be merged into one note; each witness's time is in its cosignature.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line, what in [(self.origin, "origin"), *((e, "extension line") for e in self.extensions)]:
            if not isinstance(line, str) or "\n" in line or _CONTROL.search(line):
                raise CheckpointError("bad_origin" if what == "origin" else "bad_extension",
                                      f"the {what} must be one line of text")
        if not self.origin:
            raise CheckpointError("bad_origin", "the origin must not be empty")
        if any(not e for e in self.extensions):
            raise CheckpointError("bad_extension", "extension lines must not be empty")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size < 2**64:
            raise CheckpointError("bad_size", f"tree size {self.size!r} is not an unsigned 64-bit integer")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise CheckpointError("bad_root_hash", "the root hash is 32 bytes")

    def body(self) -> bytes:
        """The note text: the same bytes for the same tree, whoever formats it and whenever."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii"), *self.extensions]
        return ("\n".join(lines) + "\n").encode("utf-8")


def parse_checkpoint_body(body: bytes) -> Checkpoint:
    """The checkpoint in a note text, or CheckpointError; parses exactly what `Checkpoint.body` writes."""
    text = check_note_text(body)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("missing_lines", "a checkpoint has an origin, a tree size and a root hash line")
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size) or int(size) >= 2**64:
        raise CheckpointError("bad_size", f"tree size {size[:24]!r} is not a decimal below 2^64 without leading zeros")
    # Canonical form only: one checkpoint, one body, so signatures over it can be compared and merged.
    try:
        root_hash = decode_base64(root, "root hash")
    except NonCanonicalEncoding:
        raise CheckpointError("bad_root_hash", "the root hash must be 32 bytes in canonical base64") from None
    if len(root_hash) != 32:
        raise CheckpointError("bad_root_hash", "the root hash must be 32 bytes in canonical base64")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte id, and the algorithm's signature bytes."""

    name: str
    key_id: bytes
    sig: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _is_key_name(self.name):
            raise CheckpointError("bad_key_name", f"key name {str(self.name)[:40]!r} is empty or has a space or '+'")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != 4:
            raise CheckpointError("bad_key_id", "a key id is 4 bytes")
        if not isinstance(self.sig, bytes) or not self.sig:
            raise CheckpointError("bad_signature_line", "a signature is at least one byte")

    def line(self) -> str:
        return f"{_SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_id + self.sig).decode('ascii')}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note text (ending in a newline), then a blank line, then one "\u2014 name base64" line per signature."""

    body: bytes
    signatures: tuple[NoteSignature, ...]

    def with_signature(self, signature: NoteSignature) -> SignedNote:
        """This note with `signature` added, replacing an earlier one by the same key."""
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id))
        return SignedNote(self.body, (*kept, signature))


def format_note(note: SignedNote) -> bytes:
    check_note_text(note.body)
    if not note.signatures:
        raise CheckpointError("missing_signatures", "a signed note has at least one signature")
    if len(note.signatures) > MAX_SIGNATURES:
        raise CheckpointError("too_many_signatures", f"more than {MAX_SIGNATURES} signatures")
    return note.body + b"\n" + "".join(s.line() for s in note.signatures).encode("utf-8")


def parse_note(raw: bytes) -> SignedNote:
    """A signed note's text and signature lines, or CheckpointError. Verifies nothing."""
    text = check_note_text(raw)
    # The text may itself hold blank lines: the signatures follow the last one.
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("missing_signatures", "no blank line separates the text from signatures")
    body, block = text[: split + 1], text[split + 2:]
    if not block:
        raise CheckpointError("missing_signatures", "no signature line follows the blank line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("too_many_signatures", f"{len(lines)} signature lines, at most {MAX_SIGNATURES}")
    return SignedNote(body.encode("utf-8"), tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("bad_signature_line", f"not a signature line: {line[:40]!r}")
    # Names hold no spaces and base64 none, so the first space is the only separator.
    name, space, encoded = line[len(_SIGNATURE_PREFIX):].partition(" ")
    if not _is_key_name(name):
        raise CheckpointError("bad_key_name", f"key name {name[:40]!r} is empty or has a space or '+'")
    try:
        blob = decode_base64(encoded) if space and encoded else b""
    except NonCanonicalEncoding:  # one text per signature, so a cosigned note has one spelling
        raise CheckpointError("bad_signature_line",
                              f"the signature of {name[:40]!r} is not canonical base64") from None
    if len(blob) < 5:
        raise CheckpointError("bad_signature_line", f"the signature of {name[:40]!r} is under 5 bytes")
    return NoteSignature(name, blob[:4], blob[4:])


def key_id(name: str, type_byte: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]: names a key and its signature type."""
    if not _is_key_name(name):
        raise CheckpointError("bad_key_name", f"key name {name[:40]!r} is empty or has a space or '+'")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([type_byte]) + public_key).digest()[:4]


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """What an Ed25519 cosignature/v1 signs: a header line, the time line, then the checkpoint body."""
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError("bad_timestamp", f"cosignature time {timestamp!r} is outside 0 .. 2^63 - 1")
    return f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + body
