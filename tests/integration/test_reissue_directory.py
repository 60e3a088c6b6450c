"""A class added after a federation was created reaches its members through `somex federation
reissue` (issue 16): in a federation whose directory was signed without the person-alert types,
`person.alert` is refused as `type_not_allowed` by the sending node and by the hub; once the root
operator reissues the directory and the hub operator publishes it, the same alert is accepted,
delivered and applied, nobody restarted."""

from __future__ import annotations

import pytest

from crypto.signing import sign_envelope
from nodes.app.cli import main
from nodes.national.features.person import store as person_store
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.federation import COUNTRY_TYPES, DIRECTORY_FILE, load_federation
from protocol import envelope as wire
from protocol.errors import ProtocolError
from protocol.person import name_entry
from tests.integration.federation import RunningFederation, eventually, make_federation

pytestmark = pytest.mark.integration
WITHOUT_PERSONS = COUNTRY_TYPES - {"person.alert", "person.hit"}


def _alert(reference: str) -> dict:
    return {"action": "create", "issuer": "MEX", "national_reference": reference,
            "reported": utcnow().date().isoformat(),
            "subject": {"family_name": name_entry("Haddad"), "given_names": name_entry("Mohammed"),
                        "date_of_birth": "1980-05-17", "nationality": "LBY", "sex": "M"},
            "basis": "suspected", "legal_basis": "Ley General de Población art. 159", "handling_code": "H2",
            "recipients": "all"}


@pytest.fixture
async def older(broker, tmp_path, request):  # noqa: ANN001, ANN201
    """MEX and IDN, admitted before person alerts existed."""
    fed = make_federation(broker, tmp_path, request.node.name, countries=["MEX", "IDN"],
                          allowed_types={"MEX": set(WITHOUT_PERSONS), "IDN": set(WITHOUT_PERSONS)})
    await fed.start_all()
    try:
        yield fed
    finally:
        await fed.stop_all()
        fed.delete(broker)


def _replica(fed: RunningFederation, country: str) -> int:
    return person_store.replica_count(fed.nodes[country].store.engine, utcnow().date().isoformat())


async def test_person_alerts_refused_before_the_reissue_are_delivered_after_it(
        older: RunningFederation, capsys) -> None:  # noqa: ANN001
    mex = older.nodes["MEX"]
    with pytest.raises(ProtocolError) as refused:  # the node refuses what the hub would
        mex.build("person.alert", ["*"], body=_alert("MX-1"))
    assert refused.value.reason == "type_not_allowed"
    raw = wire.build(message_id=new_message_id(), type="person.alert", sender="MEX", recipients=["*"],
                     created=utcnow(), ttl=mex.config.message_ttl, body=_alert("MX-1"))
    forced = sign_envelope(raw, older.federation.credentials("MEX").signing_key)
    await older.publish_raw("MEX", wire.encode(forced))  # past its own node: the hub refuses it
    rejected = await eventually(lambda: [m.body for m in older.inbox("MEX", type="hub.rejection")],
                                what="the hub's rejection")
    assert [(r["of"], r["reason"]) for r in rejected] == [(forced.id, "type_not_allowed")]
    assert _replica(older, "IDN") == 0

    home = older.path / "federation"
    assert main(["federation", "reissue", "--root", str(home)]) == 0  # the root operator
    printed = capsys.readouterr().out
    assert "IDN: + person.alert, person.hit" in printed and "MEX: + person.alert, person.hit" in printed
    published = await older.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())  # the hub operator
    serial = load_federation(home, utcnow()).directory.serial
    assert published["kind"] == "directory" and published["serial"] == serial
    await eventually(lambda: all(n.federation.directory.serial == serial for n in older.nodes.values()),
                     what="both nodes applying the reissued directory")

    sent = await mex.send("person.alert", ["*"], body=_alert("MX-1"))
    await eventually(lambda: _replica(older, "IDN") == 1, what="the alert in IDN's replica")
    assert older.nodes["IDN"].store.get(sent.id) is not None  # stored as received, not refused
    assert [m.body for m in older.inbox("MEX", type="hub.rejection") if m.body["of"] == sent.id] == []
