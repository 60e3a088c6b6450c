"""Checkpoint and signed-note format: published examples, round trips, strict parsing with a reason
per refusal; and a witness's decision on a new checkpoint (crypto/witness.py) built on them."""

from __future__ import annotations

import base64

import pytest

from crypto.keys import SigningKey
from crypto.merkle import (
    CompactRange,
    MemoryNodeStore,
    consistency_proof,
    leaf_hash,
    root_at,
)
from crypto.note import NoteVerifier, sign_note
from crypto.witness import Witnessed, WitnessError, check_checkpoint
from protocol.checkpoint import (
    MAX_SIGNATURES,
    TYPE_ED25519,
    TYPE_ED25519_COSIGNATURE,
    TYPE_ML_DSA_44,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    SignedNote,
    cosignature_message,
    format_note,
    key_id,
    parse_checkpoint_body,
    parse_note,
)
from protocol.errors import ProtocolError

ORIGIN = "somex/test/audit"
ROOT = bytes(range(32))
ROOT64 = base64.b64encode(ROOT).decode()

# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature: the example checkpoint, its log
# signature and a witness cosignature (time 1679315147).
SPEC_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LOG_LINE = ("\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
                 "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")
SPEC_WITNESS_LINE = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b"
                     "2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")
# c2sp.org/signed-note: the example note, whose text holds a blank line.
SPEC_POEM = ("Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n\n"
             "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0"
             "xMcXxj99ihAQwaqP3ZekRwNtIc=\n").encode()
# golang.org/x/mod/sumdb/note note_test.go: the text and the signature lines of TestOpen.
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_PETER = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
            "BwJnAM=\n")


def _vkey(vkey: str) -> tuple[str, str, int, bytes]:
    """A signed-note verifier key name+hexid+base64(type||key): (name, hex id, type, key)."""
    name, hex_id, encoded = vkey.split("+", 2)
    blob = base64.b64decode(encoded)
    return name, hex_id, blob[0], blob[1:]


# -- checkpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize("checkpoint", [
    Checkpoint(ORIGIN, 12345, ROOT),
    Checkpoint(ORIGIN, 0, ROOT),
    Checkpoint(ORIGIN, 2**64 - 1, ROOT, ("ext one", "ext \u00e9 two")),
    parse_checkpoint_body(SPEC_BODY),
])
def test_checkpoint_body_round_trips(checkpoint: Checkpoint) -> None:
    assert parse_checkpoint_body(checkpoint.body()) == checkpoint


def test_checkpoint_body_is_exactly_origin_size_root_and_extension_lines() -> None:
    assert Checkpoint(ORIGIN, 12345, ROOT, ("ext one",)).body() == f"{ORIGIN}\n12345\n{ROOT64}\next one\n".encode()
    parsed = parse_checkpoint_body(SPEC_BODY)
    assert (parsed.origin, parsed.size, parsed.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert parsed.body() == SPEC_BODY


def test_checkpoint_body_is_deterministic_for_a_size() -> None:
    # Pitfall 6: the same tree head always gives the same bytes (no time in it), so cosignatures
    # made at different times over it can be merged into one note.
    first, again = Checkpoint(ORIGIN, 7, ROOT), Checkpoint(ORIGIN, 7, bytes(ROOT))
    assert first.body() == again.body() == parse_checkpoint_body(first.body()).body()
    assert b"time" not in first.body() and len(first.body().split(b"\n")) == 4


@pytest.mark.parametrize(("body", "reason"), [
    (f"{ORIGIN}\n12\n{ROOT64}".encode(), "no_final_newline"),
    (f"{ORIGIN}\n12\nnot base64!\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n12\n{ROOT64[:-1]}\n".encode(), "bad_root_hash"),  # padding missing
    (f"{ORIGIN}\n12\n{ROOT64.replace('=', '')}AA==\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n12\n{base64.urlsafe_b64encode(bytes([0xfb] * 32)).decode()}\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n12\n{ROOT64[:20]} {ROOT64[20:]}\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n12\n{ROOT64[:-2]}9=\n".encode(), "bad_root_hash"),  # non-zero unused bits
    (f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n12\n{base64.b64encode(ROOT + b'x').decode()}\n".encode(), "bad_root_hash"),
    (f"{ORIGIN}\n012\n{ROOT64}\n".encode(), "bad_size"),  # leading zero
    (f"{ORIGIN}\n00\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n-1\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n+1\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n1e3\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n0x10\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n1_000\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n 12\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n12 \n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n\u0661\u0662\n{ROOT64}\n".encode(), "bad_size"),  # Arabic-Indic digits: int() would take them
    (f"{ORIGIN}\n\n{ROOT64}\n".encode(), "bad_size"),
    (f"{ORIGIN}\n18446744073709551616\n{ROOT64}\n".encode(), "bad_size"),  # 2^64
    (f"{ORIGIN}\n12\n{ROOT64}\n\next\n".encode(), "bad_extension"),  # extra blank line
    (f"{ORIGIN}\n12\n{ROOT64}\n\n".encode(), "bad_extension"),  # trailing blank line
    (f"\n{ORIGIN}\n12\n{ROOT64}\n".encode(), "bad_size"),  # leading blank line shifts every line
    (f"\n12\n{ROOT64}\n".encode(), "bad_origin"),
    (f"{ORIGIN}\n12\n".encode(), "missing_lines"),
    (b"\n", "missing_lines"),
    (b"", "no_final_newline"),
    (f"{ORIGIN}\r\n12\r\n{ROOT64}\r\n".encode(), "control_character"),
    (f"{ORIGIN}\t\n12\n{ROOT64}\n".encode(), "control_character"),
    (b"\xff\n1\n" + ROOT64.encode() + b"\n", "bad_utf8"),
])
def test_malformed_checkpoint_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        parse_checkpoint_body(body)
    assert caught.value.reason == reason


@pytest.mark.parametrize(("fields", "reason"), [
    (("", 1, ROOT, ()), "bad_origin"),
    (("two\nlines", 1, ROOT, ()), "bad_origin"),
    ((ORIGIN, -1, ROOT, ()), "bad_size"),
    ((ORIGIN, 2**64, ROOT, ()), "bad_size"),
    ((ORIGIN, True, ROOT, ()), "bad_size"),
    ((ORIGIN, "1", ROOT, ()), "bad_size"),
    ((ORIGIN, 1, ROOT[:31], ()), "bad_root_hash"),
    ((ORIGIN, 1, ROOT.hex(), ()), "bad_root_hash"),
    ((ORIGIN, 1, ROOT, ("",)), "bad_extension"),
    ((ORIGIN, 1, ROOT, ("a\nb",)), "bad_extension"),
])
def test_a_checkpoint_that_could_not_be_parsed_back_cannot_be_made(fields: tuple, reason: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        Checkpoint(*fields)
    assert caught.value.reason == reason


def test_checkpoint_errors_are_protocol_and_value_errors_with_a_detail() -> None:
    with pytest.raises(CheckpointError) as caught:
        parse_checkpoint_body(b"x\n")
    assert isinstance(caught.value, ProtocolError) and isinstance(caught.value, ValueError)
    assert caught.value.reason == "missing_lines" and caught.value.detail


# -- signed notes ----------------------------------------------------------------------------------


def test_published_checkpoint_notes_parse_and_format_back_byte_for_byte() -> None:
    for raw in (SPEC_BODY + b"\n" + SPEC_LOG_LINE.encode(),
                SPEC_BODY + b"\n" + (SPEC_LOG_LINE + SPEC_WITNESS_LINE).encode(),
                SPEC_POEM,
                (GO_TEXT + "\n" + GO_PETER).encode()):
        note = parse_note(raw)
        assert format_note(note) == raw
    note = parse_note(SPEC_BODY + b"\n" + (SPEC_LOG_LINE + SPEC_WITNESS_LINE).encode())
    assert note.body == SPEC_BODY
    assert [(s.name, s.key_id.hex(), len(s.sig)) for s in note.signatures] == [
        ("example.com/behind-the-sofa", "033de0ae", 64), ("witness.example.com/w1", "8d66cf3f", 72)]


def test_the_text_ends_at_the_last_blank_line() -> None:
    note = parse_note(SPEC_POEM)
    assert note.body.decode().endswith(":\n\ned \u00e8 subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]


def test_a_note_round_trips_through_format_and_parse() -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = SignedNote(body, (NoteSignature("a.example/log", b"\x01\x02\x03\x04", bytes(64)),
                             NoteSignature("MEX", b"\xff\x00\xff\x00", bytes(range(72)))))
    raw = format_note(note)
    assert raw.startswith(body + "\n\u2014 a.example/log ".encode())
    assert parse_note(raw) == note


_BAD = [
    # golang.org/x/mod/sumdb/note TestOpen, "Invalid encoded message syntax".
    (GO_TEXT, "missing_signatures"),
    (GO_TEXT + "\n", "missing_signatures"),
    (GO_TEXT + "\n" + GO_PETER[:-1], "no_final_newline"),
    ("\x01" + GO_TEXT + "\n" + GO_PETER, "control_character"),
    (GO_TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
                      "RZb6KE6RyyBwJnAM=", "no_final_newline"),
    (GO_TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
                      "RZb6KE6RyyBwJnAM=\n", "bad_signature_line"),
    (GO_TEXT + "\n" + GO_PETER + "Unexpected line.\n", "bad_signature_line"),
    # And the rest of the grammar.
    (GO_TEXT + "\n" + "- PeterNeumann AAAAAAA=\n", "bad_signature_line"),  # hyphen, not em dash
    (GO_TEXT + "\n" + "\u2014 PeterNeumann\n", "bad_signature_line"),
    (GO_TEXT + "\n" + "\u2014 PeterNeumann \n", "bad_signature_line"),
    (GO_TEXT + "\n" + "\u2014 PeterNeumann AAAAAA==\n", "bad_signature_line"),  # 4 bytes: a key id, no signature
    (GO_TEXT + "\n" + "\u2014 PeterNeumann not*base64\n", "bad_signature_line"),
    (GO_TEXT + "\n" + "\u2014 PeterNeumann AAAAAAA\n", "bad_signature_line"),  # padding missing
    (GO_TEXT + "\n" + "\u2014  AAAAAAA=\n", "bad_key_name"),
    (GO_TEXT + "\n" + "\u2014 Peter+Neumann AAAAAAA=\n", "bad_key_name"),
    (GO_TEXT + "\n" + "\u2014 Peter\u00a0Neumann AAAAAAA=\n", "bad_key_name"),  # a Unicode space
    (GO_TEXT + "\n" + "\u2014 Peter\u3000Neumann AAAAAAA=\n", "bad_key_name"),
    (GO_TEXT + "\n" + GO_PETER + "\n", "missing_signatures"),  # a blank line after the signatures
    (GO_TEXT.replace("\n", "\r\n") + "\r\n" + GO_PETER.replace("\n", "\r\n"), "control_character"),
    (GO_TEXT + "\n" + GO_PETER * (MAX_SIGNATURES + 1), "too_many_signatures"),  # as x/mod: at most 100
]


@pytest.mark.parametrize(("text", "reason"), _BAD)
def test_malformed_notes_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        parse_note(text.encode())
    assert caught.value.reason == reason


def test_invalid_utf8_notes_are_refused() -> None:
    # x/mod TestOpen: "\xff" + text.
    with pytest.raises(CheckpointError) as caught:
        parse_note(b"\xff" + (GO_TEXT + "\n" + GO_PETER).encode())
    assert caught.value.reason == "bad_utf8"


def test_a_note_may_carry_up_to_max_signatures() -> None:
    assert len(parse_note((GO_TEXT + "\n" + GO_PETER * MAX_SIGNATURES).encode()).signatures) == MAX_SIGNATURES


def test_a_note_is_formatted_only_with_signatures_and_a_valid_text() -> None:
    signature = NoteSignature("MEX", b"abcd", b"sig")
    with pytest.raises(CheckpointError) as caught:
        format_note(SignedNote(Checkpoint(ORIGIN, 1, ROOT).body(), ()))
    assert caught.value.reason == "missing_signatures"
    with pytest.raises(CheckpointError) as caught:
        format_note(SignedNote(b"no newline", (signature,)))
    assert caught.value.reason == "no_final_newline"


@pytest.mark.parametrize(("fields", "reason"), [
    (("", b"abcd", b"s"), "bad_key_name"),
    (("a b", b"abcd", b"s"), "bad_key_name"),
    (("a+b", b"abcd", b"s"), "bad_key_name"),
    (("ok", b"abc", b"s"), "bad_key_id"),
    (("ok", "abcd", b"s"), "bad_key_id"),
    (("ok", b"abcd", b""), "bad_signature_line"),
])
def test_a_signature_line_that_could_not_be_parsed_back_cannot_be_made(fields: tuple, reason: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        NoteSignature(*fields)
    assert caught.value.reason == reason


def test_adding_a_signature_replaces_the_same_keys_earlier_one() -> None:
    body = Checkpoint(ORIGIN, 1, ROOT).body()
    a1, a2 = NoteSignature("A", b"aaaa", b"1"), NoteSignature("A", b"aaaa", b"2")
    b = NoteSignature("B", b"bbbb", b"3")
    note = SignedNote(body, (a1,)).with_signature(b).with_signature(a2)
    assert note.signatures == (b, a2)
    other_key = note.with_signature(NoteSignature("A", b"cccc", b"4"))  # same name, another key id
    assert len(other_key.signatures) == 3


# -- key ids and the cosigned message --------------------------------------------------------------


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # x/mod note_test.go
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",  # x/mod note_test.go
    "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",  # transparency-dev/formats
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # a cosignature (0x04) key
])
def test_key_ids_match_published_verifier_keys(vkey: str) -> None:
    name, hex_id, type_byte, public_key = _vkey(vkey)
    assert type_byte in (TYPE_ED25519, TYPE_ED25519_COSIGNATURE)
    assert key_id(name, type_byte, public_key).hex() == hex_id


def test_the_type_byte_separates_key_ids_of_one_key() -> None:
    name, _, _, public_key = _vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    ids = {key_id(name, t, public_key) for t in (TYPE_ED25519, TYPE_ED25519_COSIGNATURE, TYPE_ML_DSA_44)}
    assert len(ids) == 3
    assert (TYPE_ED25519, TYPE_ED25519_COSIGNATURE, TYPE_ML_DSA_44) == (0x01, 0x04, 0x06)
    with pytest.raises(CheckpointError):
        key_id("no spaces allowed", TYPE_ED25519, public_key)


def test_the_cosigned_message_is_the_specs_example() -> None:
    assert cosignature_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    assert cosignature_message(SPEC_BODY, 0).startswith(b"cosignature/v1\ntime 0\n")
    for bad in (-1, 2**63, True, 1.5):
        with pytest.raises(CheckpointError) as caught:
            cosignature_message(SPEC_BODY, bad)  # type: ignore[arg-type]
        assert caught.value.reason == "bad_timestamp"


# -- the witness (crypto/witness.py) ---------------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.key, self.store, self.tree = SigningKey.generate(), MemoryNodeStore(), CompactRange()

    def grow(self, n: int) -> None:
        for _ in range(n):
            self.store.put_many(self.tree.append(leaf_hash(self.tree.size.to_bytes(8, "big"))))

    def note(self, size: int | None = None, root: bytes | None = None) -> bytes:
        size = self.tree.size if size is None else size
        body = Checkpoint(ORIGIN, size, root or root_at(size, self.store)).body()
        return format_note(SignedNote(body, (sign_note(body, ORIGIN, self.key),)))

    def proofs(self, *froms: int) -> dict[int, list[str]]:
        return {m: [base64.b64encode(h).decode() for h in consistency_proof(m, self.tree.size, self.store)]
                for m in froms}

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(ORIGIN, self.key.public_key)


def test_witness_accepts_a_consistent_checkpoint() -> None:
    log = Log()
    log.grow(10)
    first = check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier, last=None, proofs={})
    log.grow(7)
    second = check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier,
                              last=Witnessed(first.size, first.root_hash), proofs=log.proofs(10))
    assert second.size == 17


def test_witness_refuses_a_rewritten_log() -> None:
    log = Log()
    log.grow(10)
    last = Witnessed(10, root_at(10, log.store))
    rewritten = Log()
    rewritten.key = log.key  # the hub's own key signs the rewritten history
    rewritten.store.put_many(rewritten.tree.append(leaf_hash(b"forged")))
    rewritten.grow(16)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(rewritten.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=rewritten.proofs(10))
    assert caught.value.reason == "inconsistent"


def test_witness_refuses_a_shrunk_log_a_foreign_signature_and_a_missing_proof() -> None:
    log = Log()
    log.grow(20)
    last = Witnessed(20, root_at(20, log.store))
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(size=12), origin=ORIGIN, log_key=log.verifier, last=last, proofs={})
    assert caught.value.reason == "inconsistent"
    impostor = Log()
    impostor.grow(25)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(impostor.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=impostor.proofs(20))
    assert caught.value.reason == "bad_checkpoint_signature"
    log.grow(5)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=log.proofs(3))
    assert caught.value.reason == "no_proof"
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(), origin="another/log", log_key=log.verifier, last=last, proofs=log.proofs(20))
    assert caught.value.reason == "wrong_origin"


def test_witness_refuses_a_malformed_checkpoint() -> None:
    log = Log()
    log.grow(3)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note().replace(b"\n3\n", b"\n03\n"), origin=ORIGIN, log_key=log.verifier, last=None,
                         proofs={})
    assert caught.value.reason == "bad_checkpoint"


# -- formatting a note: the bounds the parser enforces, and what each refusal says -------------------


def test_a_note_of_exactly_max_signatures_is_formatted_and_one_more_is_refused() -> None:
    body = Checkpoint("somex/test/audit", 3, bytes(32)).body()
    signatures = tuple(NoteSignature(f"w{i}", bytes(4), bytes(64)) for i in range(MAX_SIGNATURES + 1))
    text = format_note(SignedNote(body, signatures[:MAX_SIGNATURES]))
    assert text.count("\u2014 ".encode()) == MAX_SIGNATURES
    with pytest.raises(CheckpointError) as caught:
        format_note(SignedNote(body, signatures))
    assert (caught.value.reason, caught.value.detail) == ("too_many_signatures", f"more than {MAX_SIGNATURES} signatures")
    with pytest.raises(CheckpointError) as caught:
        format_note(SignedNote(body, ()))
    assert (caught.value.reason, caught.value.detail) == ("missing_signatures",
                                                          "a signed note has at least one signature")


@pytest.mark.parametrize("timestamp", [-1, 2**63, True, 1.0])
def test_a_cosignature_time_outside_its_range_says_which(timestamp: object) -> None:
    with pytest.raises(CheckpointError) as caught:
        cosignature_message(b"x\n", timestamp)
    assert (caught.value.reason, caught.value.detail) == (
        "bad_timestamp", f"cosignature time {timestamp!r} is outside 0 .. 2^63 - 1")


_R = base64.b64encode(bytes(32)).decode()
_BODY = f"o\n3\n{_R}\n".encode()
_SIG = base64.b64encode(bytes(4) + bytes(64)).decode()


def _signed(*lines: str) -> bytes:
    return _BODY + b"\n" + "".join(f"{line}\n" for line in lines).encode()


@pytest.mark.parametrize(("build", "reason", "detail"), [
    (lambda: parse_note(b"\xff\n"), "bad_utf8", "a note is UTF-8 bytes"),
    (lambda: parse_note(b"o\n3\x01\n"), "control_character", "control character '\\x01' at 3"),
    (lambda: parse_note(_BODY), "missing_signatures", "no blank line separates the text from signatures"),
    (lambda: parse_note(_BODY + b"\n"), "missing_signatures", "no signature line follows the blank line"),
    (lambda: parse_note(_signed(*[f"\u2014 w {_SIG}"] * (MAX_SIGNATURES + 1))), "too_many_signatures",
     f"{MAX_SIGNATURES + 1} signature lines, at most {MAX_SIGNATURES}"),
    (lambda: parse_note(_signed("- w AAAA")), "bad_signature_line", "not a signature line: '- w AAAA'"),
    (lambda: parse_note(_signed(f"\u2014 a+b {_SIG}")), "bad_key_name", "key name 'a+b' is empty or has a space or '+'"),
    (lambda: parse_note(_signed("\u2014 w")), "bad_signature_line", "the signature of 'w' is under 5 bytes"),
    (lambda: parse_note(_signed("\u2014 w ")), "bad_signature_line", "the signature of 'w' is under 5 bytes"),
    (lambda: parse_note(_signed("\u2014 w AAB=")), "bad_signature_line", "the signature of 'w' is not canonical base64"),
    (lambda: parse_note(_signed(f"\u2014 w {base64.b64encode(bytes(4)).decode()}")), "bad_signature_line",
     "the signature of 'w' is under 5 bytes"),
    (lambda: parse_checkpoint_body(b"o\n3\n"), "missing_lines",
     "a checkpoint has an origin, a tree size and a root hash line"),
    (lambda: parse_checkpoint_body(f"o\n{2**64}\n{_R}\n".encode()), "bad_size",
     "tree size '18446744073709551616' is not a decimal below 2^64 without leading zeros"),
    (lambda: parse_checkpoint_body(b"o\n3\n!!!!\n"), "bad_root_hash", "the root hash must be 32 bytes in canonical base64"),
    (lambda: parse_checkpoint_body(b"o\n3\nAAAA\n"), "bad_root_hash", "the root hash must be 32 bytes in canonical base64"),
    (lambda: Checkpoint("a\nb", 3, bytes(32)), "bad_origin", "the origin must be one line of text"),
    (lambda: Checkpoint("o", 3, bytes(32), ("a\nb",)), "bad_extension", "the extension line must be one line of text"),
    (lambda: Checkpoint("", 3, bytes(32)), "bad_origin", "the origin must not be empty"),
    (lambda: Checkpoint("o", 3, bytes(32), ("",)), "bad_extension", "extension lines must not be empty"),
    (lambda: Checkpoint("o", -1, bytes(32)), "bad_size", "tree size -1 is not an unsigned 64-bit integer"),
    (lambda: Checkpoint("o", 3, bytes(31)), "bad_root_hash", "the root hash is 32 bytes"),
    (lambda: NoteSignature("a b", bytes(4), bytes(1)), "bad_key_name", "key name 'a b' is empty or has a space or '+'"),
    (lambda: NoteSignature("w", bytes(3), bytes(1)), "bad_key_id", "a key id is 4 bytes"),
    (lambda: NoteSignature("w", bytes(4), b""), "bad_signature_line", "a signature is at least one byte"),
    (lambda: key_id("a b", 1, bytes(32)), "bad_key_name", "key name 'a b' is empty or has a space or '+'"),
], ids=["bad-utf8", "control", "no-blank-line", "nothing-after-blank", "too-many-lines", "not-a-signature-line",
        "bad-key-name", "no-signature", "empty-signature", "non-canonical-signature", "four-byte-signature",
        "missing-lines", "size-2**64", "root-not-base64", "root-short", "origin-two-lines", "extension-two-lines",
        "empty-origin", "empty-extension", "negative-size", "short-root", "signature-key-name", "key-id-length",
        "empty-signature-bytes", "key-id-name"])
def test_each_format_refusal_has_its_reason_and_says_what_is_wrong(build, reason: str, detail: str) -> None:  # noqa: ANN001
    with pytest.raises(CheckpointError) as caught:
        build()
    assert (caught.value.reason, caught.value.detail) == (reason, detail)


def test_the_format_limits_are_inclusive_at_their_edges() -> None:
    assert parse_checkpoint_body(f"o\n{2**64 - 1}\n{_R}\n".encode()).size == 2**64 - 1
    five = parse_note(_signed(f"\u2014 w {base64.b64encode(bytes(5)).decode()}"))  # key id and one signature byte
    assert five.signatures[0].sig == b"\x00"


_LONG = "abcdefghij" * 5  # 50 characters, each cut point visible


@pytest.mark.parametrize(("build", "reason", "detail"), [
    (lambda: parse_checkpoint_body(f"o\n{'1234567890' * 3}\n{_R}\n".encode()), "bad_size",
     "tree size '123456789012345678901234' is not a decimal below 2^64 without leading zeros"),
    (lambda: parse_note(_signed(f"- {_LONG}")), "bad_signature_line", f"not a signature line: '- {_LONG[:38]}'"),
    (lambda: parse_note(_signed(f"\u2014 +{_LONG} {_SIG}")), "bad_key_name",
     f"key name '+{_LONG[:39]}' is empty or has a space or '+'"),
    (lambda: parse_note(_signed(f"\u2014 {_LONG} AAB=")), "bad_signature_line",
     f"the signature of '{_LONG[:40]}' is not canonical base64"),
    (lambda: parse_note(_signed(f"\u2014 {_LONG} AAAA")), "bad_signature_line",
     f"the signature of '{_LONG[:40]}' is under 5 bytes"),
    (lambda: NoteSignature(f"{_LONG} x", bytes(4), bytes(1)), "bad_key_name",
     f"key name '{_LONG[:40]}' is empty or has a space or '+'"),
    (lambda: key_id(f"{_LONG}+", 1, bytes(32)), "bad_key_name", f"key name '{_LONG[:40]}' is empty or has a space or '+'"),
], ids=["size", "signature-line", "line-key-name", "non-canonical-signature", "short-signature", "signature-key-name",
        "key-id-name"])
def test_a_refusal_quotes_at_most_the_first_24_or_40_characters_of_what_it_refuses(
        build, reason: str, detail: str) -> None:  # noqa: ANN001
    # A peer's note can be arbitrarily long: the detail (logged, shown to the operator) quotes its start only.
    with pytest.raises(CheckpointError) as caught:
        build()
    assert (caught.value.reason, caught.value.detail) == (reason, detail)


def test_a_note_whose_text_is_one_empty_line_parses_back_as_formatted() -> None:
    # The blank line that separates text from signatures may be the note's very first bytes.
    note = SignedNote(b"\n", (NoteSignature("w", bytes(4), bytes(64)),))
    raw = format_note(note)
    assert raw.startswith("\n\n\u2014 w ".encode())
    assert parse_note(raw) == note
