"""The OpenAPI document: committed, served and generated alike, valid, and complete."""

from __future__ import annotations

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from service import config

METHODS = ("get", "put", "post", "patch", "delete")
# Used for every path parameter: a UUID is also a valid slug.
PATH_VALUE = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def spec(app) -> dict:
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return yaml.safe_load(api.spec.to_yaml())


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item


def _differences(committed: dict, generated: dict) -> list[str]:
    out = []
    for section in ("paths", "components"):
        old, new = committed.get(section, {}), generated.get(section, {})
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                out.append(f"{section}: {key}")
    for key in sorted(set(committed) | set(generated)):
        if key not in ("paths", "components") and committed.get(key) != generated.get(key):
            out.append(key)
    return out


def test_committed_openapi_yaml_is_what_the_app_generates(spec):
    path = config.ROOT / "openapi.yaml"
    assert path.exists(), "openapi.yaml is missing: run `make openapi` and commit it"
    committed = yaml.safe_load(path.read_text(encoding="utf-8"))
    if committed != spec:
        changed = ", ".join(_differences(committed, spec)[:15])
        pytest.fail(f"openapi.yaml differs from the app's spec ({changed}): run `make openapi`")


def test_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_served_yaml_and_json_are_the_generated_spec(client, spec):
    resp = client.get("/v1/openapi.yaml")
    assert resp.status_code == 200
    assert "yaml" in resp.mimetype
    assert yaml.safe_load(resp.get_data(as_text=True)) == spec
    as_json = client.get("/v1/openapi.json")
    assert as_json.status_code == 200
    assert as_json.get_json() == spec


def test_every_operation_that_needs_a_key_documents_401(client, spec):
    """Asks the app itself, anonymously, which operations need a key."""
    checked = 0
    for path, method, op, _item in operations(spec):
        if not path.startswith("/v1/"):
            continue
        url = path
        while "{" in url:
            url = url[: url.index("{")] + PATH_VALUE + url[url.index("}") + 1 :]
        status = getattr(client, method)(url).status_code
        name = f"{method.upper()} {path}"
        if status == 401:
            checked += 1
            assert "401" in op["responses"], f"{name} answers 401 but does not document it"
            assert op.get("security", spec.get("security")), f"{name} shows no security"
        else:
            # Operations open to all must not be drawn with a lock in the docs.
            assert op.get("security") == [], f"{name} needs no key, yet inherits security"
    assert checked >= 11


def test_operations_outside_v1_need_no_key(spec):
    for path, method, op, _item in operations(spec):
        if not path.startswith("/v1/"):
            assert op.get("security") == [], f"{method.upper()} {path}"


def test_every_operation_with_a_path_parameter_documents_404(spec):
    for path, method, op, item in operations(spec):
        params = [*item.get("parameters", []), *op.get("parameters", [])]
        if "{" in path or any(p.get("in") == "path" for p in params):
            assert "404" in op["responses"], f"{method.upper()} {path} does not document 404"


def test_every_operation_with_a_body_documents_its_refusals(spec):
    with_body = 0
    for path, method, op, _item in operations(spec):
        if "requestBody" in op:
            with_body += 1
            missing = {"400", "413", "415", "422"} - set(op["responses"])
            assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
    assert with_body >= 6


def test_error_responses_are_problem_json(spec):
    responses = spec["components"]["responses"]
    for status in ("UNAUTHORIZED", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "CONTENT_TOO_LARGE"):
        if status not in responses:
            continue
        content = responses[status]["content"]
        assert list(content) == ["application/problem+json"], status
    assert "WWW-Authenticate" in responses["UNAUTHORIZED"]["headers"]


def test_every_schema_property_has_a_description(spec):
    missing = [
        f"{name}.{prop}"
        for name, schema in spec["components"]["schemas"].items()
        for prop, definition in schema.get("properties", {}).items()
        if not definition.get("description")
    ]
    assert not missing, f"properties without a description: {missing}"


def test_every_operation_has_a_summary(spec):
    for path, method, op, _item in operations(spec):
        assert op.get("summary"), f"{method.upper()} {path}"
