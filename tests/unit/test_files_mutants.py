"""protocol/files.py (issue 24): the exact counts and bounds of an evidence file's chunks, and the words
of each refusal (the file named, the chunk's index, the counts) a receiving focal point reads."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from protocol import files
from protocol.errors import PolicyError

CARRIER = "01a23658-19ef-7856-bae0-85a65ca51451"


def ref_of(data: bytes, chunk_bytes: int, name: str = "scan.pdf") -> dict:
    pieces = [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)]
    return {"name": name, "media_type": "application/pdf", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "chunk_bytes": chunk_bytes,
            "chunks": [hashlib.sha256(p).hexdigest() for p in pieces]}


def refusal(check, *args) -> PolicyError:  # noqa: ANN001, ANN002
    with pytest.raises(PolicyError) as caught:
        check(*args)
    return caught.value


@pytest.mark.parametrize(("size", "chunk_bytes", "count"), [
    (1, 4, 1), (3, 4, 1), (4, 4, 1), (5, 4, 2), (8, 4, 2), (9, 4, 3), (1, 1, 1), (7, 1, 7),
    (files.CHUNK_BYTES, files.CHUNK_BYTES, 1), (files.CHUNK_BYTES + 1, files.CHUNK_BYTES, 2),
])
def test_the_chunk_count_rounds_up_to_whole_chunks(size: int, chunk_bytes: int, count: int) -> None:
    got = files.chunk_count(size, chunk_bytes)
    assert got == count and type(got) is int


def test_the_default_chunk_is_4_mib() -> None:
    assert files.chunk_count(1) == 1
    assert files.chunk_count(4 * 1024 * 1024) == 1 and files.chunk_count(4 * 1024 * 1024 + 1) == 2


def test_every_chunk_but_the_last_is_full_and_the_last_holds_the_rest() -> None:
    ref = ref_of(bytes(11), chunk_bytes=4)
    lengths = [files.chunk_length(ref, i) for i in range(3)]
    assert lengths == [4, 4, 3] and all(type(n) is int for n in lengths)
    even = ref_of(bytes(8), chunk_bytes=4)
    assert [files.chunk_length(even, i) for i in range(2)] == [4, 4]


def test_a_reference_that_does_not_add_up_names_the_file_its_size_and_both_counts() -> None:
    ref = ref_of(bytes(10), chunk_bytes=4)
    err = refusal(files.check_file_ref, {**ref, "chunks": ref["chunks"] * 2})
    assert (err.reason, err.detail) == ("file_ref_mismatch",
                                        "file 'scan.pdf': 10 bytes in chunks of 4 are 3 chunks, not 6")
    long = ref_of(bytes(10), chunk_bytes=4, name="n" * 255)
    err = refusal(files.check_file_ref, {**long, "chunks": long["chunks"][:1]})
    assert err.detail == f"file {'n' * 80!r}: 10 bytes in chunks of 4 are 3 chunks, not 1"


def test_every_reference_of_a_message_is_checked() -> None:
    good = ref_of(bytes(10), chunk_bytes=4)
    files.check_file_refs([good, good])
    files.check_file_refs([])
    err = refusal(files.check_file_refs, [good, {**good, "name": "second.pdf", "size": 20}])
    assert err.reason == "file_ref_mismatch" and "'second.pdf'" in err.detail


def test_a_chunk_of_one_byte_and_a_full_chunk_are_accepted_and_nothing_or_more_is_refused() -> None:
    assert files.chunk_data({"data": b"\x07"}) == b"\x07"
    full = bytes(range(256)) * (files.CHUNK_BYTES // 256)
    assert files.chunk_data({"data": full}) is full  # the opened plaintext itself, not a copy
    err = refusal(files.chunk_data, {"data": b""})
    assert (err.reason, err.detail) == ("chunk_too_large", f"a chunk holds 1..{files.CHUNK_BYTES} bytes, not 0")
    err = refusal(files.chunk_data, {"data": full + b"!"})
    assert err.detail == f"a chunk holds 1..{files.CHUNK_BYTES} bytes, not {files.CHUNK_BYTES + 1}"


def test_chunk_data_that_is_not_bytes_is_refused_naming_the_chunk_data() -> None:
    for data in ("YWJj", bytearray(b"abc"), None):
        err = refusal(files.chunk_data, {"data": data})
        assert (err.reason, err.detail) == ("chunk_mismatch", "chunk data is not bytes")


def test_the_first_and_last_chunk_are_in_range_and_a_refusal_names_the_file_and_index() -> None:
    data = bytes(range(10))
    ref = ref_of(data, chunk_bytes=4)
    files.verify_chunk(ref, 0, data[:4])
    files.verify_chunk(ref, 1, data[4:8])
    files.verify_chunk(ref, 2, data[8:])
    err = refusal(files.verify_chunk, ref, 3, data[8:])
    assert (err.reason, err.detail) == ("chunk_out_of_range", "file 'scan.pdf' has 3 chunks, not a chunk 3")
    long = ref_of(data, chunk_bytes=4, name="m" * 255)
    err = refusal(files.verify_chunk, long, -1, data[:4])
    assert err.detail == f"file {'m' * 80!r} has 3 chunks, not a chunk -1"
    err = refusal(files.verify_chunk, long, 1, data[:4])
    assert (err.reason, err.detail) == ("chunk_digest_mismatch", f"chunk 1 of {'m' * 80!r} does not match the "
                                                                 "length and SHA-256 its carrier lists")


def test_a_chunk_whose_digest_a_carrier_listed_but_whose_length_breaks_the_stated_size_is_refused() -> None:
    """A hostile carrier lists, as the last chunk of a 10-byte file, the digest of 4 bytes: the digest
    matches, but the file would not be its stated size."""
    data = bytes(range(10))
    ref = ref_of(data, chunk_bytes=4)
    lying = {**ref, "chunks": [*ref["chunks"][:2], hashlib.sha256(b"abcd").hexdigest()]}
    err = refusal(files.verify_chunk, lying, 2, b"abcd")
    assert err.reason == "chunk_digest_mismatch"
    short = {**ref, "chunks": [hashlib.sha256(b"ab").hexdigest(), *ref["chunks"][1:]]}
    assert refusal(files.verify_chunk, short, 0, b"ab").reason == "chunk_digest_mismatch"


def chunk_env(header: dict, **fields: object) -> SimpleNamespace:
    base = {"id": CARRIER, "type": "file.chunk", "sender": "ITA", "recipients": ("MEX",),
            "thread": "mla:ITA:R-1", "handling": {"code": "H0"}, "header": header}
    return SimpleNamespace(**{**base, **fields})


HEADER = {"file": CARRIER, "n": 0, "chunk": 0, "chunks": 1, "bytes": 4}


def test_a_chunk_goes_to_one_state_on_a_thread_and_the_refusals_say_so() -> None:
    files.chunk_envelope_rule(chunk_env(HEADER))
    files.chunk_envelope_rule(chunk_env({**HEADER, "chunk": 511, "chunks": 512}))
    for recipients in (("MEX", "IDN"), ("*",), ()):
        err = refusal(files.chunk_envelope_rule, chunk_env(HEADER, recipients=recipients))
        assert (err.reason, err.detail) == ("bad_recipients", "a file chunk goes to one State")
    for thread in (None, ""):
        err = refusal(files.chunk_envelope_rule, chunk_env(HEADER, thread=thread))
        assert (err.reason, err.detail) == ("header_mismatch", "a file chunk travels on its carrier's thread")
    err = refusal(files.chunk_envelope_rule, chunk_env({**HEADER, "chunk": 3, "chunks": 3}))
    assert (err.reason, err.detail) == ("chunk_out_of_range", "chunk 3 of 3")
    err = refusal(files.chunk_envelope_rule, chunk_env({**HEADER, "chunk": 4, "chunks": 3}))
    assert err.detail == "chunk 4 of 3"


def test_a_chunk_whose_length_is_not_the_headers_is_refused_naming_both() -> None:
    header = {**HEADER, "chunk": 1, "chunks": 2, "bytes": 3}
    files.chunk_rule(chunk_env(header), {"data": b"abc"})
    for data in (b"ab", b"abcd"):
        err = refusal(files.chunk_rule, chunk_env(header), {"data": data})
        assert (err.reason, err.detail) == ("header_mismatch", f"the header says 3 bytes, the chunk holds {len(data)}")


def test_the_chunk_rule_checks_the_data_too() -> None:
    header = {**HEADER, "chunk": 1, "chunks": 2, "bytes": 3}
    assert refusal(files.chunk_rule, chunk_env(header), {"data": "abc"}).reason == "chunk_mismatch"
    assert refusal(files.chunk_rule, chunk_env({**header, "bytes": 0}), {"data": b""}).reason == "chunk_too_large"
