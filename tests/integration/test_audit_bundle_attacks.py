"""A bundle's maker decides nothing: `somex audit verify` proves every entry itself and requires a
quorum of the directory's witnesses (issue 14, items 1 and 2).

The bundles here are what a hostile hub operator could hand an auditor: genuine signed
checkpoints, and entries made up, altered, duplicated, out of range, or from a second log that
the hub signed alone.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.audit_bundle import verify_bundle
from crypto.note import cosign_note
from nodes.app.cli import main as cli
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from tests.integration.test_audit_store import Log

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def federation(tmp_path_factory):  # noqa: ANN001, ANN201
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "audit-test", ["MEX", "IDN"], NOW)
    return load_federation(path, NOW)


@pytest.fixture
def log(tmp_path, federation) -> Log:  # noqa: ANN001
    built = Log(f"sqlite:///{tmp_path / 'audit.db'}", federation)
    built.grow(100)  # every checkpoint cosigned by both witnesses, IDN and MEX
    yield built
    built.engine.dispose()


def leaf(content: dict) -> str:
    return base64.b64encode(json.dumps(content, separators=(",", ":")).encode()).decode()


def fabricated(index: int) -> dict:
    return {"seq": index, "message_id": "01a20000-0000-7000-8000-ffffffffffff", "type": "mla.request",
            "sender": "ITA", "broker_user": "ITA", "recipients": ["MEX"], "thread": "mla:ITA:forged",
            "digest": "ab" * 32, "kid": None, "verdict": "accepted", "reason": None, "detail": None,
            "received_at": "2026-11-22T12:00:05.000000Z", "header": None}


def verify(bundle: dict, log: Log, **kw):  # noqa: ANN003, ANN201
    return verify_bundle(json.loads(json.dumps(bundle)), log.federation.root_cert, **kw)


def test_a_fabricated_entry_without_proof_is_refused(log: Log) -> None:
    bundle = log.export(thread="case-3")  # a genuine selection: entries 3, 10, 17 ... with proofs
    bundle["entries"].append({"index": 5, "leaf": leaf(fabricated(5))})
    report = verify(bundle, log)
    assert not report.ok
    assert [(f.what, f.index) for f in report.findings] == [("unproven_entry", 5)]


@pytest.mark.parametrize("scope", ["selection", "full"])
def test_a_real_entry_changed_to_rejected_ita_is_refused(log: Log, scope: str) -> None:
    # Entry 37, accepted MEX -> IDN, rewritten to say the hub rejected it and it was meant for ITA;
    # its proof (or the stored leaf hashes of a full export) dropped, and the bundle calling itself
    # whatever lets the old verifier skip the check.
    bundle = log.export(thread="case-2") if scope == "selection" else log.export()
    bundle.pop("leaf_hashes", None)
    bundle["scope"] = {"kind": "selection"}
    item = next(e for e in bundle["entries"] if e["index"] == 37)
    content = json.loads(base64.b64decode(item["leaf"]))
    assert (content["verdict"], content["recipients"]) == ("accepted", ["IDN"])
    content.update(verdict="rejected", reason="policy", recipients=["ITA"])
    item["leaf"] = leaf(content)
    item.pop("proof", None)
    report = verify(bundle, log)
    assert not report.ok and report.first_bad_index == 37 - (37 % 10 if scope == "full" else 0)
    assert 37 not in report.proven
    if scope == "full":  # the checkpoint over [30, 40) no longer recomputes: the bad entry lies there
        assert [f.detail for f in report.findings if f.what == "rewritten_log"] == [
            "the entries do not produce checkpoint 40's root: the first bad entry lies in [30, 40)"]


def test_a_proof_against_no_signed_checkpoint_proves_nothing(log: Log) -> None:
    bundle = log.export(thread="case-3")
    bundle["entries"][0]["size"] = 99  # no checkpoint of size 99 in the bundle
    report = verify(bundle, log)
    assert [(f.what, f.index) for f in report.findings] == [("not_in_log", 3)]


def test_a_duplicate_index_is_refused(log: Log) -> None:
    bundle = log.export()
    genuine = bundle["entries"][37]
    forged = {"index": 37, "leaf": leaf(fabricated(37))}
    bundle["entries"].insert(37, forged)  # the forged copy first, the genuine one after it
    assert bundle["entries"][38] == genuine
    report = verify(bundle, log)
    assert not report.ok
    assert ("duplicate_entry", 37) in [(f.what, f.index) for f in report.findings]


@pytest.mark.parametrize("index", [100, 10**6, -1])
def test_an_index_beyond_every_checkpoint_is_refused(log: Log, index: int) -> None:
    bundle = log.export()
    bundle["entries"].append({"index": index, "leaf": leaf(fabricated(index))})
    report = verify(bundle, log)
    assert [(f.what, f.index) for f in report.findings] == [("out_of_range", index)]


@pytest.mark.parametrize("index", ["5", True, None, 5.0])
def test_an_index_that_is_not_an_integer_is_refused(log: Log, index: object) -> None:
    bundle = log.export(thread="case-3")
    bundle["entries"].append({"index": index, "leaf": leaf(fabricated(5))})
    assert [f.what for f in verify(bundle, log).findings] == ["bad_entry"]


def test_a_bundle_of_garbage_is_a_finding_not_a_crash(log: Log) -> None:
    bundle = log.export(thread="case-3")
    for key, junk in [("entries", [1, "x", {"index": 3, "leaf": 7}]), ("checkpoints", [None, 3]),
                      ("consistency", [{"from": 10, "to": 20, "hashes": "AA=="}]),
                      ("consistency", [{"from": 10, "to": 20, "hashes": ["\u00e9" * 44]}]),
                      ("entries", [{**bundle["entries"][0], "proof": ["\u00e9" * 44]}]),
                      ("leaf_hashes", ["\u00e9" * 44])]:
        broken = {**bundle, key: junk}
        report = verify(broken, log)  # never an exception
        assert report.ok == (key == "leaf_hashes")  # stored hashes only help name an altered entry


# -- witness quorum ----------------------------------------------------------------------------


def test_a_genuine_witnessed_log_passes_with_the_quorum_stated(log: Log) -> None:
    report = verify(log.export(), log)
    assert report.ok, [str(f) for f in report.findings]
    assert (report.quorum_required, report.quorum_met, report.witnessed_size) == (2, 2, 100)
    assert report.witnesses == ["IDN", "MEX"] and len(report.proven) == 100


def test_another_log_of_the_same_size_signed_by_the_hub_alone_fails(tmp_path, federation) -> None:  # noqa: ANN001
    forged = Log(f"sqlite:///{tmp_path / 'forged.db'}", federation)
    forged.grow(100, tag="-rewritten", witnesses=())  # genuinely hub-signed, shown to no witness
    report = verify(forged.export(), forged)
    assert not report.ok and report.witnessed_size is None and report.proven == {}
    assert [f.what for f in report.findings] == ["below_quorum"]
    assert "no checkpoint is cosigned by 2 of the directory's 2 witnesses" in report.findings[0].detail


def test_a_cosignature_by_a_key_outside_the_directory_does_not_count(tmp_path, federation) -> None:  # noqa: ANN001
    forged = Log(f"sqlite:///{tmp_path / 'forged.db'}", federation)
    forged.grow(20, witnesses=("IDN",))
    impostor = Ed25519PrivateKey.generate()  # the hub operator's own key, named MEX
    body = forged.store.checkpoint(20).body
    forged.store.add_cosignature(20, "MEX", cosign_note(body, "MEX", impostor, 1_800_000_000), 1_800_000_000)
    report = verify(forged.export(quorum=0), forged)
    assert report.cosigners[20] == ["IDN"]
    assert [f.what for f in report.findings] == ["below_quorum"]


def test_quorum_can_be_lowered_and_is_stated(tmp_path, federation) -> None:  # noqa: ANN001
    half = Log(f"sqlite:///{tmp_path / 'half.db'}", federation)
    half.grow(30, witnesses=("IDN",))
    bundle = half.export(quorum=1)
    assert [f.what for f in verify(bundle, half).findings] == ["below_quorum"]
    report = verify(bundle, half, quorum=1)
    assert report.ok and (report.quorum_required, report.quorum_met, report.witnessed_size) == (1, 1, 30)
    assert [f.what for f in verify(bundle, half, quorum=3).findings] == ["bad_quorum"]


def test_entries_past_the_newest_witnessed_checkpoint_are_not_proven(log: Log) -> None:
    log.grow(20, witnesses=())  # checkpoints 110 and 120: nobody has cosigned them yet
    assert verify(log.export(), log).ok  # the export stops at checkpoint 100, the newest witnessed
    bundle = log.export(quorum=0)  # cut at 120 instead
    report = verify(bundle, log)
    assert report.witnessed_size == 100
    assert {f.what for f in report.findings} == {"not_witnessed"}
    assert report.first_bad_index == 100 and max(report.proven) == 99


def test_two_roots_for_one_size_are_a_split_view(tmp_path, log: Log, federation) -> None:  # noqa: ANN001
    other = Log(f"sqlite:///{tmp_path / 'other.db'}", federation)
    other.grow(100, tag="-other")
    bundle = log.export()
    bundle["checkpoints"].append(other.export()["checkpoints"][-1])
    report = verify(bundle, log)
    assert ("conflicting_checkpoints", 100) in [(f.what, f.checkpoint) for f in report.findings]


@pytest.fixture
def own_logging():  # noqa: ANN201
    """The CLI configures structlog onto this test's captured stdout: put the previous setup back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_the_cli_states_the_quorum_and_fails_below_it(tmp_path, log: Log, capsys, own_logging) -> None:  # noqa: ANN001
    root = log.federation.path / "root" / "root.crt"
    log.grow(10, witnesses=("IDN",))
    serial = log.federation.directory.serial  # one higher per admission: HUB, then each country
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(log.export(quorum=1)))
    assert cli(["audit", "verify", str(path), "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"witness quorum: 2 of 2 required (IDN, MEX, from directory serial {serial}); met by 2 on checkpoint 100" in out
    assert "FAILED entry 100: not_witnessed" in out
    assert cli(["audit", "verify", str(path), "--root", str(root), "--quorum", "1"]) == 0
    out = capsys.readouterr().out
    assert f"witness quorum: 1 of 2 required (IDN, MEX, from directory serial {serial}); met by 1 on checkpoint 110" in out
    assert "VERIFIED" in out
    assert "#37 accepted note MEX -> IDN thread=case-2" in out
