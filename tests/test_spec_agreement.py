"""The spec and the service agree: what openapi.yaml calls invalid is refused with 422 naming
the field, and what it calls valid is accepted (contract fuzzing found each case below)."""

from __future__ import annotations

import langcodes
import pycountry
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from service import config
from tests.conftest import error_fields, problem_of, unique
from tests.factories import AgreementPayload, PartyPayload
from tests.scenario import party, violation, violation_body

SPEC = yaml.safe_load((config.ROOT / "openapi.yaml").read_text(encoding="utf-8"))
_REGISTRY = Registry().with_resource(
    "urn:spec", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
FORMATS = FormatChecker()


@FORMATS.checks("bcp47")
def _bcp47(value) -> bool:
    # What `format: bcp47` means in the spec: every subtag is in the IANA registry.
    return not isinstance(value, str) or langcodes.tag_is_valid(value)


def spec_accepts(pointer: str, value) -> bool:
    """Whether `value` is valid against the spec's schema at `pointer` (a JSON pointer)."""
    validator = Draft202012Validator(
        {"$ref": f"urn:spec#{pointer}"}, registry=_REGISTRY, format_checker=FORMATS
    )
    return validator.is_valid(value)


def body_schema(path: str, method: str) -> str:
    content = SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]
    return content["schema"]["$ref"].removeprefix("#")


def param_schema(path: str, method: str, name: str) -> str:
    for i, param in enumerate(SPEC["paths"][path][method]["parameters"]):
        if "$ref" in param:
            ref = param["$ref"].removeprefix("#")
            resolved = SPEC
            for part in ref.strip("/").split("/"):
                resolved = resolved[part]
            if resolved["name"] == name:
                return f"{ref}/schema"
        elif param["name"] == name:
            return f"/paths/{path.replace('/', '~1')}/{method}/parameters/{i}/schema"
    raise KeyError(name)


def agree(resp, valid_by_spec: bool, field: str | None = None) -> None:
    """The answer is what the spec promises: accepted when valid, else 422 naming `field`."""
    if valid_by_spec:
        assert resp.status_code < 400, resp.get_json()
    else:
        assert resp.status_code == 422, resp.get_json()
        problem_of(resp)
        assert field in error_fields(resp), error_fields(resp)


# --- JSON types are what the spec says: no "true" for true, no "35.2" for 35.2 --------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [(True, True), (False, True), ("true", False), ("false", False), (1, False), (0, False)],
)
def test_confidential_is_a_real_boolean(reporter, value, valid):
    body = {"kind": "witness_testimony", "title": "Testimony", "confidential": value}
    assert spec_accepts(body_schema("/v1/sources", "post"), body) is valid
    resp = reporter.post("/v1/sources", json=body)
    agree(resp, valid, "confidential")
    if valid:
        assert resp.get_json()["confidential"] is value


@pytest.mark.parametrize("value", ["yes", 1, "1", None])
def test_zone_approximate_and_machine_are_real_booleans(reporter, value):
    agreement = AgreementPayload(zone_approximate=value)
    assert not spec_accepts(body_schema("/v1/agreements", "post"), agreement)
    agree(reporter.post("/v1/agreements", json=agreement), False, "zone_approximate")

    claim = {
        "claimant": party(reporter),
        "stance": "alleges",
        "statement": "Es geschah.",
        "translations": [{"language": "en", "text": "It happened.", "machine": value}],
    }
    body = violation_body(claims=[claim])
    assert not spec_accepts(body_schema("/v1/violations", "post"), body)
    agree(reporter.post("/v1/violations", json=body), False, "claims.0.translations.0.machine")


@pytest.mark.parametrize(
    ("changes", "field", "valid"),
    [
        ({"location": {"lat": "35.26", "lon": 36.6}}, "location.lat", False),
        ({"location": {"lat": True, "lon": 36.6}}, "location.lat", False),
        ({"location": {"lat": 35, "lon": 36.6}}, "location.lat", True),
        ({"casualties": {"killed": {"best": "22"}}}, "casualties.killed.best", False),
        ({"casualties": {"killed": {"best": 22.5}}}, "casualties.killed.best", False),
        # 22.0 is a JSON Schema integer.
        ({"casualties": {"killed": {"best": 22.0}}}, "casualties.killed.best", True),
        # A time an offset would move out of the calendar was a 500.
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at", False),
        ({"occurred_until": "9999-12-31T23:00:00-05:00"}, "occurred_until", False),
    ],
)
def test_violation_numbers_and_times_are_what_the_spec_says(reporter, changes, field, valid):
    body = violation_body(**changes)
    assert spec_accepts(body_schema("/v1/violations", "post"), body) is valid
    resp = reporter.post("/v1/violations", json=body)
    agree(resp, valid, field)
    if valid and "casualties" in changes:
        assert resp.get_json()["casualties"]["killed"]["best"] == 22


def test_claim_credibility_is_a_whole_number(reporter):
    v = violation(reporter)
    for value, valid in ((2.5, False), ("3", False), (3, True)):
        body = {"claimant": party(reporter), "stance": "alleges", "statement": "x"}
        body["credibility"] = value
        assert spec_accepts(body_schema("/v1/violations/{violation_id}/claims", "post"), body) is (
            valid
        )
        agree(reporter.post(f"/v1/violations/{v['id']}/claims", json=body), valid, "credibility")


# --- Shapes the spec now states exactly ------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "valid", "answered"),
    [("SY", True, "SY"), ("sy", True, "SY"), ("XX", False, None), (" SY", False, None)],
)
def test_country_is_iso_3166_alpha_2_in_body_and_query(reporter, country, valid, answered):
    body = violation_body(location={"name": "Halfaya", "country": country})
    assert spec_accepts(body_schema("/v1/violations", "post"), body) is valid
    resp = reporter.post("/v1/violations", json=body)
    agree(resp, valid, "location.country")
    if valid:
        assert resp.get_json()["location"]["country"] == answered
    assert spec_accepts(param_schema("/v1/violations", "get", "country"), country) is valid
    resp = reporter.get("/v1/violations", query_string={"country": country})
    agree(resp, valid, "query.country")


def test_a_final_newline_does_not_pass_a_pattern(reporter):
    """The spec's patterns are ECMA 262, where $ is the end; Python's $ also matches before a
    final newline, so the service matches them in full."""
    body = violation_body(location={"name": "Halfaya", "country": "SY\n"})
    agree(reporter.post("/v1/violations", json=body), False, "location.country")
    agree(
        reporter.post("/v1/parties", json=PartyPayload(names={"en\n": "x"})),
        False,
        "names.en\n.key",
    )
    v = violation(reporter)
    claim = {"claimant": party(reporter), "stance": "alleges", "statement": "x"}
    resp = reporter.post(
        f"/v1/violations/{v['id']}/claims", json={**claim, "asserts": {"killed\n": 1}}
    )
    agree(resp, False, "asserts.killed\n.key")


def test_country_pattern_is_exactly_the_assigned_codes():
    pointer = param_schema("/v1/violations", "get", "country")
    assigned = {c.alpha_2 for c in pycountry.countries}
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for code in (a + b for a in letters for b in letters):
        assert spec_accepts(pointer, code) is (code in assigned), code
        assert spec_accepts(pointer, code.lower()) is (code in assigned), code


@pytest.mark.parametrize(
    ("names", "valid"),
    [
        ({"ar": "الحكومة السورية", "sr-Latn-RS": "Vlada", "es-419": "Gobierno"}, True),
        ({"not a tag!": "x"}, False),
        ({"": "x"}, False),
        ({"xq": "x"}, False),  # well-formed, not in the registry
    ],
)
def test_party_names_keys_are_language_tags(reporter, names, valid):
    body = PartyPayload(names=names)
    assert spec_accepts(body_schema("/v1/parties", "post"), body) is valid
    resp = reporter.post("/v1/parties", json=body)
    if valid:
        assert resp.status_code == 201, resp.get_json()
        assert set(resp.get_json()["names"]) == set(names)
    else:
        assert resp.status_code == 422
        assert all(f.startswith("names.") for f in error_fields(resp)), error_fields(resp)


@pytest.mark.parametrize(
    "zone",
    [
        {
            "type": "Polygon",
            "coordinates": [[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 35.0]]],
            "crs": "EPSG:4326",
        },
        {"type": "Point", "coordinates": [36.0, 35.0]},
        {"type": "Polygon", "coordinates": [[[36.0, 35.0], [37.0, 35.0], [36.0, 35.0]]]},
        {
            "type": "Polygon",
            "coordinates": [[[36.0, 95.0], [37.0, 35.0], [37.0, 36.0], [36.0, 95.0]]],
        },
        {"type": "Polygon"},
    ],
    ids=["extra-key", "point", "three-positions", "latitude-95", "no-coordinates"],
)
def test_zone_refused_by_the_spec_is_refused_by_the_service(reporter, zone):
    body = AgreementPayload(zone=zone)
    assert not spec_accepts(body_schema("/v1/agreements", "post"), body)
    agree(reporter.post("/v1/agreements", json=body), False, "zone")


def test_zone_examples_are_valid_by_the_spec(reporter):
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 35.0]]]],
    }
    for zone in (AgreementPayload()["zone"], multi, None):
        body = AgreementPayload(zone=zone)
        assert spec_accepts(body_schema("/v1/agreements", "post"), body)
        assert reporter.post("/v1/agreements", json=body).status_code == 201


@pytest.mark.parametrize(
    ("asserts", "valid", "field"),
    [
        ({"killed": 22, "attributed_party": None, "location.name": "Halfaya"}, True, None),
        ({"killed": {"low": 20, "high": 25}, "category": "shelling"}, True, None),
        ({"Killed": 22}, False, "asserts.Killed.key"),
        ({"killed": "22"}, False, "asserts.killed"),
        ({"killed": 10_000_001}, False, "asserts.killed"),
        ({"killed": {}}, False, "asserts.killed"),
        ({"category": "rumour"}, False, "asserts.category"),
        ({"note": ["a", "list"]}, False, "asserts.note"),
    ],
)
def test_claim_asserts_are_what_the_spec_says(reporter, asserts, valid, field):
    v = violation(reporter)
    body = {"claimant": party(reporter), "stance": "alleges", "statement": "x", "asserts": asserts}
    path = "/v1/violations/{violation_id}/claims"
    assert spec_accepts(body_schema(path, "post"), body) is valid
    agree(reporter.post(f"/v1/violations/{v['id']}/claims", json=body), valid, field)


def test_source_url_must_be_http(reporter):
    for url, valid in (("https://example.org/report", True), ("ftp://example.org/r", False)):
        body = {"kind": "news_article", "url": url}
        assert spec_accepts(body_schema("/v1/sources", "post"), body) is valid
        agree(reporter.post("/v1/sources", json=body), valid, "url")


# --- Query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group_by", "valid"),
    [
        ("status", True),
        ("attributed_party,month", True),
        ("", False),
        ("status, month", False),
        ("month,month", False),
        ("status,category,month", False),
    ],
)
def test_group_by_is_one_of_the_documented_values(reporter, group_by, valid):
    assert spec_accepts(param_schema("/v1/stats", "get", "group_by"), group_by) is valid
    agree(reporter.get("/v1/stats", query_string={"group_by": group_by}), valid, "query.group_by")


@pytest.mark.parametrize(
    ("bbox", "valid"),
    [
        ("36,35,37.5,36.5", True),
        ("-180,-90,180,90", True),
        ("-0.5,0,0.5,0.25", True),
        ("036,35,37,36", False),  # leading zero
        ("1e1,35,37,36", False),  # exponent
        ("٣٦,35,37,36", False),  # Arabic-Indic digits: float() reads them, the spec does not
        ("36, 35,37,36", False),
        ("180.5,35,181,36", False),
    ],
)
def test_bbox_is_four_plain_decimals(reporter, bbox, valid):
    assert spec_accepts(param_schema("/v1/violations", "get", "bbox"), bbox) is valid
    agree(reporter.get("/v1/violations", query_string={"bbox": bbox}), valid, "query.bbox")


def test_longest_cursor_fits_the_spec_and_a_longer_one_is_refused(app, reporter):
    from service.paging import MAX_CURSOR_LENGTH, encode_cursor

    pointer = param_schema("/v1/parties", "get", "cursor")
    with app.test_request_context():
        longest = [
            encode_cursor({"k": "agreements", "id": "a" + "-b1" * 21}),
            encode_cursor(
                {"k": "violations", "t": "2018-11-12T09:30:00.123456+00:00", "id": "f" * 36}
            ),
        ]
    for cursor in longest:
        assert len(cursor) <= MAX_CURSOR_LENGTH // 2
        assert spec_accepts(pointer, cursor)
    token = unique("cursor")
    for i in range(2):
        reporter.post("/v1/parties", json=PartyPayload(name=f"{token} {i}"))
    issued = reporter.get("/v1/parties", query_string={"q": token, "limit": 1}).get_json()
    assert spec_accepts(pointer, issued["next_cursor"])
    for bad in ("x" * (MAX_CURSOR_LENGTH + 1), "ÉÉ.ÉÉ"):
        assert not spec_accepts(pointer, bad)
        resp = reporter.get("/v1/parties", query_string={"cursor": bad})
        assert resp.status_code == 422
        assert {"cursor", "query.cursor"} & set(error_fields(resp))


def test_change_feed_position_beyond_what_the_database_holds_is_422(reporter):
    """It was a 500 on PostgreSQL, whose seq column is a 32-bit INTEGER."""
    pointer = param_schema("/v1/changes", "get", "after")
    assert not spec_accepts(pointer, 2**31)
    agree(reporter.get("/v1/changes", query_string={"after": str(2**31)}), False, "query.after")
    agree(reporter.get("/v1/changes", query_string={"after": str(2**31 - 1)}), True)


# --- NUL: PostgreSQL cannot store it in text (it was a 500 there) ----------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/sources", {"kind": "other", "title": "a\x00b"}, "title"),
        ("/v1/parties", {"kind": "other", "name": "N", "aliases": ["x\x00"]}, "aliases.0"),
        ("/v1/agreements", {"title": "T", "description": "\x00"}, "description"),
        ("/v1/violations", {"tags": ["ok", "n\x00"]}, "tags.1"),
        ("/v1/violations", {"location": {"name": "\x00"}}, "location.name"),
        (
            "/v1/violations",
            {
                "claims": [
                    {
                        "claimant": "turkey",
                        "stance": "denies",
                        "statement": "No.",
                        "sources": [{"source": {"kind": "other", "title": "T\x00"}}],
                    }
                ]
            },
            "claims.0.sources.0.source.title",
        ),
    ],
)
def test_text_with_nul_is_422_naming_the_field(reporter, path, body, field):
    if path == "/v1/violations":
        body = violation_body(**body)
    elif path in ("/v1/parties", "/v1/agreements"):
        body = {"id": unique("nul"), **body}
    agree(reporter.post(path, json=body), False, field)


def test_nul_in_a_batch_item_fails_that_item_alone(reporter):
    items = [violation_body(title="a\x00b"), violation_body(title=unique("batch"))]
    resp = reporter.post("/v1/violations/batch", json={"items": items})
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == [422, 201]
    assert results[0]["errors"][0]["field"] == "title"


def test_nul_in_a_query_is_422(reporter):
    resp = reporter.get("/v1/violations", query_string={"admin1": "Idlib\x00"})
    agree(resp, False, "query.admin1")
    agree(reporter.get("/v1/parties", query_string={"q": "\x00"}), False, "query.q")


# --- If-Match --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_match", "status"),
    [("*", 428), ("", 428), ("{}", 428), ("abc", 428), ('"stale"', 412), ('W/"a", "b"', 412)],
)
def test_if_match_must_be_entity_tags(reporter, if_match, status):
    pointer = "/components/parameters/IF_MATCH/schema"
    assert spec_accepts(pointer, if_match) is (status == 412)
    party_id = party(reporter)
    resp = reporter.patch(f"/v1/parties/{party_id}", json={"name": "Renamed"}, etag=if_match)
    assert resp.status_code == status, resp.get_json()
    problem_of(resp)
    current = reporter.get(f"/v1/parties/{party_id}")
    assert spec_accepts(pointer, current.headers["ETag"])
    assert current.get_json()["name"] != "Renamed"


# --- Batch: items are checked one by one, so the spec does not type them ----------------------


def test_batch_items_are_any_value_checked_one_by_one(reporter):
    items = SPEC["components"]["schemas"]["BatchCreate"]["properties"]["items"]
    assert "type" not in items["items"] and "$ref" not in items["items"]
    body = {"items": ["not an object", 5, None, violation_body(title=unique("batch"))]}
    assert spec_accepts(body_schema("/v1/violations/batch", "post"), body)
    resp = reporter.post("/v1/violations/batch", json=body)
    assert resp.status_code == 200, resp.get_json()
    assert [r["status"] for r in resp.get_json()["results"]] == [422, 422, 422, 201]


@pytest.mark.parametrize("body", [{"items": []}, {"items": "x"}, {"items": {"a": 1}}, {}])
def test_batch_envelope_refused_by_the_spec_is_422(reporter, body):
    assert not spec_accepts(body_schema("/v1/violations/batch", "post"), body)
    agree(reporter.post("/v1/violations/batch", json=body), False, "items")


# --- Every request line the spec allows fits gunicorn's limit (else 414, which it does not list)


def _longest_value(schema: dict) -> int:
    """Bytes a query value may take once percent-encoded: a character outside a pattern's ASCII
    may be 4 UTF-8 bytes, each written %XX."""
    if "enum" in schema:
        return 3 * max(len(str(v)) for v in schema["enum"])
    if schema.get("type") == "integer":
        return len(str(schema.get("maximum", 2**63)))
    if schema.get("type") == "boolean":
        return len("false")
    assert "maxLength" in schema, f"a query string without maxLength: {schema}"
    return schema["maxLength"] * (3 if "pattern" in schema else 12)


def test_longest_query_the_spec_allows_fits_the_request_line():
    import runpy

    limit = runpy.run_path(str(config.ROOT / "gunicorn.conf.py"))["limit_request_line"]
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            params = [p for p in op.get("parameters", []) if "$ref" not in p and p["in"] == "query"]
            query = sum(len(p["name"]) + 2 + _longest_value(p["schema"]) for p in params)
            line = len(f"{method.upper()} {path}? HTTP/1.1") + 36 * path.count("{") + query
            assert line <= limit, f"{method.upper()} {path}: {line} > {limit}"


# --- Idempotency-Key: every authenticated POST takes one ----------------------------------


def test_every_authenticated_post_documents_the_idempotency_key():
    """The service honours the header on every authenticated POST; the spec says so on each,
    with the 409 of a retry while the first request runs."""
    posts = [
        (path, op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if method == "post" and "401" in op["responses"]
    ]
    assert posts
    for path, op in posts:
        refs = [p.get("$ref") for p in op.get("parameters", [])]
        assert "#/components/parameters/IDEMPOTENCY_KEY" in refs, path
        assert {"409", "422"} <= set(op["responses"]), path


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("batch-2018-11-09/1", True),
        ("~" * 255, True),
        ("x" * 256, False),
        ("with space", False),
        ("naïve", False),
    ],
)
def test_idempotency_keys_the_spec_allows_are_taken(reporter, key, valid):
    key = key if not valid or len(key) == 255 else f"{key}-{unique('k')}"
    pointer = param_schema("/v1/parties", "post", "Idempotency-Key")
    assert spec_accepts(pointer, key) is valid
    resp = reporter.post("/v1/parties", json=PartyPayload(), headers={"Idempotency-Key": key})
    agree(resp, valid, "headers.Idempotency-Key")
