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
        if path == "/metrics":
            # Open, or the operator's METRICS_TOKEN: never an API key.
            assert op.get("security") == [{}, {"metrics": []}], op.get("security")
        elif not path.startswith("/v1/"):
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


def test_every_schema_property_has_an_example(spec):
    # PaginationMetadata is flask-smorest's own schema, which this API does not use.
    missing = [
        f"{name}.{prop}"
        for name, schema in spec["components"]["schemas"].items()
        if name != "PaginationMetadata"
        for prop, definition in schema.get("properties", {}).items()
        if "example" not in definition and "examples" not in definition
    ]
    assert not missing, f"properties without an example: {missing}"


def _input_schemas():
    from service.resources.agreements import schemas as agreements
    from service.resources.batch import schemas as batch
    from service.resources.changes import schemas as changes
    from service.resources.claims import schemas as claims
    from service.resources.fields import FigureSchema
    from service.resources.keys import schemas as keys
    from service.resources.pages import PageArgs
    from service.resources.parties import schemas as parties
    from service.resources.sources import schemas as sources
    from service.resources.stats import schemas as stats
    from service.resources.violations import schemas as violations

    return [
        parties.PartyCreateSchema,
        parties.PartyPatchSchema,
        parties.AffiliationSchema,
        agreements.AgreementCreateSchema,
        agreements.AgreementPatchSchema,
        agreements.ProvisionSchema,
        sources.SourceCreateSchema,
        sources.SourcePatchSchema,
        sources.EditionSchema,
        sources.SourceEraseSchema,
        claims.ClaimCreateSchema,
        claims.ClaimPatchSchema,
        claims.CitationInSchema,
        claims.TranslationSchema,
        claims.WithdrawSchema,
        violations.ViolationCreateSchema,
        violations.ViolationPatchSchema,
        violations.LocationSchema,
        violations.CasualtiesSchema,
        violations.CivilianSchema,
        FigureSchema,
        violations.VerdictSchema,
        keys.KeyCreateSchema,
        batch.BatchCreateSchema,
        # Query strings: their examples must pass too.
        PageArgs,
        parties.PartyQueryArgs,
        sources.SourceQueryArgs,
        keys.KeyListArgs,
        violations.ViolationQueryArgs,
        stats.StatsArgs,
        changes.ChangeArgs,
    ]


# A cursor is signed by the service and names its listing: no fixed example could pass.
WITHOUT_EXAMPLE = {"PageArgs.cursor"}


def _drop(schema) -> tuple[str, ...]:
    from service.resources.claims.schemas import CitationInSchema

    # CitationIn takes exactly one of source_id or source: the body built from the examples
    # keeps source_id and drops source; the inline source's own example is loaded on its own
    # (as a SourceCreate) by _own_example_errors.
    return ("source",) if isinstance(schema, CitationInSchema) else ()


def _body_from_examples(schema, where: str, missing: list[str]) -> dict:
    import marshmallow as ma

    body = {}
    for name, field in schema.fields.items():
        if field.dump_only or name in _drop(schema):
            continue
        key = field.data_key or name
        inner = field.inner if isinstance(field, ma.fields.List) else field
        if isinstance(inner, ma.fields.Nested):
            built = _body_from_examples(inner.schema, f"{where}.{key}", missing)
            body[key] = [built] if (inner is not field or inner.many) else built
        elif "example" in field.metadata:
            body[key] = field.metadata["example"]
        elif f"{type(schema).__name__}.{name}" not in WITHOUT_EXAMPLE:
            missing.append(f"{where}.{key}")
    return body


def _own_example_errors(schema, where: str) -> list[str]:
    """Each field's own example passes that field (and, when nested, its schema)."""
    import marshmallow as ma

    errors = []
    for name, field in schema.fields.items():
        if field.dump_only or "example" not in field.metadata:
            continue
        example = field.metadata["example"]
        key = field.data_key or name
        try:
            field.deserialize(example, key, {key: example})
            inner = field.inner if isinstance(field, ma.fields.List) else field
            if isinstance(inner, ma.fields.Nested):
                # Loaded by the nested schema too: batch items are loaded unchecked by the
                # field, and validated one by one later.
                many = inner is not field or inner.many
                inner.schema.load(example, many=many)
        except ma.ValidationError as exc:
            errors.append(f"{where}.{key}: {exc.messages}")
        if isinstance(field, ma.fields.Nested) or (
            isinstance(field, ma.fields.List) and isinstance(field.inner, ma.fields.Nested)
        ):
            nested = field.schema if isinstance(field, ma.fields.Nested) else field.inner.schema
            errors.extend(_own_example_errors(nested, f"{where}.{key}"))
    return errors


def test_examples_of_request_schemas_pass_their_validation():
    import marshmallow as ma

    problems: list[str] = []
    for schema_cls in _input_schemas():
        schema = schema_cls()
        where = schema_cls.__name__
        missing: list[str] = []
        body = _body_from_examples(schema, where, missing)
        problems.extend(f"{m}: no example" for m in missing)
        try:
            schema.load(body)
        except ma.ValidationError as exc:
            problems.append(f"{where} built from its examples: {exc.messages}")
        problems.extend(_own_example_errors(schema, where))
    assert not problems, "\n".join(problems)


def test_every_request_body_schema_is_checked_for_valid_examples(spec):
    checked = {cls.__name__.removesuffix("Schema") for cls in _input_schemas()}
    bodies = set()
    for _path, _method, op, _item in operations(spec):
        for content in op.get("requestBody", {}).get("content", {}).values():
            ref = content.get("schema", {}).get("$ref", "")
            if ref:
                bodies.add(ref.rsplit("/", 1)[-1])
    assert bodies, "no request bodies found"
    assert not bodies - checked, f"request bodies not checked: {sorted(bodies - checked)}"
