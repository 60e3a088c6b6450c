"""Envelope rules a receiver relies on (issue 24): size bounds at their exact limits, nesting depth,
what the signature covers (reply_to, the payload's digest), the wire text, and refusals with their
reason codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from protocol import envelope as wire
from protocol import messages
from protocol.errors import DecodeError
from protocol.ids import uuid7

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ID = uuid7(1_700_000_000_000, bytes(range(10)))
REPLY_TO = uuid7(1_690_000_000_000, bytes(10))
SIG = wire.Signature("ed25519", "ab" * 32, "AAAA")


def make(**overrides) -> wire.Envelope:  # noqa: ANN003
    fields = dict(message_id=ID, type="note", sender="MEX", recipients=["IDN"], created=NOW,
                  ttl=timedelta(hours=1), body={"text": "hello"})
    fields.update(overrides)
    return wire.build(**fields)


def mla_request() -> wire.Envelope:
    header = {"reference": "ITA-1", "kind": "extradition", "status": "submitted", "urgency": "routine",
              "deadline": None}
    return wire.build(message_id=ID, type="mla.request", sender="ITA", recipients=["MEX"], created=NOW,
                      ttl=timedelta(hours=1), sealed="x.y", header=header, thread="mla:ITA:ITA-1")


def padded_to(env: wire.Envelope, size: int) -> bytes:
    """The envelope's wire bytes, padded with JSON whitespace to exactly `size` bytes."""
    raw = wire.encode(env.with_signature(SIG))
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def refusal(raw: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        wire.decode(raw)
    return caught.value


# -- size limits, at the limit ------------------------------------------------------------------

def test_a_message_of_exactly_its_types_bound_is_accepted_one_byte_more_is_refused() -> None:
    env = make()
    bound = messages.lookup("note").max_bytes
    assert wire.decode(padded_to(env, bound)) == env.with_signature(SIG)
    error = refusal(padded_to(env, bound + 1))
    assert error.reason == "oversize"
    assert error.detail == f"{bound + 1} bytes > {bound} allowed for note"
    assert (error.message_id, error.sender, error.type) == (env.id, "MEX", "note")


def test_a_message_of_exactly_the_global_bound_is_read_one_byte_more_is_refused_unread() -> None:
    env = mla_request()
    assert messages.lookup("mla.request").max_bytes == messages.MAX_MESSAGE_BYTES
    assert wire.decode(padded_to(env, messages.MAX_MESSAGE_BYTES)).id == env.id
    error = refusal(padded_to(env, messages.MAX_MESSAGE_BYTES + 1))
    assert error.reason == "oversize"
    assert error.detail == f"{messages.MAX_MESSAGE_BYTES + 1} bytes > {messages.MAX_MESSAGE_BYTES}"
    assert error.message_id is None  # refused before parsing: nothing of it was read


def test_read_names_reads_a_dead_letter_up_to_the_global_bound_and_not_beyond() -> None:
    env = mla_request()
    names = {"id": env.id, "type": "mla.request", "sender": "ITA", "thread": "mla:ITA:ITA-1"}
    assert wire.read_names(padded_to(env, messages.MAX_MESSAGE_BYTES)) == names
    assert set(wire.read_names(padded_to(env, messages.MAX_MESSAGE_BYTES + 1)).values()) == {None}


def test_read_names_drops_a_name_with_unprintable_characters() -> None:
    obj = make(thread="case-1").with_signature(SIG).to_json()
    obj["thread"] = "case\u0007one"
    obj["sender"] = "ME\nX"
    names = wire.read_names(json.dumps(obj).encode())
    assert names == {"id": obj["id"], "type": "note", "sender": None, "thread": None}


# -- nesting depth ------------------------------------------------------------------------------

def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


@pytest.mark.parametrize("inner", ["1", '"x"', '{"a":1}'])
def test_nesting_up_to_the_bound_is_parsed_one_level_more_is_refused(inner: str) -> None:
    extra = inner.count("{")
    assert wire.parse_json(nested(wire.MAX_DEPTH - extra, inner)) is not None
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(nested(wire.MAX_DEPTH + 1 - extra, inner), what="body")
    assert caught.value.reason == "too_deep"
    assert caught.value.detail == f"body nests deeper than {wire.MAX_DEPTH} levels"


def test_brackets_and_escaped_quotes_inside_strings_do_not_count_as_nesting() -> None:
    text = '\\"' + "[{" * 200 + '\\\\'  # an escaped quote, brackets, an escaped backslash: all inside one string
    raw = nested(40, json.dumps(text.replace('\\"', '"').replace("\\\\", "\\")))
    assert raw.count(b"[") > wire.MAX_DEPTH
    value = wire.parse_json(raw)
    for _ in range(40):
        (value,) = value
    assert value.count("[{") == 200


def test_many_shallow_brackets_are_not_deep() -> None:
    alerts = json.dumps([{"n": [i]} for i in range(500)]).encode()
    assert len(wire.parse_json(alerts)) == 500
    assert wire.parse_json(("[" + ",".join(["[[]]"] * 100) + "]").encode()) == [[[]]] * 100


def test_nesting_that_the_quick_proof_cannot_clear_is_counted_exactly() -> None:
    # 40 levels of lists around 40 of objects: too deep for the quick proof, shallow enough to pass
    inner = '{"a":' * 20 + "1" + "}" * 20
    assert wire.parse_json(nested(40, inner)) is not None
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(nested(45, inner))
    assert caught.value.reason == "too_deep"


# -- what the signature covers, and the wire text -----------------------------------------------

def test_reply_to_is_signed_and_travels() -> None:
    env = make(reply_to=REPLY_TO, thread="case-1")
    assert env.reply_to == REPLY_TO
    assert env.signed_members()["reply_to"] == REPLY_TO
    assert json.loads(env.signing_input()[len(wire.SIGNING_DOMAIN):])["reply_to"] == REPLY_TO
    assert make(reply_to=None, thread="case-1").signing_input() != env.signing_input()
    assert "reply_to" not in make().signed_members()
    assert wire.decode(wire.encode(env.with_signature(SIG))).reply_to == REPLY_TO


def test_a_sealed_envelope_carries_its_sealed_text_and_no_body() -> None:
    env = mla_request()
    assert (env.body, env.sealed, env.payload) == (None, "x.y", "x.y")
    assert env.body_digest == wire.payload_digest("x.y")
    obj = env.with_signature(SIG).to_json()
    assert obj["sealed"] == "x.y" and "body" not in obj and "sealed" not in env.signed_members()
    assert wire.decode(wire.encode(env.with_signature(SIG))) == env.with_signature(SIG)


def test_a_clear_body_is_compact_key_sorted_json_and_keeps_non_ascii_text() -> None:
    assert wire.encode_payload({"text": "café", "b": [1, 2], "a": None}) == '{"a":null,"b":[1,2],"text":"café"}'
    env = make(body={"text": "café à 5 €"})
    assert env.body == '{"text":"café à 5 €"}'
    assert env.body_digest == wire.payload_digest(env.body)


def test_the_wire_form_is_compact_utf8_json() -> None:
    env = make(body={"text": "café"}, thread="case-1").with_signature(SIG)
    raw = wire.encode(env)
    assert b", " not in raw and b": " not in raw
    assert "café".encode() in raw and b"\\u" not in raw
    assert json.loads(raw) == env.to_json()


def test_signing_input_is_cached_and_carried_to_the_signed_copy() -> None:
    env = make()
    first = env.signing_input()
    signed = env.with_signature(SIG)
    assert signed.sig == SIG and signed.signing_input() == first
    assert signed.digest() == wire.Envelope.digest(signed)


def test_unsigned_envelopes_have_no_digest_and_are_not_encoded() -> None:
    with pytest.raises(ValueError, match="^an unsigned envelope has no digest$"):
        make().digest()
    with pytest.raises(ValueError, match="^refusing to encode an unsigned envelope$"):
        wire.encode(make())


@pytest.mark.parametrize(("body", "sealed"), [(None, None), ({"text": "x"}, "x.y")])
def test_build_takes_exactly_one_of_body_and_sealed(body: dict | None, sealed: str | None) -> None:
    with pytest.raises(ValueError, match="^exactly one of body and sealed$"):
        make(body=body, sealed=sealed)


def test_seal_context_binds_the_type_the_message_id_and_the_sender() -> None:
    assert wire.seal_context("case.share", ID, "MEX") == f"case.share\n{ID}\nMEX".encode()
    with pytest.raises(UnicodeEncodeError):
        wire.seal_context("case.share", ID, "MÉX")


# -- refusals and their reason codes ------------------------------------------------------------

@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_are_refused_naming_the_constant(constant: str) -> None:
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(f'{{"a": {constant}}}'.encode())
    assert caught.value.reason == "malformed_json"
    assert caught.value.detail == f"{constant} is not JSON"


def test_a_boolean_version_is_not_version_1() -> None:
    obj = make().with_signature(SIG).to_json()
    obj["v"] = True
    assert refusal(json.dumps(obj).encode()).reason == "unsupported_version"


def test_a_non_string_type_is_refused() -> None:
    obj = make().with_signature(SIG).to_json()
    obj["type"] = 5
    error = refusal(json.dumps(obj).encode())
    assert (error.reason, error.detail, error.type) == ("bad_field", "type must be a string", None)


def test_a_sealed_type_with_a_clear_body_and_a_clear_type_with_a_sealed_payload_are_refused() -> None:
    obj = mla_request().with_signature(SIG).to_json()
    obj["body"] = obj.pop("sealed")
    error = refusal(json.dumps(obj).encode())
    assert (error.reason, error.detail) == ("bad_payload", "mla.request must carry a sealed payload")
    obj = make().with_signature(SIG).to_json()
    obj["sealed"] = obj.pop("body")
    error = refusal(json.dumps(obj).encode())
    assert (error.reason, error.detail) == ("bad_payload", "note carries a clear body")


def test_expiry_at_the_creation_instant_is_refused_a_microsecond_later_is_accepted() -> None:
    with pytest.raises(DecodeError) as caught:
        make(ttl=timedelta(0))
    assert (caught.value.reason, caught.value.detail) == ("bad_time", "expires must be after created")
    assert make(ttl=timedelta(microseconds=1)).expires_at - make().created_at == timedelta(microseconds=1)


def _raw(env: wire.Envelope, **change: object) -> bytes:
    obj = env.with_signature(SIG).to_json()
    obj.update(change)
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


@pytest.mark.parametrize(("change", "reason", "detail"), [
    ({"extra": 1, "more": 2}, "unknown_field", "unknown member(s): ['extra', 'more']"),
    ({"expires": ..., "header": ...}, "missing_field", "missing member(s): ['expires', 'header']"),
    ({"v": 2}, "unsupported_version", "version 2; this node speaks 1"),
    ({"id": ID.upper()}, "bad_field", "$.id: has the wrong format"),
    ({"id": "0190f0e0-0000-7000-c000-000000000001"}, "bad_field", "id must be a lower-case UUIDv7"),
    ({"id": "0190f0e0-0000-4000-8000-000000000001"}, "bad_field", "id must be a lower-case UUIDv7"),
    ({"thread": "a b"}, "bad_field", "$: has the wrong format"),
    ({"reply_to": "r"}, "bad_field", "$: length must be 36..36"),
    ({"sig": {"alg": "ed25519", "kid": "ab" * 32}}, "bad_signature_field", "$.value: missing"),
    ({"body": 5}, "bad_payload", "body/sealed must be a string"),
    ({"body": ...}, "bad_payload", "exactly one of body and sealed is required"),
    ({"body_digest": "00" * 32}, "digest_mismatch", "body_digest does not match the transmitted payload"),
    ({"recipients": ["IDN", "ITA", "IDN"]}, "bad_recipients", "a recipient is named twice"),
    ({"recipients": ["IDN", "*"]}, "bad_recipients", '"*" must stand alone'),
    ({"handling": {"code": "H4"}}, "bad_handling", "handling.code must be one of H0, H1, H2, H3"),
    ({"handling": {"retention_days": 5}}, "bad_handling", "handling.code must be one of H0, H1, H2, H3"),
    ({"handling": {"code": "H1", "retention_days": 0}}, "bad_handling", "$.retention_days: must be 1..36500"),
    ({"expires": "2026-11-22T12:00:00.000000Z"}, "bad_time", "expires must be after created"),
    ({"expires": "2026-11-22T11:59:59.999999Z"}, "bad_time", "expires must be after created"),
    ({"created": "2026-02-30T12:00:00Z"}, "bad_time", None),
    ({"header": {"x": 1}}, "bad_header", "$.x: unknown field"),
])
def test_each_refusal_names_its_reason_and_what_is_wrong(change: dict, reason: str, detail: str | None) -> None:
    env = make(thread="case-1")
    error = refusal(_raw(env, **change))
    assert error.reason == reason
    if detail is not None:
        assert error.detail == detail
    assert (error.message_id, error.sender, error.type) == (change.get("id", env.id), "MEX", "note")


def test_the_payload_digest_is_the_sha256_of_the_utf8_text_as_transmitted() -> None:
    import hashlib

    assert wire.payload_digest("café") == hashlib.sha256("café".encode()).hexdigest()
    env = make()
    respaced = '{ "text": "hello" }'  # another faithful text: its own digest, not the canonical one
    error = refusal(_raw(env, body=respaced))
    assert error.reason == "digest_mismatch"
    accepted = wire.decode(_raw(env, body=respaced, body_digest=wire.payload_digest(respaced)))
    assert accepted.body == respaced and wire.decode_body(accepted) == {"text": "hello"}


def test_a_broadcast_is_star_alone() -> None:
    env = wire.build(message_id=ID, type="alert.document", sender="MEX", recipients=["*"], created=NOW,
                     ttl=timedelta(hours=1), body={"document_number": "A1", "document_type": "passport",
                                                   "issuing_country": "MEX", "status": "lost",
                                                   "action": "create", "reported": "2026-11-01"})
    assert env.is_broadcast and not make().is_broadcast
    assert wire.decode(wire.encode(env.with_signature(SIG))).is_broadcast


def test_decode_body_of_a_sealed_type_reads_the_opened_plaintext_only() -> None:
    env = mla_request()
    with pytest.raises(DecodeError) as caught:
        wire.decode_body(env)
    assert (caught.value.reason, caught.value.detail) == ("bad_payload", "mla.request has no clear body")
    with pytest.raises(DecodeError) as caught:
        wire.decode_body(env, b'{"reference": "ITA-1"}')
    assert caught.value.reason == "bad_body" and "missing" in caught.value.detail


def test_a_name_longer_than_64_characters_is_not_read_from_a_dead_letter() -> None:
    obj = make().with_signature(SIG).to_json()
    for thread, read in (("t" * 64, "t" * 64), ("t" * 65, None)):
        obj["thread"] = thread
        assert wire.read_names(json.dumps(obj).encode())["thread"] == read


def test_a_malformed_plaintext_is_refused_as_the_body() -> None:
    env = mla_request()
    for plaintext, detail in ((b"\xff", "body is not valid UTF-8 at byte 0"),
                              (b'{"a": 1, "a": 2}', "member 'a' appears twice")):
        with pytest.raises(DecodeError) as caught:
            wire.decode_body(env, plaintext)
        assert caught.value.detail == detail


@pytest.mark.parametrize(("raw", "reason", "detail"), [
    (b"\xff{}", "bad_utf8", "envelope is not valid UTF-8 at byte 0"),
    (b"[1]", "malformed_envelope", "the envelope must be a JSON object"),
    (b'["\\ud800"]', "bad_unicode", "envelope contains a lone UTF-16 surrogate"),
    (b'{"v": 1, "x": "\\udfff"}', "bad_unicode", "envelope contains a lone UTF-16 surrogate"),
    (b"[" * 100 + b"]" * 100, "too_deep", "envelope nests deeper than 64 levels"),
    (b"{,}", "malformed_json", None),
])
def test_bytes_that_are_no_envelope_are_refused_saying_so(raw: bytes, reason: str, detail: str | None) -> None:
    error = refusal(raw)
    assert error.reason == reason
    if detail is None:
        assert error.detail.startswith("envelope: ")
    else:
        assert error.detail == detail


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" * 50 + "e999"])
def test_a_number_beyond_the_json_range_is_refused_naming_it(number: str) -> None:
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(f'{{"a": {number}}}'.encode())
    assert (caught.value.reason, caught.value.detail) == ("bad_number",
                                                          f"{number[:40]} is beyond the range of a JSON number")


def test_parse_json_names_the_envelope_unless_told_what_it_reads() -> None:
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(b"\xff")
    assert caught.value.detail == "envelope is not valid UTF-8 at byte 0"


def test_the_duplicate_member_named_is_the_one_that_repeats() -> None:
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(b'{"a": 1, "b": 2, "b": 3}')
    assert (caught.value.reason, caught.value.detail) == ("duplicate_key", "member 'b' appears twice")


def test_a_lone_surrogate_in_text_already_decoded_is_refused_under_its_label() -> None:
    for text in ('["\ud800"]', '["\\udc00"]'):  # a raw surrogate in a str, and an escaped one
        with pytest.raises(DecodeError) as caught:
            wire.parse_json(text, what="body")
        assert (caught.value.reason, caught.value.detail) == ("bad_unicode", "body contains a lone UTF-16 surrogate")


def test_depth_is_counted_across_siblings_closed_earlier() -> None:
    shallow_then_deep = "[[[]," + "[" * 63 + "]" * 63 + "]]"  # 3 levels, one closed, then 63 more: 65
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(shallow_then_deep.encode())
    assert caught.value.reason == "too_deep"
    assert wire.parse_json(("[[[]," + "[" * 62 + "]" * 62 + "]]").encode()) is not None  # 64: accepted


def test_what_is_neither_bytes_nor_text_is_refused_as_malformed() -> None:
    for value in (None, 5, ["[]"]):
        with pytest.raises(DecodeError) as caught:
            wire.parse_json(value, what="log receipt")  # type: ignore[arg-type]
        assert (caught.value.reason, caught.value.detail) == ("malformed_json", "log receipt is not text")


def test_only_brackets_outside_strings_count_towards_the_depth_whatever_else_is_wrong() -> None:
    # The depth is checked before parsing: a text that is both too deep and malformed says too_deep, one
    # that is only malformed says malformed_json; letters between the brackets are neither deeper nor shallower.
    shallow = "[]" * 30 + "[" * 40 + "X" * 30 + "]" * 40  # 40 levels, X is no JSON
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(shallow.encode())
    assert caught.value.reason == "malformed_json"
    deep = "[]" * 30 + "[" * 30 + "X" * 10 + "[" * 35 + "]" * 65  # 65 levels, with X among them
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(deep.encode())
    assert (caught.value.reason, caught.value.detail) == ("too_deep", "envelope nests deeper than 64 levels")


def test_a_body_the_caller_checked_is_not_parsed_back_and_checked_again() -> None:
    # A feed checks each record as it reads it; build then skips its own round trip (issue 19).
    # The flag is the caller's word: the hub and every recipient still check the body strictly.
    bad = {"alerts": [{"document_number": "X1"}]}
    with pytest.raises(DecodeError) as caught:
        make(type="alert.document.batch", recipients=["*"], body=bad)
    assert caught.value.reason == "bad_body"
    env = make(type="alert.document.batch", recipients=["*"], body=bad, body_checked=True)
    assert json.loads(env.body) == bad
    assert env.body_digest == wire.payload_digest(env.body)


# -- the fast parse of payloads (issue 19): the strict parse decides every doubtful case -----------

def _nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + '[1]' + '}' * (depth - 1)


@pytest.fixture
def strict_path_refused(monkeypatch):  # noqa: ANN001, ANN201
    """Make the strict parse unusable: what still parses took the fast path."""
    def refused(text: str, what: str) -> None:
        raise AssertionError("the strict parse ran")
    monkeypatch.setattr(wire, "_parse_strict", refused)


@pytest.mark.parametrize("text", [
    '{"alerts":[' + ",".join(json.dumps({"document_number": f"P{i}", "status": "lost", "n": [i, {"k": i}]})
                             for i in range(50)) + "]}",
    '{"text":"hello","n":[1,2.5,{"x":null}],"t":true}', "null", "[]", "{}", '"plain"',
    _nested(wire.MAX_DEPTH),
])
def test_well_formed_payloads_take_the_fast_parse(text: str, strict_path_refused) -> None:  # noqa: ANN001
    assert wire.parse_json(text.encode(), what="body") == json.loads(text)


@pytest.mark.parametrize("text, reason", [
    ('{"a":1,"a":2}', "duplicate_key"),
    ('{"alerts":[{"a":1,"b":"x:y"},{"a":1,"a":2}]}', "duplicate_key"),  # a ':' in a string hides one
    ('[{"a":1,"a":2},NaN]', "duplicate_key"),  # the strict parse's first objection, not the fast one's
    ('[{"a":1,"a":2},1e999]', "duplicate_key"),
    ('{"a":NaN}', "malformed_json"),
    ('{"a":1e999}', "bad_number"),
    ('{"a":1,}', "malformed_json"),
    ('{"a":1} x', "malformed_json"),
    ("\ufeff{}", "malformed_json"),
    (_nested(wire.MAX_DEPTH + 1), "too_deep"),
    ("[" * 100_000 + "]" * 100_000, "too_deep"),  # deeper than the parser's recursion limit
])
def test_doubtful_payloads_are_decided_by_the_strict_parse(text: str, reason: str) -> None:
    with pytest.raises(DecodeError) as fast:
        wire.parse_json(text, what="body")
    with pytest.raises(DecodeError) as strict:
        wire._parse_json(text, "body")
    assert (fast.value.reason, fast.value.detail) == (strict.value.reason, strict.value.detail)
    assert fast.value.reason == reason


def test_a_colon_inside_a_string_sends_a_payload_to_the_strict_parse(monkeypatch) -> None:  # noqa: ANN001
    calls: list[str] = []
    strict = wire._parse_strict
    monkeypatch.setattr(wire, "_parse_strict", lambda text, what: calls.append(text) or strict(text, what))
    assert wire.parse_json('{"t":"10:00"}', what="body") == {"t": "10:00"}
    assert calls == ['{"t":"10:00"}']
    assert wire.parse_json('{"t":"10-00"}', what="body") == {"t": "10-00"}
    assert len(calls) == 1


def test_envelopes_and_dead_letters_are_parsed_strictly_only(monkeypatch) -> None:  # noqa: ANN001
    # The fast parse is for payloads; an envelope off the wire gets the strict parse alone.
    raw = wire.encode(make().with_signature(SIG))

    def refused(text: str) -> None:
        raise AssertionError("the fast parse ran")
    monkeypatch.setattr(wire, "_parse_plain", refused)
    assert wire.decode(raw).id == ID
    assert wire.read_names(raw)["id"] == ID
    with pytest.raises(AssertionError, match="the fast parse ran"):
        wire.parse_json(raw)


@pytest.mark.parametrize("text, reason", [
    (_nested(wire.MAX_DEPTH + 1), "too_deep"),  # parses, then refused on its value's nesting
    (_nested(wire.MAX_DEPTH + 1)[:-1], "too_deep"),  # malformed too: the nesting is named first
    ('{"a":{"a":1,"a":2},' + _nested(wire.MAX_DEPTH + 1)[1:], "too_deep"),  # and before a duplicate
    ('[' + _nested(wire.MAX_DEPTH), "too_deep"),  # unclosed and 65 deep
    ('[' + _nested(wire.MAX_DEPTH - 1), "malformed_json"),  # unclosed, 64 deep
    ('[' + _nested(wire.MAX_DEPTH - 1) + ',NaN]', "malformed_json"),
])
def test_the_strict_parse_names_too_deep_nesting_first(text: str, reason: str) -> None:
    for parse in (lambda: wire._parse_json(text, "envelope"), lambda: wire.parse_json(text, what="body")):
        with pytest.raises(DecodeError) as caught:
            parse()
        assert caught.value.reason == reason
    assert wire._parse_json(_nested(wire.MAX_DEPTH), "envelope")[0] == json.loads(_nested(wire.MAX_DEPTH))


def test_an_envelope_carrying_a_batch_is_not_stripped_of_its_strings_to_check_its_nesting(monkeypatch) -> None:  # noqa: ANN001
    body = {"alerts": [{"document_number": f"P{i}", "n": [[i]]} for i in range(100)]}
    raw = wire.encode(make(body={"text": json.dumps(body)}).with_signature(SIG))

    def refused(text: str, what: str) -> None:
        raise AssertionError("the text's nesting was checked")
    monkeypatch.setattr(wire, "_check_depth", refused)
    assert json.loads(wire.decode(raw).body) == {"text": json.dumps(body)}
