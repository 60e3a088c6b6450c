"""The OpenAPI document at /api/openapi.json describes exactly the routes node and hub serve, and
unknown API routes answer in the API's JSON error shape."""

from __future__ import annotations

import re

import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from nodes.plumbing.openapi import TITLE, openapi_document
from tests.integration.federation import RunningFederation

pytestmark = pytest.mark.integration

_METHODS = {"get", "post", "put", "patch", "delete", "options", "trace"}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route, `{id:\\d+}` written `{id}`; aiohttp's HEAD twins left out."""
    return {(r.method.lower(), re.sub(r"\{(\w+):[^}]*\}", r"{\1}", r.resource.canonical))
            for r in app.router.routes() if r.method != "HEAD" and r.resource is not None}


def _documented(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in _METHODS}


@pytest.fixture
def apps(fed: RunningFederation) -> dict[str, web.Application]:
    return {"node": make_node_app(fed.nodes["MEX"]), "hub": make_hub_app(fed.hub)}


async def test_served_document_matches_the_router_both_ways(apps) -> None:  # noqa: ANN001
    for name, app in apps.items():
        async with TestClient(TestServer(app)) as http:
            response = await http.get("/api/openapi.json")
            assert response.status == 200 and response.content_type == "application/json"
            document = await response.json()
        assert document == openapi_document(app, app[TITLE])
        assert document["openapi"] == "3.1.0" and document["info"]["title"] and document["info"]["version"]
        routes, documented = _routes(app), _documented(document)
        assert routes - documented == set(), f"{name}: routes without a description"
        assert documented - routes == set(), f"{name}: descriptions of routes that do not exist"
        schemathesis.openapi.from_dict(document)  # loads as an OpenAPI 3.1 schema


def test_operations_declare_path_parameters_security_and_typed_errors(apps) -> None:  # noqa: ANN001
    for name, app in apps.items():
        document = openapi_document(app, app[TITLE])
        schemes = document["components"]["securitySchemes"]
        cookie = {"node": "somex_session_MEX", "hub": "somex_session_HUB"}[name]
        assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
        assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == cookie
        for path, item in document["paths"].items():
            names = set(re.findall(r"\{(\w+)\}", path))
            for method, operation in item.items():
                assert operation["summary"] and operation["responses"], (method, path)
                declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert declared == names, f"{method} {path}: path parameters {declared} != {names}"
                assert all(s.keys() <= schemes.keys() for s in operation.get("security", []))
                if not path.startswith("/api/"):
                    continue
                if operation.get("security"):
                    assert {"401", "403"} <= operation["responses"].keys(), (method, path)
                for status, response in operation["responses"].items():
                    if status.startswith("4"):
                        schema = response["content"]["application/json"]["schema"]
                        assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    assert document["paths"]["/api/audit/entries/{seq}"]["get"]["parameters"][0]["schema"]["type"] == "integer"
    node = openapi_document(apps["node"], apps["node"][TITLE])
    assert node["paths"]["/api/cases/{id}"]["get"]["parameters"][0]["schema"]["type"] == "integer"


async def test_unknown_api_routes_and_methods_answer_json_errors(apps) -> None:  # noqa: ANN001
    async with TestClient(TestServer(apps["node"])) as node, TestClient(TestServer(apps["hub"])) as hub:
        for client in (node, hub):
            async with client.get("/api/no-such-route") as r:
                assert r.status == 404 and (await r.json())["error"] == "not_found"
                assert r.headers["X-Content-Type-Options"] == "nosniff"
            async with client.delete("/api/health") as r:
                assert r.status == 405 and (await r.json())["error"] == "method_not_allowed"
                assert "GET" in r.headers["Allow"]
        async with node.get("/console/no-such-page") as r:  # pages outside the API keep their own answers
            assert r.status == 404 and r.content_type != "application/json"
        async with node.get(f"/api/cases/{2**80}", headers={"Authorization": "Bearer x"}) as r:
            assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
