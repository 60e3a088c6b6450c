"""crypto/audit_bundle.py without I/O: what a hostile hub operator's bundle can and cannot make an auditor believe.

Every bundle here is built from the real primitives (root-signed directory, hub-signed checkpoint
notes, witness cosignatures, RFC 6962 proofs); each test changes one thing and names the finding.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from crypto.audit_bundle import FORMAT, Finding, Report, verify_bundle
from crypto.directory import Directory, NodeEntry, sign_directory
from crypto.keys import SealingKey, SigningKey
from crypto.merkle import CompactRange, MemoryNodeStore, consistency_proof, inclusion_proof, leaf_hash
from crypto.note import CosignatureSigner, NoteSigner
from crypto.pki import create_root, issue_certificate
from protocol.checkpoint import Checkpoint, NoteSignature, SignedNote, format_note, log_origin

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT_KEY, ROOT_CERT = create_root("bundle-unit", NOW)
OTHER_ROOT_KEY, OTHER_ROOT_CERT = create_root("bundle-unit", NOW)
KEYS = {n: SigningKey.generate() for n in ("HUB", "IDN", "MEX")}
ORIGIN = log_origin("bundle-unit")
WITNESSES = ("IDN", "MEX")


def _directory(root_key: SigningKey = ROOT_KEY, root_cert=ROOT_CERT) -> str:  # noqa: ANN001
    nodes = {n: NodeEntry(n, (issue_certificate(root_key, root_cert, n, k.public_key, NOW, days=30),),
                          n.lower(), frozenset({"note"}), SealingKey.generate().public_bytes())
             for n, k in KEYS.items()}
    directory = Directory("bundle-unit", 4, NOW - timedelta(minutes=5), NOW + timedelta(days=30), nodes)
    return sign_directory(directory, root_key).decode()


DIRECTORY = _directory()


def content(index: int, **change) -> dict:  # noqa: ANN003
    return {"seq": index, "type": "note", "sender": "MEX", "verdict": "accepted", **change}


def leaf_bytes(entry: dict) -> bytes:
    return json.dumps(entry, separators=(",", ":")).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Log:
    """A hub's log of `size` entries and the signed, cosigned checkpoints it would export."""

    size: int = 8
    tag: str = ""
    store: MemoryNodeStore = field(default_factory=MemoryNodeStore)
    roots: dict[int, bytes] = field(default_factory=dict)
    leaves: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        tree = CompactRange()
        for i in range(self.size):
            self.leaves.append(leaf_bytes(content(i, tag=self.tag) if self.tag else content(i)))
            self.store.put_many(tree.append(leaf_hash(self.leaves[-1])))
            self.roots[tree.size] = tree.root()

    def note(self, size: int, cosigners: tuple[str, ...] = WITNESSES, hub: SigningKey | None = None,
             origin: str = ORIGIN) -> str:
        body = Checkpoint(origin, size, self.roots[size]).body()
        signatures = [NoteSigner(origin, hub or KEYS["HUB"]).sign(body)]
        signatures += [CosignatureSigner(w, KEYS[w]).cosign(body, 1_790_000_000) for w in cosigners]
        return format_note(SignedNote(body, tuple(signatures))).decode()

    def entry(self, index: int, proof_at: int | None = None) -> dict:
        item = {"index": index, "leaf": b64(self.leaves[index])}
        if proof_at is not None:
            item |= {"size": proof_at, "proof": [b64(h) for h in inclusion_proof(index, proof_at, self.store)]}
        return item

    def bundle(self, sizes: tuple[int, ...] = (4, 8), entries: list[dict] | None = None, **members) -> dict:  # noqa: ANN003
        sizes = sorted(sizes)
        return {"format": FORMAT, "origin": ORIGIN, "directory": DIRECTORY,
                "checkpoints": [self.note(s) for s in sizes],
                "consistency": [{"from": a, "to": b, "hashes": [b64(h) for h in consistency_proof(a, b, self.store)]}
                                for a, b in zip(sizes, sizes[1:])],
                "entries": [self.entry(i) for i in range(self.size)] if entries is None else entries,
                **members}


LOG = Log()


def verify(bundle: object, **kw) -> Report:  # noqa: ANN003
    return verify_bundle(json.loads(json.dumps(bundle)), ROOT_CERT, **kw)


def findings(report: Report) -> list[tuple[str, int | None, int | None]]:
    return [(f.what, f.index, f.checkpoint) for f in report.findings]


# -- what a genuine bundle proves -------------------------------------------------------------------


def test_a_whole_log_recomputed_from_index_zero_is_proven_and_witnessed() -> None:
    report = verify(LOG.bundle())
    assert report.ok and report.findings == []
    assert report.origin == ORIGIN
    assert (report.entries, report.checkpoints, report.tree_size) == (8, 2, 8)
    assert report.witnesses == ["IDN", "MEX"] and report.directory_serial == 4
    assert report.quorum_required == 2 and report.witnessed_size == 8 and report.quorum_met == 2
    assert report.cosigners == {4: ["IDN", "MEX"], 8: ["IDN", "MEX"]}
    assert report.proven == {i: content(i) for i in range(8)}
    assert report.first_bad_index is None


def test_a_selection_with_inclusion_proofs_is_proven_entry_by_entry() -> None:
    report = verify(LOG.bundle(entries=[LOG.entry(2, proof_at=4), LOG.entry(6, proof_at=8)]))
    assert report.ok, report.findings
    assert report.proven == {2: content(2), 6: content(6)}


def test_a_bundle_without_an_origin_member_takes_the_directorys() -> None:
    bundle = LOG.bundle()
    del bundle["origin"]
    assert verify(bundle).ok


# -- the bundle, its directory and the quorum ---------------------------------------------------------


@pytest.mark.parametrize("bundle", [[], "x", {"format": "somex-audit-bundle/v0"}, {}])
def test_anything_but_a_bundle_of_this_format_is_refused(bundle: object) -> None:
    report = verify(bundle)
    assert findings(report) == [("bad_format", None, None)]
    assert str(report.findings[0]) == f"bundle: bad_format: not a {FORMAT} bundle"
    assert not report.ok


@pytest.mark.parametrize("directory", [_directory(OTHER_ROOT_KEY, OTHER_ROOT_CERT), None, "{}", 7])
def test_a_directory_not_signed_by_the_auditors_root_is_refused(directory: object) -> None:
    bundle = LOG.bundle(directory=directory)
    report = verify(bundle)
    assert findings(report) == [("bad_directory", None, None)]
    assert report.findings[0].detail.startswith("directory not signed by this root: ")
    assert report.proven == {}


def test_a_missing_directory_is_refused() -> None:
    bundle = LOG.bundle()
    del bundle["directory"]
    assert findings(verify(bundle)) == [("bad_directory", None, None)]


@pytest.mark.parametrize("quorum", [3, -1, True, "2"])
def test_a_quorum_above_the_witnesses_or_not_a_count_is_refused(quorum: object) -> None:
    report = verify(LOG.bundle(), quorum=quorum)
    assert [f.what for f in report.findings] == ["bad_quorum"]
    assert report.findings[0].detail == (f"a quorum is 0..2 (the directory's witnesses, at most 99 per served "
                                         f"checkpoint), not {quorum!r}")


def test_a_bundle_naming_another_log_is_flagged() -> None:
    report = verify(LOG.bundle(origin="somex/other/audit"))
    assert findings(report) == [("wrong_origin", None, None)]
    assert report.findings[0].detail == ("the bundle names log 'somex/other/audit', "
                                         f"the directory's is {ORIGIN!r}")


# -- checkpoints ------------------------------------------------------------------------------------


def test_a_checkpoint_of_another_log_is_not_counted() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"].append(LOG.note(6, origin="somex/other/audit"))
    report = verify(bundle)
    assert findings(report) == [("wrong_origin", None, 6)]
    assert report.findings[0].detail == "somex/other/audit"
    assert report.checkpoints == 2 and report.proven == {i: content(i) for i in range(8)}


@pytest.mark.parametrize("signer", ["MEX", "none"])
def test_a_checkpoint_not_signed_by_the_hubs_key_is_not_counted(signer: str) -> None:
    bundle = LOG.bundle()
    forged = LOG.note(6, hub=KEYS["MEX"]) if signer == "MEX" else LOG.note(6, hub=SigningKey.generate())
    bundle["checkpoints"].append(forged)
    report = verify(bundle)
    assert findings(report) == [("bad_checkpoint_signature", None, 6)]
    assert report.checkpoints == 2 and 6 not in report.cosigners


def test_without_one_valid_checkpoint_nothing_is_proven() -> None:
    bundle = LOG.bundle(sizes=(8,))
    bundle["checkpoints"] = [LOG.note(8, hub=KEYS["MEX"]), "not a note", 42]
    report = verify(bundle)
    assert [f.what for f in report.findings] == ["bad_checkpoint_signature", "bad_checkpoint", "bad_checkpoint",
                                                 "no_checkpoint"]
    assert report.findings[2].detail == "a checkpoint is a signed note text"
    assert report.findings[3].detail == "the bundle has no valid signed checkpoint"
    assert report.proven == {} and report.tree_size == 0


@pytest.mark.parametrize("checkpoints", [None, "x", []])
def test_a_bundle_without_a_list_of_checkpoints_has_no_checkpoint(checkpoints: object) -> None:
    assert findings(verify(LOG.bundle(checkpoints=checkpoints))) == [("no_checkpoint", None, None)]


def test_two_roots_signed_for_one_size_are_a_split_view() -> None:
    other = Log(tag="split")
    bundle = LOG.bundle()
    bundle["checkpoints"].append(other.note(8))
    report = verify(bundle)
    assert findings(report) == [("conflicting_checkpoints", None, 8)]
    assert report.checkpoints == 2 and report.proven == {i: content(i) for i in range(8)}


def test_the_same_checkpoint_twice_merges_its_cosigners() -> None:
    bundle = LOG.bundle(sizes=(8,))
    bundle["checkpoints"] = [LOG.note(8, cosigners=("IDN",)), LOG.note(8, cosigners=("MEX",))]
    report = verify(bundle)
    assert report.ok and report.cosigners == {8: ["IDN", "MEX"]} and report.checkpoints == 1


def test_a_cosignature_that_does_not_verify_is_flagged_on_its_checkpoint() -> None:
    bundle = LOG.bundle()
    note = LOG.note(8)
    lines = note.split("\n")
    mex = next(i for i, line in enumerate(lines) if line.startswith("\u2014 MEX "))
    name, sig = lines[mex].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    lines[mex] = f"{name} {b64(bytes(raw))}"
    bundle["checkpoints"][1] = "\n".join(lines)
    report = verify(bundle)
    assert ("bad_cosignature", None, 8) in findings(report)
    assert report.witnessed_size == 4


def test_checkpoints_that_do_not_extend_each_other_are_a_rewritten_log() -> None:
    other = Log(tag="rewritten")
    bundle = LOG.bundle()
    bundle["checkpoints"][0] = other.note(4)
    report = verify(bundle, quorum=0)
    inconsistent = [f for f in report.findings if f.what == "inconsistent_checkpoints"]
    assert [(f.index, f.checkpoint) for f in inconsistent] == [(None, 8)]
    assert inconsistent[0].detail.startswith("checkpoint 8 does not extend checkpoint 4 (")
    assert inconsistent[0].detail.endswith("): the log was rewritten")


@pytest.mark.parametrize("consistency", [None, [], [{"from": 4, "to": 8, "hashes": ["not base64!"]}], ["x"]])
def test_a_missing_or_unreadable_consistency_proof_proves_no_extension(consistency: object) -> None:
    report = verify(LOG.bundle(consistency=consistency))
    assert ("inconsistent_checkpoints", None, 8) in findings(report)


# -- entries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [{"leaf": "x"}, {"index": "3", "leaf": "x"}, {"index": True, "leaf": "x"},
                                  {"index": 2.0, "leaf": "x"}, "entry"])
def test_an_entry_without_an_integer_index_is_refused(item: object) -> None:
    report = verify(LOG.bundle(entries=[item]))
    assert findings(report) == [("bad_entry", None, None)]
    assert report.findings[0].detail == "item 0 has no integer index"
    assert report.entries == 1


def test_two_entries_at_one_index_are_refused() -> None:
    forged = {"index": 3, "leaf": b64(leaf_bytes(content(3, sender="ITA")))}
    report = verify(LOG.bundle(entries=[LOG.entry(3, proof_at=8), forged]))
    assert findings(report) == [("duplicate_entry", 3, None)]
    assert report.proven == {3: content(3)}


@pytest.mark.parametrize("index", [8, 9, -1])
def test_an_entry_beyond_every_signed_checkpoint_is_out_of_range(index: int) -> None:
    report = verify(LOG.bundle(entries=[{"index": index, "leaf": b64(leaf_bytes(content(index)))}]))
    assert findings(report) == [("out_of_range", index, None)]
    assert report.findings[0].detail == f"no signed checkpoint covers index {index} (the largest has 8 entries)"


@pytest.mark.parametrize("leaf", ["not base64!", b64(b"not json"), b64(b"[1]"), None])
def test_an_entry_whose_leaf_is_not_base64_json_is_refused(leaf: object) -> None:
    report = verify(LOG.bundle(entries=[{"index": 1, "leaf": leaf}]))
    assert findings(report) == [("bad_entry", 1, None)]
    assert report.findings[0].detail == "leaf is not base64 JSON"


def test_an_entry_without_a_leaf_is_refused() -> None:
    assert findings(verify(LOG.bundle(entries=[{"index": 1}]))) == [("bad_entry", 1, None)]


def test_an_entry_moved_to_another_position_is_misplaced() -> None:
    report = verify(LOG.bundle(entries=[{"index": 5, "leaf": b64(LOG.leaves[6])}]))
    assert ("misplaced_entry", 5, None) in findings(report)
    detail = next(f.detail for f in report.findings if f.what == "misplaced_entry")
    assert detail == "position 5 holds the entry numbered 6 (reordered or moved)"


@pytest.mark.parametrize("size", [5, "8", True, None])
def test_a_proof_against_no_signed_checkpoint_proves_nothing(size: object) -> None:
    item = LOG.entry(2, proof_at=8) | {"size": size}
    report = verify(LOG.bundle(entries=[item]))
    assert findings(report) == [("not_in_log", 2, None)]
    assert report.findings[0].detail.startswith("inclusion proof fails (unknown_checkpoint")
    assert report.proven == {}


@pytest.mark.parametrize("proof", [[], ["not base64!"], "x"])
def test_a_wrong_inclusion_proof_proves_nothing(proof: object) -> None:
    item = LOG.entry(2, proof_at=8) | {"proof": proof}
    report = verify(LOG.bundle(entries=[item]))
    assert findings(report) == [("not_in_log", 2, None)]
    assert report.proven == {}


def test_a_fabricated_entry_with_another_entrys_proof_is_not_in_the_log() -> None:
    forged = LOG.entry(2, proof_at=8) | {"leaf": b64(leaf_bytes(content(2, sender="ITA")))}
    report = verify(LOG.bundle(entries=[forged]))
    assert findings(report) == [("not_in_log", 2, None)]


def test_an_entry_without_proof_outside_the_recomputed_run_is_unproven() -> None:
    report = verify(LOG.bundle(entries=[LOG.entry(5)]))
    assert findings(report) == [("unproven_entry", 5, None)]
    assert report.proven == {}
    assert report.first_bad_index == 5


def test_a_run_from_zero_with_a_hole_names_the_missing_position() -> None:
    entries = [LOG.entry(i) for i in range(8) if i != 3]
    report = verify(LOG.bundle(entries=entries))
    assert [f for f in findings(report) if f[0] == "missing_entry"] == [("missing_entry", 3, None)]
    assert [f.index for f in report.findings if f.what == "unproven_entry"] == [0, 1, 2, 4, 5, 6, 7]
    assert report.first_bad_index == 3  # the hole, not the entries left unproven by it


def test_a_run_from_zero_ending_short_of_a_checkpoint_proves_only_up_to_the_last_checkpoint_it_reaches() -> None:
    report = verify(LOG.bundle(entries=[LOG.entry(i) for i in range(6)]))
    assert findings(report) == [("unproven_entry", 4, None), ("unproven_entry", 5, None)]
    assert sorted(report.proven) == [0, 1, 2, 3]


def test_many_unproven_entries_are_named_up_to_ten_then_counted() -> None:
    log = Log(size=16)
    bundle = log.bundle(sizes=(16,), entries=[log.entry(i) for i in range(1, 16)])
    report = verify(bundle)
    unproven = [f for f in report.findings if f.what == "unproven_entry"]
    assert [f.index for f in unproven] == [None, *range(1, 11)]  # the count sorts first (no index)
    assert unproven[0].detail == "5 more entries, up to 15"
    assert str(unproven[0]) == "bundle: unproven_entry: 5 more entries, up to 15"


def test_an_altered_entry_is_localised_by_the_stored_leaf_hashes_and_the_log_is_rewritten() -> None:
    entries = [LOG.entry(i) for i in range(8)]
    entries[2] = {"index": 2, "leaf": b64(leaf_bytes(content(2, verdict="rejected")))}
    stored = [b64(leaf_hash(leaf)) for leaf in LOG.leaves]
    report = verify(LOG.bundle(entries=entries, leaf_hashes=stored))
    assert ("altered_entry", 2, None) in findings(report)
    assert report.first_bad_index == 2
    assert 2 not in report.proven


def test_an_altered_entry_without_leaf_hashes_breaks_the_recomputed_checkpoint() -> None:
    entries = [LOG.entry(i) for i in range(8)]
    entries[2] = {"index": 2, "leaf": b64(leaf_bytes(content(2, verdict="rejected")))}
    report = verify(LOG.bundle(entries=entries))
    rewritten = [f for f in report.findings if f.what == "rewritten_log"]
    assert [(f.index, f.checkpoint) for f in rewritten] == [(0, 4)]
    assert rewritten[0].detail == "the entries do not produce checkpoint 4's root: the first bad entry lies in [0, 4)"
    assert str(rewritten[0]).startswith("entry 0: rewritten_log: ")
    assert report.proven == {}


def test_a_break_after_the_first_checkpoint_keeps_the_entries_before_it() -> None:
    entries = [LOG.entry(i) for i in range(8)]
    entries[6] = {"index": 6, "leaf": b64(leaf_bytes(content(6, verdict="rejected")))}
    report = verify(LOG.bundle(entries=entries))
    assert ("rewritten_log", 4, 8) in findings(report)
    assert sorted(report.proven) == [0, 1, 2, 3]


def test_unreadable_stored_leaf_hashes_only_lose_the_localisation() -> None:
    assert verify(LOG.bundle(leaf_hashes=["not base64!"])).ok
    assert verify(LOG.bundle(leaf_hashes=[b64(leaf_hash(leaf)) for leaf in LOG.leaves])).ok


# -- the witness quorum ------------------------------------------------------------------------------


def test_a_log_no_quorum_cosigned_proves_nothing() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"] = [LOG.note(4, cosigners=("IDN",)), LOG.note(8, cosigners=())]
    report = verify(bundle)
    assert findings(report) == [("below_quorum", None, None)]
    assert report.findings[0].detail.startswith("no checkpoint is cosigned by 2 of the directory's 2 witnesses "
                                                "(at most 1, on checkpoint 4): ")
    assert report.proven == {} and report.witnessed_size is None and report.quorum_met == 0


def test_a_lowered_quorum_accepts_fewer_cosigners() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"] = [LOG.note(4, cosigners=("IDN",)), LOG.note(8, cosigners=("IDN",))]
    report = verify(bundle, quorum=1)
    assert report.ok and report.witnessed_size == 8 and report.quorum_met == 1 and report.quorum_required == 1


def test_entries_beyond_the_newest_witnessed_checkpoint_are_not_witnessed() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"][1] = LOG.note(8, cosigners=("MEX",))
    report = verify(bundle)
    assert findings(report) == [("not_witnessed", i, None) for i in range(4, 8)]
    assert report.findings[0].detail == "beyond checkpoint 4, the newest the quorum cosigned"
    assert report.witnessed_size == 4 and sorted(report.proven) == [0, 1, 2, 3]
    assert report.first_bad_index == 4  # only collateral findings: the first of them


def test_findings_are_ordered_by_entry_then_checkpoint() -> None:
    report = Report(findings=[Finding("a", "", index=5), Finding("b", "", checkpoint=8), Finding("c", "", index=1)])
    assert report.first_bad_index == 1
    assert str(Finding("x", "why", checkpoint=8)) == "checkpoint 8: x: why"
    assert str(Finding("x", "why", index=0)) == "entry 0: x: why"
    bundle = LOG.bundle(entries=[LOG.entry(6), LOG.entry(5)])
    bundle["checkpoints"].append(LOG.note(6, origin="somex/other/audit"))
    assert findings(verify(bundle)) == [("wrong_origin", None, 6), ("unproven_entry", 5, None),
                                        ("unproven_entry", 6, None)]


# -- what the auditor reads, and that one bad item never hides the items after it ---------------------


def test_a_bad_checkpoint_first_in_the_list_does_not_hide_the_good_ones_after_it() -> None:
    other = Log(tag="split")
    bundle = LOG.bundle()
    bundle["checkpoints"] = [LOG.note(8, origin="somex/other/audit"), LOG.note(8), other.note(8), LOG.note(4)]
    report = verify(bundle)
    assert findings(report) == [("wrong_origin", None, 8), ("conflicting_checkpoints", None, 8)]
    assert report.findings[1].detail == ("the hub signed two different roots for this size: a split view or a "
                                         "rewritten log")
    assert report.checkpoints == 2 and report.proven == {i: content(i) for i in range(8)}


def test_bad_entries_first_in_the_list_do_not_hide_the_good_ones_after_them() -> None:
    entries = [{"index": "0"}, {"index": 9, "leaf": "x"}, {"index": 2, "leaf": "not base64!"},
               LOG.entry(2, proof_at=8), {"index": 2, "leaf": b64(LOG.leaves[2])}, LOG.entry(6, proof_at=8)]
    report = verify(LOG.bundle(entries=entries))
    assert findings(report) == [("bad_entry", None, None), ("bad_entry", 2, None), ("duplicate_entry", 2, None),
                                ("out_of_range", 9, None)]
    assert report.findings[2].detail == "the bundle holds two entries at this index"
    assert report.proven == {2: content(2), 6: content(6)}


def test_a_long_origin_or_sequence_number_is_cut_short_in_the_finding() -> None:
    long = "somex/" + "x" * 200
    report = verify(LOG.bundle(origin=long))
    assert report.findings[0].detail == f"the bundle names log {long[:80]!r}, the directory's is {ORIGIN!r}"
    bundle = LOG.bundle()
    bundle["checkpoints"].append(LOG.note(6, origin=long))
    assert [f.detail for f in verify(bundle).findings] == [long[:80]]
    moved = {"index": 3, "leaf": b64(leaf_bytes(content(3, seq="9" * 40)))}
    detail = next(f.detail for f in verify(LOG.bundle(entries=[moved])).findings if f.what == "misplaced_entry")
    assert detail == f"position 3 holds the entry numbered {'9' * 24} (reordered or moved)"


def test_each_signature_finding_says_what_failed() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"].append(LOG.note(6, hub=SigningKey.generate()))
    assert [f.detail for f in verify(bundle).findings] == ["unsigned: no signature by the hub's key"]
    hub = NoteSigner(ORIGIN, KEYS["HUB"])
    body = Checkpoint(ORIGIN, 6, LOG.roots[6]).body()
    forged = SignedNote(body, (NoteSignature(hub.name, hub.key_id, hub.sign(body).sig[::-1]),))
    bundle["checkpoints"][-1] = format_note(forged).decode()
    assert [f.detail for f in verify(bundle).findings] == [
        f"bad_note_signature: the signature of {ORIGIN}+{hub.key_id.hex()} does not verify"]


def test_a_bad_cosignature_says_whose() -> None:
    bundle = LOG.bundle()
    body = Checkpoint(ORIGIN, 8, LOG.roots[8]).body()
    mex = CosignatureSigner("MEX", KEYS["MEX"])
    wrong = mex.cosign(Checkpoint(ORIGIN, 4, LOG.roots[4]).body(), 1_790_000_000)
    note = SignedNote(body, (NoteSigner(ORIGIN, KEYS["HUB"]).sign(body), wrong))
    bundle["checkpoints"][1] = format_note(note).decode()
    bad = [f for f in verify(bundle).findings if f.what == "bad_cosignature"]
    assert len(bad) == 1 and bad[0].detail.startswith("bad_cosignature: ") and "MEX" in bad[0].detail


@pytest.mark.parametrize(("consistency", "why"), [
    (None, "empty_proof"),  # a proof error shows its reason code alone
    ([{"from": 4, "to": 8, "hashes": ["not base64!"]}], "proof hash is not base64"),
    ([{"from": 4, "to": 8, "hashes": 5}], "a list of base64 strings was expected"),
])
def test_a_missing_or_unreadable_consistency_proof_says_why(consistency: object, why: str) -> None:
    report = verify(LOG.bundle(consistency=consistency))
    detail = next(f.detail for f in report.findings if f.what == "inconsistent_checkpoints")
    assert detail == f"checkpoint 8 does not extend checkpoint 4 ({why}): the log was rewritten"


@pytest.mark.parametrize(("proof", "why"), [
    ([], "bad_length"),  # a proof error shows its reason code alone
    (["not base64!"], "proof hash is not base64"),
    (5, "a list of base64 strings was expected"),
    ([5], "a list of base64 strings was expected"),
])
def test_an_unreadable_inclusion_proof_says_why(proof: object, why: str) -> None:
    report = verify(LOG.bundle(entries=[LOG.entry(2, proof_at=8) | {"proof": proof}]))
    assert [f.what for f in report.findings] == ["not_in_log"]
    assert report.findings[0].detail == f"inclusion proof fails ({why})"


def test_a_proof_naming_size_true_is_not_a_proof_at_size_one() -> None:
    log = Log(size=8)
    bundle = log.bundle(sizes=(1, 8), entries=[log.entry(0, proof_at=1) | {"size": True}])
    report = verify(bundle)
    assert findings(report) == [("not_in_log", 0, None)]


def test_a_bundle_without_entries_proves_nothing_and_finds_nothing() -> None:
    for entries in (None, {"index": 0}):
        bundle = LOG.bundle()
        bundle["entries"] = entries
        report = verify(bundle)
        assert report.ok and report.entries == 0 and report.proven == {}


@pytest.mark.parametrize(("present", "gap"), [((0, 2, 3), 1), ((0, 1, 2, 3, 5), 4)])
def test_a_hole_right_after_a_proven_run_is_named(present: tuple, gap: int) -> None:
    report = verify(LOG.bundle(entries=[LOG.entry(i) for i in present]))
    missing = [f for f in report.findings if f.what == "missing_entry"]
    assert [f.index for f in missing] == [gap]
    assert missing[0].detail == ("no entry at this position, so the entries after it cannot be recomputed "
                                 "into a checkpoint")
    unproven = [f for f in report.findings if f.what == "unproven_entry"]
    assert unproven[0].detail == ("no inclusion proof, and not part of a recomputed tree that equals a signed "
                                  "checkpoint")


def test_ten_unproven_entries_are_all_named_and_not_counted() -> None:
    log = Log(size=16)
    report = verify(log.bundle(sizes=(16,), entries=[log.entry(i) for i in range(1, 11)]))
    assert [f.index for f in report.findings if f.what == "unproven_entry"] == list(range(1, 11))


def test_an_altered_entry_says_what_the_log_committed_to() -> None:
    entries = [LOG.entry(i) for i in range(8)]
    entries[2] = {"index": 2, "leaf": b64(leaf_bytes(content(2, verdict="rejected")))}
    report = verify(LOG.bundle(entries=entries, leaf_hashes=[b64(leaf_hash(leaf)) for leaf in LOG.leaves]))
    altered = next(f for f in report.findings if f.what == "altered_entry")
    assert altered.detail == "the entry's content does not match the leaf hash the log committed to"


def test_findings_sort_by_entry_then_checkpoint_size_in_the_order_they_were_found() -> None:
    log = Log(size=8)
    bundle = log.bundle(sizes=(8,), entries=[{"index": -1, "leaf": "x"}])
    bundle["checkpoints"] = [log.note(8, cosigners=("IDN",)), log.note(6, origin="somex/o/audit"),
                             log.note(1, origin="somex/o/audit")]
    report = verify(bundle)
    # index -1 (a bad index) sorts with the findings of no entry; ties keep the order they were found in
    assert findings(report) == [("out_of_range", -1, None), ("below_quorum", None, None),
                                ("wrong_origin", None, 1), ("wrong_origin", None, 6)]


def test_a_quorum_of_zero_trusts_the_hubs_signature_alone_and_all_witnesses_may_be_asked_explicitly() -> None:
    bundle = LOG.bundle()
    bundle["checkpoints"] = [LOG.note(4, cosigners=()), LOG.note(8, cosigners=())]
    report = verify(bundle, quorum=0)
    assert report.ok and report.quorum_required == 0 and report.witnessed_size == 8
    assert findings(verify(bundle, quorum=2)) == [("below_quorum", None, None)]
    assert verify(LOG.bundle(), quorum=2).ok
