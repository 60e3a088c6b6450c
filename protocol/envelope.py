"""The signed envelope: strict decoding, canonical signing input, encoding.

Wire form: one UTF-8 JSON object (docs/envelope.md). The signature covers the RFC 8785 (JCS)
canonical form of every member except `sig`, `body` and `sealed`; the payload is bound through
`body_digest`, the SHA-256 of the payload string's UTF-8 bytes exactly as transmitted, so a large
body is hashed, never re-canonicalised, on each hop. A type that opts in (`MessageType.framed`: a
file chunk) travels as a binary frame instead (protocol/frame.py): its sealed payload is bytes beside
the JSON, bound by `body_digest` (their SHA-256) and the signed member `sealed_bytes` (their length).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from protocol.canonical import canonical_json

from protocol import frame, messages
from protocol.errors import DecodeError
from protocol.ids import is_uuid7
from protocol.schema import validate
from protocol.timefmt import format_time, parse_time

VERSION = 1
BROADCAST = "*"
SIGNING_DOMAIN = b"somex/envelope/v1\n"
MAX_DEPTH = 64

_REQUIRED = ("v", "id", "type", "sender", "recipients", "created", "expires", "handling",
             "header", "body_digest", "sig")
_OPTIONAL = ("thread", "reply_to", "body", "sealed", "sealed_bytes")
_KNOWN = frozenset(_REQUIRED + _OPTIONAL)
_HANDLING_CODES = frozenset({"H0", "H1", "H2", "H3"})


@dataclass(frozen=True, slots=True)
class Signature:
    alg: str
    kid: str
    value: str  # base64 (standard alphabet, padded)

    def as_json(self) -> dict[str, str]:
        return {"alg": self.alg, "kid": self.kid, "value": self.value}


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    type: str
    sender: str
    recipients: tuple[str, ...]
    created: str
    expires: str
    handling: Mapping[str, Any]
    header: Mapping[str, Any]
    body_digest: str
    body: str | None = None
    sealed: str | bytes | None = None  # bytes: a framed type's, beside the JSON on the wire
    thread: str | None = None
    reply_to: str | None = None
    sig: Signature | None = None
    sealed_bytes: int | None = None  # signed: the length of framed sealed bytes
    v: int = VERSION
    _signing_input: list[bytes] = field(default_factory=list, compare=False, repr=False)

    @property
    def payload(self) -> str | bytes:
        return self.body if self.body is not None else self.sealed  # type: ignore[return-value]

    @property
    def is_broadcast(self) -> bool:
        return self.recipients == (BROADCAST,)

    @property
    def created_at(self) -> datetime:
        return parse_time(self.created)

    @property
    def expires_at(self) -> datetime:
        return parse_time(self.expires)

    def signed_members(self) -> dict[str, Any]:
        members: dict[str, Any] = {
            "v": self.v, "id": self.id, "type": self.type, "sender": self.sender,
            "recipients": list(self.recipients), "created": self.created,
            "expires": self.expires, "handling": dict(self.handling), "header": dict(self.header),
            "body_digest": self.body_digest,
        }
        if self.thread is not None:
            members["thread"] = self.thread
        if self.reply_to is not None:
            members["reply_to"] = self.reply_to
        if self.sealed_bytes is not None:
            members["sealed_bytes"] = self.sealed_bytes
        return members

    def signing_input(self) -> bytes:
        """The exact bytes a signature covers (computed once per envelope)."""
        if not self._signing_input:
            self._signing_input.append(SIGNING_DOMAIN + canonical_json(self.signed_members()))
        return self._signing_input[0]

    def digest(self) -> str:
        """SHA-256 (hex) of the signed envelope: signing input plus signature.

        Equal for every faithful copy, whatever JSON whitespace a hop used; receipts and audit
        entries name a message by it.
        """
        if self.sig is None:
            raise ValueError("an unsigned envelope has no digest")
        return hashlib.sha256(self.signing_input() + canonical_json(self.sig.as_json())).hexdigest()

    def with_signature(self, sig: Signature) -> Envelope:
        return replace(self, sig=sig)  # replace() carries the signing-input cache over

    def to_json(self) -> dict[str, Any]:
        members = self.signed_members()
        if self.body is not None:
            members["body"] = self.body
        if self.sealed is not None and not isinstance(self.sealed, bytes):  # framed bytes go beside
            members["sealed"] = self.sealed
        if self.sig is not None:
            members["sig"] = self.sig.as_json()
        return members


def payload_digest(payload: str | bytes) -> str:
    return hashlib.sha256(payload if isinstance(payload, bytes) else payload.encode()).hexdigest()


def encode_payload(payload: Mapping[str, Any]) -> str:
    """A clear body's text: compact, key-sorted JSON (any faithful text would verify)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def build(
    *,
    message_id: str,
    type: str,
    sender: str,
    recipients: Sequence[str],
    created: datetime,
    ttl: timedelta,
    body: Mapping[str, Any] | None = None,
    sealed: str | bytes | None = None,
    header: Mapping[str, Any] | None = None,
    handling: Mapping[str, Any] | None = None,
    thread: str | None = None,
    reply_to: str | None = None,
    body_checked: bool = False,
) -> Envelope:
    """An unsigned envelope, checked against the type's schemas as a receiver would check it.

    `body_checked`: the caller has checked `body` against the type's schema already (a feed checks
    each record as it reads it), so it is not parsed back and checked again here."""
    if (body is None) == (sealed is None):
        raise ValueError("exactly one of body and sealed")
    text = encode_payload(body) if body is not None else sealed
    assert text is not None
    env = Envelope(
        id=message_id, type=type, sender=sender, recipients=tuple(recipients),
        created=format_time(created), expires=format_time(created + ttl),
        handling=dict(handling or {"code": "H0"}), header=dict(header or {}),
        body_digest=payload_digest(text),
        body=text if body is not None else None, sealed=sealed,
        thread=thread, reply_to=reply_to,
        sealed_bytes=len(sealed) if isinstance(sealed, bytes) else None,
    )
    _check_semantics(env, messages.lookup(type))
    if body is not None and not body_checked:
        decode_body(env)
    return env


def encode(env: Envelope) -> bytes:
    if env.sig is None:
        raise ValueError("refusing to encode an unsigned envelope")
    return b"".join(encoded_pieces(env)) if isinstance(env.sealed, bytes) else _json_text(env)


def encoded_pieces(env: Envelope) -> tuple[bytes, bytes]:
    """`encode(env)` of a signed framed envelope in two pieces, the frame's head and the sealed bytes
    as they are: a chunk's 4 MiB are written (`os.writev`), never joined into a copy."""
    if env.sig is None or not isinstance(env.sealed, bytes):
        raise ValueError("only a signed envelope with framed sealed bytes is encoded in pieces")
    return frame.head(_json_text(env)), env.sealed


def _json_text(env: Envelope) -> bytes:
    return json.dumps(env.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise DecodeError("duplicate_key", f"member {dup!r} appears twice")
    return obj


def _reject_constant(name: str) -> Any:
    raise DecodeError("malformed_json", f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # "1e999": JSON has no infinity, JCS cannot write it
        raise DecodeError("bad_number", f"{text[:40]} is beyond the range of a JSON number")
    return value


# A surrogate escape (\uD800-\uDFFF) in the text: only then can a parsed string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_unicode(value: Any, what: str) -> None:
    """Refuse a lone surrogate in any key or string: it has no UTF-8 form, so no digest, no canonical
    form and no database row could be made of it (issue 14, items 3 and 4)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise DecodeError("bad_unicode", f"{what} contains a lone UTF-16 surrogate")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(raw: bytes | str, *, what: str = "envelope") -> Any:
    """Strict JSON: valid UTF-8, no lone surrogates, no duplicate members, no NaN/Infinity (nor
    numbers that overflow to it), bounded nesting. Raises only DecodeError.

    For payloads (bodies, feed records), mostly well-formed: a fast parse first, kept only where
    it is sure to equal the strict one (_parse_plain); the strict parse decides everything else."""
    value, escapes = _parse_json(raw, what, fast=True)
    if escapes:  # rare: only then walk the value
        _check_unicode(value, what)
    return value


def _parse_json(raw: bytes | str, what: str, *, fast: bool = False) -> tuple[Any, bool]:
    """parse_json but for surrogate escapes: the value, and whether it may hold a lone surrogate."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("bad_utf8", f"{what} is not valid UTF-8 at byte {exc.start}") from None
        raw_surrogates = False  # valid UTF-8 never decodes to a surrogate
    elif isinstance(raw, str):
        text = raw
        raw_surrogates = not text.isascii() and _has_lone_surrogate(text)
    else:
        raise DecodeError("malformed_json", f"{what} is not text")
    if raw_surrogates:
        raise DecodeError("bad_unicode", f"{what} contains a lone UTF-16 surrogate")
    value = _parse_plain(text) if fast else _DOUBTFUL
    if value is _DOUBTFUL:
        value = _parse_strict(text, what)
    return value, bool(_SURROGATE_ESCAPE.search(text))


def _parse_strict(text: str, what: str) -> Any:
    """The strict parse. Nesting is checked on the value (a walk of its containers) rather than on
    the text, whose strings would all have to be stripped first (an envelope carrying a feed batch
    holds thousands of brackets in its body string); when the parse fails, the text's nesting is
    checked first, so too deep text is refused as `too_deep` whatever else is wrong with it."""
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant,
                           parse_float=_finite_float)
    except (ValueError, RecursionError, DecodeError) as exc:
        _check_depth(text, what)
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("malformed_json", f"{what}: {exc}") from None
    if _members_within_depth(value) is None:
        raise DecodeError("too_deep", f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


_DOUBTFUL = object()  # _parse_plain's answer when only the strict parse may decide
_PLAIN = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _parse_plain(text: str) -> Any:
    """`text` parsed without the duplicate-member hook (a Python call per object: half the cost
    of a feed batch), or _DOUBTFUL. The value is kept only when the strict parse is sure to return
    it: no container nested deeper than MAX_DEPTH, and as many members as ':' in the text. In text
    the parser accepted, every ':' outside strings separates one member, so members <= ':'
    outside strings <= ':' in all; equality leaves no member that a duplicate key replaced.
    Anything else (a ':' inside a string, an error of any kind) goes to the strict parse."""
    try:
        value = _PLAIN.decode(text)
    except (ValueError, RecursionError, DecodeError):
        return _DOUBTFUL
    members = _members_within_depth(value)
    return value if members is not None and members == text.count(":") else _DOUBTFUL


def _members_within_depth(value: Any) -> int | None:
    """The members of every object in a parsed `value`; None if a container in it is nested
    deeper than MAX_DEPTH (the value's nesting is its text's, outside strings)."""
    members = 0
    level = [value] if isinstance(value, _CONTAINERS) else []  # the containers at `depth`
    depth = 0
    while level:  # level by level: no depth carried per container (a feed batch has a thousand)
        depth += 1
        if depth > MAX_DEPTH:
            return None
        below = []
        for item in level:
            if isinstance(item, dict):
                members += len(item)
                item = item.values()
            for child in item:
                if isinstance(child, _CONTAINERS):
                    below.append(child)
        level = below
    return members


_CONTAINERS = (dict, list)


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _check_depth(text: str, what: str) -> None:
    # Cheap upper bound first: nesting needs brackets; only count when there are many.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    # Fast proof for many shallow brackets (a feed batch): strings removed, each round deletes the
    # innermost pairs, at most two levels a round; empty within MAX_DEPTH // 2 rounds means no
    # deeper nesting (exact for any text json.loads accepts). Otherwise count exactly below.
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for _ in range(MAX_DEPTH // 2):
        if not brackets:
            return
        brackets = brackets.replace("{}", "").replace("[]", "")
    if not brackets:
        return
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise DecodeError("too_deep", f"{what} nests deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1


def decode(raw: bytes) -> Envelope:
    """Bytes from the wire to an (unverified) Envelope, or DecodeError with a reason code."""
    if len(raw) > messages.MAX_MESSAGE_BYTES:
        raise DecodeError("oversize", f"{len(raw)} bytes > {messages.MAX_MESSAGE_BYTES}")
    text, sealed = _unframe(raw)
    obj, escapes = _parse_json(text, "envelope")
    if not isinstance(obj, dict):
        if escapes:
            _check_unicode(obj, "envelope")
        raise DecodeError("malformed_envelope", "the envelope must be a JSON object")
    ident, sender, mtype = (_readable(obj.get(name)) for name in ("id", "sender", "type"))
    try:
        if escapes:  # the members that name the message are read first, so a refusal can name it
            _check_unicode(obj, "envelope")
        return _decode_members(obj, len(raw), sealed)
    except DecodeError as exc:
        exc.message_id, exc.sender, exc.type = ident, sender, mtype
        raise


def _readable(value: Any) -> str | None:
    """A member that names a message (id, sender, type), if it is a short string with a UTF-8 form."""
    if not isinstance(value, str) or len(value) > 64 or _has_lone_surrogate(value):
        return None
    return value


def _unframe(raw: bytes) -> tuple[bytes, memoryview | None]:
    """The envelope's JSON text and, for a frame, its sealed bytes beside it (not yet checked)."""
    if not frame.is_frame(raw):
        return raw, None
    text, sealed = frame.split(raw)
    return bytes(text), sealed


def _framed_payload(obj: dict[str, Any], sealed: memoryview) -> bytes:
    """A frame's sealed bytes, if they are exactly as many as its envelope's signed `sealed_bytes`
    says (the caller checks `body_digest`): nothing cut off, nothing appended."""
    if "body" in obj or "sealed" in obj:
        raise DecodeError("bad_frame", "a frame's envelope carries no body or sealed member: its bytes are beside it")
    length = obj.get("sealed_bytes")
    if not isinstance(length, int) or isinstance(length, bool):
        raise DecodeError("bad_frame", "a frame's envelope must say how many sealed bytes follow it (sealed_bytes)")
    if len(sealed) != length:
        raise DecodeError("bad_frame", f"the envelope signs {length} sealed bytes, the frame holds {len(sealed)}")
    return bytes(sealed)


def _check_form(spec: messages.MessageType, framed: bool) -> None:
    """Framed exactly when the type opts in: a file chunk of the base64 form, or any other type in a
    frame, is refused (`bad_payload`, as a clear body where a sealed one belongs)."""
    if framed != spec.framed:
        raise DecodeError("bad_payload", f"{spec.name} travels as a binary frame" if spec.framed
                          else f"{spec.name} does not travel as a binary frame")


def _decode_members(obj: dict[str, Any], size: int, sealed: memoryview | None = None) -> Envelope:
    unknown = obj.keys() - _KNOWN
    if unknown:
        raise DecodeError("unknown_field", f"unknown member(s): {sorted(unknown)}")
    missing = [name for name in _REQUIRED if name not in obj]
    if missing:
        raise DecodeError("missing_field", f"missing member(s): {missing}")
    if obj["v"] != VERSION or isinstance(obj["v"], bool):
        raise DecodeError("unsupported_version", f"version {obj['v']!r}; this node speaks {VERSION}")
    mtype = obj["type"]
    if not isinstance(mtype, str):
        raise DecodeError("bad_field", "type must be a string")
    spec = messages.lookup(mtype)
    _check_form(spec, sealed is not None)
    if size > spec.max_bytes:
        raise DecodeError("oversize", f"{size} bytes > {spec.max_bytes} allowed for {mtype}")
    validate(messages.ENVELOPE_FIELDS, {k: obj[k] for k in messages.ENVELOPE_FIELDS.required}, "bad_field")
    for name in ("thread", "reply_to"):
        if name in obj:
            validate(messages.OPTIONAL_ENVELOPE_FIELDS[name], obj[name], "bad_field")
    if not is_uuid7(obj["id"]):
        raise DecodeError("bad_field", "id must be a lower-case UUIDv7")
    sig = obj["sig"]
    validate(messages.SIGNATURE, sig, "bad_signature_field")
    payload: str | bytes
    if sealed is not None:
        has_body, payload = False, _framed_payload(obj, sealed)
    elif "sealed_bytes" in obj:
        raise DecodeError("bad_frame", "sealed_bytes belongs to a framed envelope")
    else:
        payload, has_body = _json_payload(obj), "body" in obj
    env = Envelope(
        id=obj["id"], type=mtype, sender=obj["sender"], recipients=tuple(obj["recipients"]),
        created=obj["created"], expires=obj["expires"], handling=obj["handling"],
        header=obj["header"], body_digest=obj["body_digest"],
        body=payload if has_body else None, sealed=None if has_body else payload,
        thread=obj.get("thread"), reply_to=obj.get("reply_to"),
        sig=Signature(sig["alg"], sig["kid"], sig["value"]), sealed_bytes=obj.get("sealed_bytes"),
    )
    if payload_digest(payload) != env.body_digest:
        raise DecodeError("digest_mismatch", "body_digest does not match the transmitted payload")
    _check_semantics(env, spec)
    env.signing_input()  # now, so that a member JCS cannot write is refused here (cached for verify)
    return env


def _json_payload(obj: dict[str, Any]) -> str:
    has_body, has_sealed = "body" in obj, "sealed" in obj
    if has_body == has_sealed:
        raise DecodeError("bad_payload", "exactly one of body and sealed is required")
    payload = obj["body"] if has_body else obj["sealed"]
    if not isinstance(payload, str):
        raise DecodeError("bad_payload", "body/sealed must be a string")
    return payload


def _check_semantics(env: Envelope, spec: messages.MessageType) -> None:
    _check_form(spec, isinstance(env.sealed, bytes))
    if spec.sealed and env.sealed is None:
        raise DecodeError("bad_payload", f"{env.type} must carry a sealed payload")
    if not spec.sealed and env.body is None:
        raise DecodeError("bad_payload", f"{env.type} carries a clear body")
    recipients = env.recipients
    if len(set(recipients)) != len(recipients):
        raise DecodeError("bad_recipients", "a recipient is named twice")
    if BROADCAST in recipients and len(recipients) != 1:
        raise DecodeError("bad_recipients", '"*" must stand alone')
    if env.handling.get("code") not in _HANDLING_CODES:
        raise DecodeError("bad_handling", "handling.code must be one of H0, H1, H2, H3")
    validate(messages.HANDLING, dict(env.handling), "bad_handling")
    created, expires = parse_time(env.created), parse_time(env.expires)
    if expires <= created:
        raise DecodeError("bad_time", "expires must be after created")
    validate(spec.header, dict(env.header), "bad_header")


def decode_body(env: Envelope, plaintext: str | bytes | None = None) -> dict[str, Any]:
    """The payload of `env`, parsed strictly and checked against its type's schema.

    For a clear type that is `env.body`; for a sealed type, the opened `plaintext`.
    """
    spec = messages.lookup(env.type)
    text = env.body if plaintext is None else plaintext
    if text is None:
        raise DecodeError("bad_payload", f"{env.type} has no clear body")
    if spec.raw_plaintext:  # the opened bytes are the payload (a file chunk), not a JSON text
        body = {"data": text}
        validate(spec.body, body, "bad_body")
        return body
    body = parse_json(text, what="body")
    validate(spec.body, body, "bad_body")
    return body


def seal_context(type: str, message_id: str, sender: str) -> bytes:
    """What a sealed payload is bound to: it opens only inside this message (crypto/sealing.py)."""
    return f"{type}\n{message_id}\n{sender}".encode("ascii")


def read_names(raw: bytes) -> dict[str, str | None]:
    """What names a message (id, type, sender, thread), read leniently from bytes that may not
    decode: for auditing a dead letter by what can be read of it. Never raises."""
    names: dict[str, str | None] = {"id": None, "type": None, "sender": None, "thread": None}
    try:
        if len(raw) > messages.MAX_MESSAGE_BYTES:
            return names
        obj, _ = _parse_json(_unframe(raw)[0], "dead letter")
    except Exception:  # noqa: BLE001 - lenient by design: whatever cannot be read stays None
        return names
    if isinstance(obj, dict):
        for name in names:
            value = _readable(obj.get(name))
            names[name] = value if value is not None and value.isprintable() else None
        if names["id"] is not None and not is_uuid7(names["id"]):
            names["id"] = None
    return names
