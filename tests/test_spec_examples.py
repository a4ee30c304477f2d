"""Every request example /docs shows works as-is against `make run`'s seeded data: each request
body, built from the spec's examples as "Try it out" builds it, is sent to a freshly seeded
database and answers 2xx; the query examples "Try it out" pre-fills find something."""

from __future__ import annotations

import uuid

import pytest
import yaml

from service import create_app, db

# Swagger UI's placeholders for a property without an example, by format.
PLACEHOLDER = {
    "date-time": "2026-01-01T00:00:00.000Z",
    "date": "2026-01-01",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "email": "user@example.com",
    "uri": "https://example.com/",
}


class Example:
    def __init__(self, spec: dict):
        self.schemas = spec["components"]["schemas"]

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def of(self, schema: dict):
        """The example "Try it out" puts in the request body (read-only properties left out)."""
        if "example" in schema:
            return schema["example"]
        schema = self.resolve(schema)
        if "example" in schema:
            return schema["example"]
        for key in ("allOf", "oneOf", "anyOf"):
            if key in schema:
                return self.of(schema[key][0])
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next(k for k in kind if k != "null")
        if kind == "object" or "properties" in schema:
            return {
                name: self.of(prop)
                for name, prop in schema.get("properties", {}).items()
                if not prop.get("readOnly") and not self.resolve(prop).get("readOnly")
            }
        if kind == "array":
            return [self.of(schema.get("items", {}))]
        if kind == "string":
            return PLACEHOLDER.get(schema.get("format"), "string")
        return {"integer": 0, "number": 0, "boolean": True}.get(kind, {})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, database_url):
    from service.core import keys
    from tests.conftest import new_database

    folder = tmp_path_factory.mktemp("examples")
    databases = new_database(database_url, folder)
    url = next(databases)
    app = create_app(
        {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret", "RATE_LIMIT": "0"}
    )
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    with app.app_context(), db.session_scope() as session:
        _row, secret = keys.create(session, None, "dev", "admin")
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec = yaml.safe_load(api.spec.to_yaml())
    yield app, {"Authorization": f"Bearer {secret}"}, spec
    app.extensions["ledger.db"][0].dispose()
    next(databases, None)


def _seeded_ids(client, headers) -> dict[str, list[str]]:
    def ids(path: str) -> list[str]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        return [item["id"] for item in response.get_json()["items"]]

    violations = ids("/v1/violations?limit=50")
    claims = [c for v in violations for c in ids(f"/v1/violations/{v}/claims")]
    return {
        "agreement_id": ["sochi-2018"],
        "party_id": ["syrian-government"],
        "source_id": ids("/v1/sources"),
        "violation_id": violations,
        "claim_id": claims,
    }


def _body_operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                yield method, path, operation


def test_every_request_body_example_is_accepted_by_the_seeded_data(seeded):
    app, headers, spec = seeded
    client = app.test_client()
    example = Example(spec)
    ids = _seeded_ids(client, headers)
    # A claim PATCHed and one withdrawn, a violation PATCHed and one given a verdict: each
    # example on a record of its own, as a user trying them one by one would pick.
    turn = {name: 0 for name in ids}
    operations = sorted(_body_operations(spec), key=lambda op: "withdraw" in op[1])
    assert len(operations) >= 14
    failures = []
    for method, path, operation in operations:
        url = path
        for name in ids:
            if "{" + name + "}" in url:
                url = url.replace("{" + name + "}", ids[name][turn[name] % len(ids[name])])
                turn[name] += 1
        body = example.of(operation["requestBody"]["content"]["application/json"]["schema"])
        extra = {"Idempotency-Key": str(uuid.uuid4())}
        if method == "patch":
            extra["If-Match"] = client.get(url, headers=headers).headers["ETag"]
        response = client.open(url, method=method.upper(), json=body, headers={**headers, **extra})
        if not 200 <= response.status_code < 300:
            failures.append((method.upper(), path, response.status_code, response.get_json()))
    assert not failures, "\n".join(map(str, failures))


def test_query_examples_find_something_in_the_seeded_data(seeded):
    app, headers, spec = seeded
    client = app.test_client()
    for path in ("/v1/violations", "/v1/parties", "/v1/sources", "/v1/agreements"):
        operation = spec["paths"][path]["get"]
        query = {
            p["name"]: p["schema"]["example"] if "example" in p.get("schema", {}) else p["example"]
            for p in operation.get("parameters", [])
            if p.get("in") == "query"
            and ("example" in p or "example" in p.get("schema", {}))
            and p["name"] != "cursor"
        }
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, (path, query, response.get_json())
        assert response.get_json()["items"], f"{path}?{query} finds nothing in the seeds"


def test_stats_examples_find_something_in_the_seeded_data(seeded):
    app, headers, spec = seeded
    operation = spec["paths"]["/v1/stats"]["get"]
    query = {
        p["name"]: p["schema"].get("example", p.get("example"))
        for p in operation["parameters"]
        if p.get("in") == "query" and "example" in p.get("schema", {})
    }
    response = app.test_client().get("/v1/stats", query_string=query, headers=headers)
    assert response.status_code == 200, (query, response.get_json())
    assert response.get_json()["groups"], f"/v1/stats?{query} finds nothing in the seeds"


def test_docs_say_where_a_key_comes_from_and_how_to_use_it(seeded):
    _app, _headers, spec = seeded
    description = spec["info"]["description"]
    for needed in ("make run", "POST /v1/keys", "Authorize", "Bearer", "create-key"):
        assert needed in description, needed
    assert "make run" in spec["components"]["securitySchemes"]["bearer"]["description"]
