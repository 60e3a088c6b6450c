"""A message class's own settings from the node config file (issue 16): `"features": {"person":
{"review_default_years": 2}}` reaches the feature as `ctx.settings`, NodeConfig's fields keep
working, and an unknown feature or setting, a wrong type or a value out of range refuses the start
in one line with exit code 2."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from nodes.app.ceremony import init_federation
from nodes.app.cli import main
from nodes.national.feature import BadFeatureSettings, Feature, discover, resolve_settings
from nodes.national.features.person import issuing
from nodes.national.node import NationalNode
from nodes.plumbing.config import BrokerAddress, NodeConfig, utcnow
from nodes.plumbing.deployment import NODE_CONFIG_FILE, Deployment
from protocol.person import name_entry

NOWHERE = BrokerAddress("127.0.0.1", 1, "unused")  # nothing here connects
WATCH = Feature("watch", settings={"interval": 5.0, "grace": timedelta(hours=1), "rounds": 3, "loud": False,
                                   "label": "w"})


def _config(**features: dict) -> NodeConfig:
    return NodeConfig("MEX", Path("/nonexistent"), "sqlite://", NOWHERE, features=features)


def test_the_file_overrides_the_default_and_nodeconfig_fields_keep_working() -> None:
    assert resolve_settings([WATCH], _config())["watch"] == WATCH.settings
    got = resolve_settings([WATCH], _config(watch={"interval": 2, "grace": 90, "rounds": 7, "loud": True,
                                                    "label": "x"}))["watch"]
    assert got == {"interval": 2.0, "grace": timedelta(seconds=90), "rounds": 7, "loud": True, "label": "x"}
    mla = next(f for f in discover() if f.name == "mla")
    field_set = replace(_config(), mla_due_soon=timedelta(days=9))
    assert resolve_settings([mla], field_set)["mla"]["mla_due_soon"] == timedelta(days=9)
    both = replace(field_set, features={"mla": {"mla_due_soon": 86400}})  # the file's section wins
    assert resolve_settings([mla], both)["mla"]["mla_due_soon"] == timedelta(days=1)


@pytest.mark.parametrize(("features", "words"), [
    ({"weather": {}}, "features.weather: this node has no such feature"),
    ({"watch": {"intervall": 1}}, "features.watch.intervall: no such setting"),
    ({"watch": {"rounds": "7"}}, "features.watch.rounds: int expected"),
    ({"watch": {"rounds": True}}, "features.watch.rounds: int expected"),
    ({"watch": {"loud": 1}}, "features.watch.loud: bool expected"),
    ({"watch": {"grace": "1h"}}, "features.watch.grace: a number of seconds"),
    ({"watch": {"interval": None}}, "features.watch.interval: float expected"),
], ids=["feature", "setting", "str-for-int", "bool-for-int", "int-for-bool", "duration", "null"])
def test_what_the_features_do_not_declare_is_refused(features: dict, words: str) -> None:
    with pytest.raises(BadFeatureSettings) as refused:
        resolve_settings([WATCH], _config(**features))
    assert str(refused.value).startswith(words)


def test_the_person_feature_checks_its_review_years(tmp_path: Path) -> None:
    person = [f for f in discover() if f.name == "person"]
    assert resolve_settings(person, _config(person={"review_default_years": 5}))["person"] == {"review_default_years": 5}
    with pytest.raises(BadFeatureSettings, match=r"review_default_years: 1\.\.5"):
        resolve_settings(person, _config(person={"review_default_years": 9}))


async def test_a_node_issues_its_alerts_with_its_configured_review_default(tmp_path: Path) -> None:
    init_federation(tmp_path / "federation", "settings", ["MEX", "IDN"], utcnow())
    config = NodeConfig("MEX", tmp_path / "federation", f"sqlite:///{tmp_path / 'MEX.db'}", NOWHERE,
                        features={"person": {"review_default_years": 2}})
    node = NationalNode(config)
    try:
        record = {"action": "create", "national_reference": "MX-1", "reported": "2026-03-01",
                  "subject": {"family_name": name_entry("Haddad"), "date_of_birth": "1980"}, "basis": "suspected",
                  "legal_basis": "art. 159", "handling_code": "H2", "recipients": "all"}
        env = await issuing.issue(node.contexts["person"], record)
        assert json.loads(env.body)["review_date"] == "2028-03-01"
        given = await issuing.issue(node.contexts["person"], {**record, "national_reference": "MX-2",
                                                              "review_date": "2027-01-01"})
        assert json.loads(given.body)["review_date"] == "2027-01-01"  # the focal point's own date stays
    finally:
        node.store.engine.dispose()


def test_node_run_refuses_a_bad_node_config_file_in_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    init_federation(tmp_path / "federation", "settings", ["MEX", "IDN"], utcnow())
    Deployment(tmp_path, amqp_port=1).save()
    home = tmp_path / "nodes" / "MEX"
    home.mkdir(parents=True)
    (home / NODE_CONFIG_FILE).write_text(json.dumps({"features": {"person": {"review_default_years": "3"}}}))
    assert main(["node", "run", "--country", "MEX", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "refusing to start: features.person.review_default_years: int expected" in err
    assert str(home / NODE_CONFIG_FILE) in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"feature": {}}))  # a misspelt section
    assert main(["node", "run", "--country", "MEX", "--state-dir", str(tmp_path), "--config", str(other)]) == 2
    assert 'one section, "features"' in capsys.readouterr().err
    assert not (home / "node.db").exists()  # refused before anything was opened
