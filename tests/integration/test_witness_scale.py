"""A federation of 190 witnesses (issue 23): checkpoints are served within the 100-signature note
cap, every endpoint answers, exports verify with `somex audit verify`'s function, and the hub's
cosignature storage stays bounded however long it runs. Witness keys are real, in one process."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import shutil
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crypto.audit_bundle import verify_bundle
from crypto.directory import sign_directory
from crypto.keys import SigningKey
from crypto.note import NoteVerifier, cosign_note, verify_note
from crypto.witness import admit_cosignature, directory_witnesses, required_quorum
from crypto.witness_policy import MAX_SERVED_COSIGNATURES, WitnessPolicy
from nodes.hub.api import make_app
from nodes.hub.audit import ACCEPTED, AuditEntry, AuditStore
from nodes.hub.export import export_bundle
from nodes.hub.relay import Hub
from nodes.plumbing.config import HubConfig
from nodes.plumbing.db import make_engine
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from nodes.app.root_operator import reissue_directory
from nodes.plumbing.metrics import Telemetry
from protocol.checkpoint import MAX_SIGNATURES, format_note, parse_note
from protocol.errors import ProtocolError

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MEMBERS = 190
T0 = 1_800_000_000


@pytest.fixture(scope="module")
def federation(tmp_path_factory):  # noqa: ANN001, ANN201
    path = tmp_path_factory.mktemp("fed190") / "federation"
    codes = ["".join(c) for c in itertools.product("ABCDEFGHIJ", "KLMNOPQRST", "UVWXY")][:MEMBERS]
    init_federation(path, "scale-test", codes, NOW)
    return load_federation(path, NOW)


@pytest.fixture
def store(tmp_path, federation) -> AuditStore:  # noqa: ANN001
    creds = federation.credentials("HUB")
    return AuditStore(make_engine(f"sqlite:///{tmp_path / 'audit.db'}"), "somex/scale-test/audit",
                      creds.signing_key, "somex/scale-test/audit")


def _grow(store: AuditStore, n: int) -> int:
    start = store.size
    store.append([AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-11-22T12:00:00.000000Z",
                             message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="AKU",
                             recipients=("BLV",), thread="t", marks_seen=True) for i in range(start, start + n)])
    assert store.sign_checkpoint("2026-11-22T12:00:00.000000Z") is not None
    return store.size


def _cosign_all(store: AuditStore, federation, size: int, timestamp: int) -> None:  # noqa: ANN001
    """What every witness does, and what the hub's _check_cosignature decides, for one checkpoint."""
    directory = federation.directory
    body = store.signed_checkpoint(size).body
    quorum = required_quorum(directory)
    for witness in directory_witnesses(directory):
        signature = cosign_note(body, witness, federation.credentials(witness).signing_key, timestamp)
        rank = admit_cosignature(directory, witness, timestamp, store.latest_cosignature_time(witness))
        store.add_cosignature(size, witness, signature, timestamp, rank, quorum)


async def test_checkpoints_of_190_witnesses_are_served_within_the_note_cap_and_exports_verify(store, federation):
    directory = federation.directory
    assert len(directory_witnesses(directory)) == MEMBERS
    quorum = required_quorum(directory)
    assert quorum == MEMBERS // 2 + 1  # the documented default above 99 witnesses: a majority
    size = _grow(store, 25)
    _cosign_all(store, federation, size, T0)

    note = store.checkpoint(size)
    text = format_note(note)  # raised too_many_signatures before: 1 + 190 signatures
    assert len(parse_note(text).signatures) == MAX_SIGNATURES
    witnesses = directory_witnesses(directory)
    verifiers = [NoteVerifier(w, federation.credentials(w).signing_key.public_key, cosigner=True) for w in witnesses]
    assert verify_note(note, verifiers) == witnesses[:MAX_SERVED_COSIGNATURES]  # the first 99 by policy order

    raw = (federation.path / "directory.signed.json").read_bytes()
    bundle = json.loads(json.dumps(export_bundle(store, raw, quorum=quorum)))
    report = verify_bundle(bundle, federation.root_cert)
    assert report.ok, report.findings
    assert report.quorum_required == quorum and report.witnessed_size == size

    hub = SimpleNamespace(store=store, federation=federation, config=HubConfig(federation.path, "sqlite://"),
                          telemetry=Telemetry(lambda: ()))
    token = federation.credentials("HUB").tokens["auditor"]
    async with TestClient(TestServer(make_app(hub))) as http:  # type: ignore[arg-type]
        served = await http.get("/api/log/checkpoint")
        assert served.status == 200
        assert parse_note((await served.json())["note"].encode()).signatures == note.signatures
        auth = {"Authorization": f"Bearer {token}"}
        entry = await http.get("/api/audit/entries/3", headers=auth)
        assert entry.status == 200, await entry.text()
        exported = await http.get("/api/audit/export", headers=auth)
        assert exported.status == 200, await exported.text()
        assert verify_bundle(await exported.json(), federation.root_cert).ok


def test_cosignature_storage_is_pruned_to_what_the_newest_quorum_checkpoint_needs(store, federation):
    """Cosignatures of checkpoints older than the newest one with its quorum are dropped (the
    consistency proofs in a bundle carry that checkpoint's witnessing back); each witness's newest
    stays findable by key."""
    sizes = []
    for round_ in range(4):
        sizes.append(_grow(store, 10))
        _cosign_all(store, federation, sizes[-1], T0 + 60 * round_)
    assert store.stored_cosignatures() == MEMBERS  # the newest checkpoint's only, not 4 × 190
    assert store.witnessed_sizes() == dict.fromkeys(directory_witnesses(federation.directory), sizes[-1])
    assert store.newest_cosigned(required_quorum(federation.directory)) == sizes[-1]
    assert store.latest_cosignature_time("AKU") == T0 + 180


# -- the hub's check of one cosignature (nodes/hub/relay.py, Hub._check_cosignature) ----------------


@pytest.fixture(scope="module")
def small_federation(tmp_path_factory):  # noqa: ANN001, ANN201
    """Three members; the root states a policy: IDN then MEX witness, both needed, once a minute."""
    path = tmp_path_factory.mktemp("fed3") / "federation"
    init_federation(path, "policy-test", ["FRA", "IDN", "MEX"], NOW)
    current = load_federation(path, NOW).directory
    policy = WitnessPolicy(("IDN", "MEX"), quorum=2, cosign_interval=60)
    root_key = SigningKey.from_pem((path / "root" / "root.key").read_bytes())
    (path / "directory.signed.json").write_bytes(sign_directory(
        dataclasses.replace(current, serial=current.serial + 1, witness_policy=policy), root_key))
    return load_federation(path, NOW)


def test_re_signing_the_directory_keeps_its_witness_policy(tmp_path, small_federation):
    path = tmp_path / "federation"
    shutil.copytree(small_federation.path, path)
    reissued = reissue_directory(path, NOW)
    assert reissued.serial == small_federation.directory.serial + 1
    assert load_federation(path, NOW).directory.witness_policy == small_federation.directory.witness_policy


def _hub(federation, db_url: str) -> Hub:  # noqa: ANN001
    return Hub(HubConfig(federation.path, db_url), federation)


def _cosignature(hub: Hub, federation, witness: str, timestamp: int) -> dict:  # noqa: ANN001
    size = _grow(hub.store, 5)
    body = hub.store.signed_checkpoint(size).body
    line = cosign_note(body, witness, federation.credentials(witness).signing_key, timestamp).line()
    return {"size": size, "signature": line.rstrip("\n")}


def test_the_hub_stores_cosignatures_of_the_policy_witnesses_once_per_window(tmp_path, small_federation):
    hub = _hub(small_federation, f"sqlite:///{tmp_path / 'hub.db'}")
    first = hub._check_cosignature("MEX", _cosignature(hub, small_federation, "MEX", T0))
    assert first[4:] == (1, 2)  # MEX is second in policy order; the policy's quorum
    hub.store.add_cosignature(*first)
    with pytest.raises(ProtocolError) as stranger:  # FRA is a member, not a witness under the policy
        hub._check_cosignature("FRA", _cosignature(hub, small_federation, "FRA", T0))
    assert stranger.value.reason == "not_a_witness"
    with pytest.raises(ProtocolError) as again:  # each cosignature is a log entry: one a minute
        hub._check_cosignature("MEX", _cosignature(hub, small_federation, "MEX", T0 + 30))
    assert again.value.reason == "cosignature_too_frequent"
    hub.store.add_cosignature(*hub._check_cosignature("MEX", _cosignature(hub, small_federation, "MEX", T0 + 60)))
    assert hub.store.latest_cosignature_time("MEX") == T0 + 60


def test_a_cosignature_time_past_2038_is_stored_on_postgresql(postgres, small_federation):
    """cosignature/v1 times run to 2^63 - 1; a 32-bit column made the hub's batch fail on PostgreSQL."""
    hub = _hub(small_federation, postgres.create_database("cosign_time_2038"))
    late = 2**40
    hub.store.add_cosignature(*hub._check_cosignature("IDN", _cosignature(hub, small_federation, "IDN", late)))
    assert hub.store.latest_cosignature_time("IDN") == late
    # A batch on a newer checkpoint: IDN's latest moves, MEX's is new, the quorum of 2 prunes the old one.
    body = _cosignature(hub, small_federation, "IDN", late + 60)
    mex = cosign_note(hub.store.signed_checkpoint(body["size"]).body, "MEX",
                      small_federation.credentials("MEX").signing_key, late + 60).line().rstrip("\n")
    hub.store.add_cosignatures([hub._check_cosignature("IDN", body),
                                hub._check_cosignature("MEX", {"size": body["size"], "signature": mex})])
    assert hub.store.witnessed_sizes() == {"IDN": body["size"], "MEX": body["size"]}
    assert hub.store.newest_cosigned(2) == body["size"] and hub.store.stored_cosignatures() == 2


# -- the witness's side (nodes/national/witness.py) ------------------------------------------------


def test_a_node_cosigns_only_as_a_policy_witness_and_once_per_window(tmp_path, small_federation, monkeypatch):
    from nodes.national import witness as national_witness
    from nodes.national.store import metadata as node_tables

    hub = _hub(small_federation, f"sqlite:///{tmp_path / 'hub.db'}")
    clock = [datetime.fromtimestamp(T0, UTC)]
    monkeypatch.setattr(national_witness, "utcnow", lambda: clock[0])

    def node(country: str) -> SimpleNamespace:
        return SimpleNamespace(federation=small_federation, country=country,
                               creds=small_federation.credentials(country),
                               build=lambda type_, recipients, body: (type_, recipients, body))

    def offer(country: str, engine) -> list:  # noqa: ANN001
        size = _grow(hub.store, 3)
        proofs = [{"from": m, "hashes": [base64.b64encode(h).decode() for h in hub.store.consistency_proof(m, size)]}
                  for m in hub.store.checkpoint_sizes(size)[:-1]]
        body = {"note": format_note(hub.store.signed_checkpoint(size)).decode(), "proofs": proofs}
        with engine.begin() as conn:
            return list(national_witness.witness_checkpoint(node(country), conn, SimpleNamespace(id="m"), body))

    engines = {c: make_engine(f"sqlite:///{tmp_path / f'{c}.db'}") for c in ("FRA", "MEX")}
    for engine in engines.values():
        node_tables.create_all(engine)
    assert offer("FRA", engines["FRA"]) == []  # a member the policy does not name does not cosign
    assert [m[0] for m in offer("MEX", engines["MEX"])] == ["witness.cosign"]
    clock[0] += timedelta(seconds=30)
    assert offer("MEX", engines["MEX"]) == []  # the same 60 s window: no second log entry
    clock[0] += timedelta(seconds=30)
    cosigned = offer("MEX", engines["MEX"])  # the next window, checked against the last one it cosigned
    assert [m[0] for m in cosigned] == ["witness.cosign"]
    assert hub._check_cosignature("MEX", cosigned[0][2])[1] == "MEX"  # and the hub admits it
