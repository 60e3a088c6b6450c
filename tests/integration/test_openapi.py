"""The OpenAPI document at /api/openapi.json describes exactly the routes node and hub serve."""

from __future__ import annotations

import re

import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from tests.integration.federation import RunningFederation

pytestmark = pytest.mark.integration

_METHODS = {"get", "post", "put", "patch", "delete"}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route, `{id:\\d+}` written `{id}`; aiohttp's HEAD twins left out."""
    found = set()
    for route in app.router.routes():
        method, template = route.method.lower(), route.resource.canonical if route.resource else ""
        if method in _METHODS and template:
            found.add((method, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template)))
    return found


def _documented(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in _METHODS}


@pytest.mark.parametrize("which", ["node", "hub"])
async def test_document_matches_the_router_both_ways(fed: RunningFederation, which: str) -> None:
    app = make_node_app(fed.nodes["MEX"]) if which == "node" else make_hub_app(fed.hub)
    async with TestClient(TestServer(app)) as http:
        response = await http.get("/api/openapi.json")
        assert response.status == 200
        assert response.content_type == "application/json"
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    routes, documented = _routes(app), _documented(document)
    assert routes - documented == set(), "routes without a description"
    assert documented - routes == set(), "descriptions of routes that do not exist"
    schemathesis.openapi.from_dict(document)  # loads as an OpenAPI 3.1 schema


@pytest.mark.parametrize("which", ["node", "hub"])
async def test_every_operation_states_its_errors_as_the_error_schema(fed: RunningFederation, which: str) -> None:
    app = make_node_app(fed.nodes["MEX"]) if which == "node" else make_hub_app(fed.hub)
    async with TestClient(TestServer(app)) as http:
        document = await (await http.get("/api/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") and path.startswith("/api/"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
