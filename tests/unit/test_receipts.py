"""The hub's log receipt: what its signature covers, and the strict parsing of the header a node reads."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import rfc8785

from crypto.errors import CryptoError
from crypto.keys import SigningKey, verify_signature
from protocol.encoding import decode_base64, encode_base64
from protocol.errors import DecodeError
from protocol.receipts import HEADER, LOG_RECEIPT_DOMAIN, LogReceipt, parse_log_receipt

KEY = SigningKey.generate()
UNSIGNED = LogReceipt("0190f0e0-0000-7000-8000-000000000004", 3, "a" * 64, "b" * 64, "2026-11-22T12:00:00.5Z",
                      kid=KEY.kid)
RECEIPT = replace(UNSIGNED, sig=encode_base64(KEY.sign(UNSIGNED.signing_input())))


def verifies(receipt: LogReceipt) -> bool:
    """What a node does with a parsed receipt (nodes/national/node.py): the hub's signature over signing_input()."""
    try:
        verify_signature("ed25519", KEY.public_key, decode_base64(receipt.sig), receipt.signing_input())
    except CryptoError:
        return False
    return True


def test_the_header_name_is_the_one_the_hub_sets() -> None:
    assert HEADER == "x-somex-log"


def test_the_signature_covers_the_domain_and_the_canonical_form_of_what_the_receipt_attests() -> None:
    attested = {"message_id": RECEIPT.message_id, "index": 3, "leaf_hash": "a" * 64, "digest": "b" * 64,
                "at": "2026-11-22T12:00:00.5Z"}
    assert LOG_RECEIPT_DOMAIN == b"somex/log-receipt/v1\n"
    assert RECEIPT.signing_input() == LOG_RECEIPT_DOMAIN + rfc8785.dumps(attested)
    assert verifies(RECEIPT)


@pytest.mark.parametrize("change", [
    {"message_id": "0190f0e0-0000-7000-8000-000000000005"}, {"index": 4}, {"leaf_hash": "c" * 64},
    {"digest": "d" * 64}, {"at": "2026-11-22T12:00:01.5Z"},
])
def test_a_receipt_altered_in_what_it_attests_no_longer_verifies(change: dict) -> None:
    assert not verifies(replace(RECEIPT, **change))


def test_the_key_id_is_not_signed_it_only_names_the_key() -> None:
    assert replace(RECEIPT, kid="e" * 64).signing_input() == RECEIPT.signing_input()


def test_the_header_is_compact_json_of_every_member_and_parses_back_to_the_same_receipt() -> None:
    header = RECEIPT.to_header()
    assert " " not in header
    assert json.loads(header) == {"message_id": RECEIPT.message_id, "index": 3, "leaf_hash": "a" * 64,
                                  "digest": "b" * 64, "at": "2026-11-22T12:00:00.5Z", "kid": KEY.kid,
                                  "sig": RECEIPT.sig}
    assert parse_log_receipt(header) == RECEIPT
    assert parse_log_receipt(header.encode()) == RECEIPT  # AMQP may hand the header over as bytes
    assert verifies(parse_log_receipt(header))


def _header(**change: object) -> str:
    obj = json.loads(RECEIPT.to_header())
    obj.update(change)
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


@pytest.mark.parametrize(("text", "words"), [
    ("{not json", "log receipt: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ('{"index": 1, "index": 2}', "member 'index' appears twice"),
    (b"\xff", "log receipt is not valid UTF-8 at byte 0"),
    ("[" * 100 + "]" * 100, "log receipt nests deeper than 64 levels"),
    ("[]", "$: expected an object"),
    (_header(index=-1), "$.index"),
    (_header(index=True), "$.index"),
    (_header(index="3"), "$.index"),
    (_header(leaf_hash="A" * 64), "$.leaf_hash"),
    (_header(digest="b" * 63), "$.digest"),
    (_header(kid="k"), "$.kid"),
    (_header(message_id="not-a-uuid"), "$.message_id"),
    (_header(at="2026-11-22 12:00:00Z"), "$.at"),
    (_header(sig=...), "$.sig"),
    (_header(sig=""), "$.sig"),
    (_header(sig="not base64!"), "$.sig"),
    (_header(extra=1), "$.extra"),
])
def test_a_malformed_receipt_is_refused_as_bad_log_receipt_naming_what_is_wrong(text: str | bytes,
                                                                                  words: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_log_receipt(text)
    assert caught.value.reason == "bad_log_receipt"
    assert caught.value.detail == words if not words.startswith("$") else caught.value.detail.startswith(words)


@pytest.mark.parametrize("respelled", ["AB==", "AA=", "AAA", "AA"])
def test_a_signature_text_other_than_the_canonical_base64_is_refused(respelled: str) -> None:
    assert decode_base64("AA==") == b"\x00"
    with pytest.raises(DecodeError) as caught:
        parse_log_receipt(_header(sig=respelled))
    assert caught.value.reason == "bad_log_receipt"
    assert caught.value.detail in ("log receipt signature is not base64",
                                   "log receipt signature is not canonical base64 (padding bits or padding)")
