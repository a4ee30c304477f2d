"""Parties as a user records, finds, pages through and edits them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import error_fields, problem_of, unique
from tests.factories import PartyPayload

HTS_ALIASES = ["Hayaat Tahrir Al-Shaam", "Hay'at Tahrir al-Sham", "HTS"]


def ids_found(caller, q: str) -> list[str]:
    resp = caller.get("/v1/parties", query_string={"q": q, "limit": 500})
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["items"]]


def create(caller, **fields) -> dict:
    body = PartyPayload(**fields)
    resp = caller.post("/v1/parties", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_get_list_and_patch(reporter, reader):
    body = PartyPayload(
        name="Syrian Arab Army",
        kind="armed_force",
        names={"ar": "الجيش العربي السوري"},
        aliases=["SAA"],
        description="Regular armed forces.",
    )
    created = reporter.post("/v1/parties", json=body)
    assert created.status_code == 201
    assert created.headers["ETag"]
    party = created.get_json()
    for field, value in body.items():
        assert party[field] == value, field
    assert party["created_by"] == reporter.org
    assert party["version"] == 1
    assert party["created_at"].endswith("+00:00")

    got = reader.get(f"/v1/parties/{body['id']}")
    assert got.status_code == 200
    assert got.get_json() == party

    listed = reader.get("/v1/parties", query_string={"q": "Syrian Arab Army", "limit": 500})
    assert body["id"] in [p["id"] for p in listed.get_json()["items"]]

    patched = reporter.patch_fresh(f"/v1/parties/{body['id']}", {"description": "Renamed."})
    assert patched.status_code == 200
    assert patched.get_json()["description"] == "Renamed."
    assert reader.get(f"/v1/parties/{body['id']}").get_json()["description"] == "Renamed."


def test_kind_filter(reporter):
    monitor = create(reporter, kind="monitor", name=unique("Observatory"))
    group = create(reporter, kind="armed_group", name=monitor["name"] + " Brigade")
    resp = reporter.get("/v1/parties", query_string={"q": monitor["name"], "kind": "monitor"})
    found = [p["id"] for p in resp.get_json()["items"]]
    assert monitor["id"] in found
    assert group["id"] not in found


def test_unknown_party_is_404(reader):
    resp = reader.get(f"/v1/parties/{unique('nobody')}")
    assert resp.status_code == 404
    problem_of(resp)


@pytest.mark.parametrize(
    "q",
    [
        "Hayaat Tahrir Al-Shaam",
        "HAY'AT TAHRIR AL-SHAM",
        "hay\u2019at tahrir",  # typographic apostrophe
        "hayat tahrir al sham",
        "Ḥayʼat Taḥrīr",  # with diacritics and a modifier-letter apostrophe
    ],
)
def test_alias_lookup_ignores_case_accents_and_apostrophes(reporter, q):
    party = create(reporter, name=unique("Levant Liberation Committee"), aliases=HTS_ALIASES)
    assert party["id"] in ids_found(reporter, q)


def test_accented_alias_is_found_without_accents(reporter):
    # This party's only spelling of the name carries diacritics.
    party = create(reporter, name=unique("Committee"), aliases=["Ḥayʼat Taḥrīr al-Shām"])
    assert party["id"] in ids_found(reporter, "hayat tahrir")
    assert party["id"] in ids_found(reporter, "HAYAT TAHRIR AL-SHAM")


def test_lookup_does_not_match_other_names(reporter):
    party = create(reporter, name=unique("Committee"), aliases=HTS_ALIASES)
    assert party["id"] not in ids_found(reporter, "Jaysh al-Izza")
    assert party["id"] not in ids_found(reporter, "tahrir al sham al dawla")


def test_query_of_only_punctuation_matches_nothing(reporter):
    create(reporter, aliases=HTS_ALIASES)
    assert ids_found(reporter, "'''") == []
    assert ids_found(reporter, " - ") == []


def test_names_by_language(reporter):
    arabic = f"هيئة تحرير الشام {unique('x')}"
    party = create(reporter, names={"ar": arabic, "en": "Levant Liberation Committee"})
    assert party["names"]["ar"] == arabic
    assert reporter.get(f"/v1/parties/{party['id']}").get_json()["names"]["ar"] == arabic
    # A name in Arabic script is found by the same words in Arabic script.
    assert party["id"] in ids_found(reporter, arabic)


def test_names_need_language_tags(reporter):
    resp = reporter.post("/v1/parties", json=PartyPayload(names={"not a tag!": "x"}))
    assert resp.status_code == 422
    assert any(field.startswith("names") for field in error_fields(resp))


def test_duplicate_id_is_409(reporter, make_caller):
    party = create(reporter, name="First")
    other = make_caller("reporter")
    resp = other.post("/v1/parties", json=PartyPayload(id=party["id"], name="Second"))
    assert resp.status_code == 409
    assert party["id"] in problem_of(resp)["detail"]
    assert reporter.get(f"/v1/parties/{party['id']}").get_json()["name"] == "First"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"colour": "green"}, {"colour"}),
        ({"version": 7, "created_by": "someone"}, {"version", "created_by"}),
        ({"kind": "militia"}, {"kind"}),
        ({"id": "Not A Slug"}, {"id"}),
        ({"name": ""}, {"name"}),
        ({"aliases": "HTS"}, {"aliases"}),
    ],
    ids=["unknown-field", "server-owned", "bad-kind", "bad-id", "empty-name", "aliases-not-list"],
)
def test_invalid_party_is_422_naming_the_field(reporter, changes, fields):
    body = {**PartyPayload(), **changes}
    resp = reporter.post("/v1/parties", json=body)
    assert resp.status_code == 422
    problem_of(resp)
    assert set(error_fields(resp)) == fields
    assert reporter.get(f"/v1/parties/{body['id']}").status_code == 404


def test_missing_fields_are_all_named(reporter):
    resp = reporter.post("/v1/parties", json={})
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"id", "name", "kind"}


def test_unknown_affiliation_is_422_with_closest_names(reporter):
    turkey = create(reporter, id=unique("turkey"), name="Turkey", kind="state")
    typo = turkey["id"][:-1] + ("0" if turkey["id"][-1] != "0" else "1")
    body = PartyPayload(affiliations=[{"relation": "backed_by", "party": typo}])
    resp = reporter.post("/v1/parties", json=body)
    assert resp.status_code == 422
    reason = error_fields(resp)["affiliations.0.party"]
    assert typo in reason
    assert turkey["id"] in reason
    # Nothing was written.
    assert reporter.get(f"/v1/parties/{body['id']}").status_code == 404


def test_affiliation_to_a_known_party(reporter):
    turkey = create(reporter, id=unique("turkey"), kind="state")
    party = create(reporter, affiliations=[{"relation": "backed_by", "party": turkey["id"]}])
    assert party["affiliations"] == [{"relation": "backed_by", "party": turkey["id"]}]


def _walk(caller, first: str, follow) -> list[str]:
    seen: list[str] = []
    resp = caller.get(first)
    for _ in range(20):
        assert resp.status_code == 200, resp.get_json()
        page = resp.get_json()
        assert len(page["items"]) <= 1
        seen += [p["id"] for p in page["items"]]
        nxt = follow(resp)
        if nxt is None:
            assert page["next_cursor"] is None
            assert "Link" not in resp.headers
            return seen
        resp = caller.get(nxt)
    raise AssertionError("paging did not end")


def test_paging_walks_every_row_once(reporter):
    token = unique("paging")
    created = sorted(create(reporter, name=f"{token} {i}")["id"] for i in range(3))
    first = f"/v1/parties?q={token}&limit=1"

    def by_cursor(resp):
        cursor = resp.get_json()["next_cursor"]
        return f"{first}&cursor={cursor}" if cursor else None

    def by_link(resp):
        link = resp.headers.get("Link")
        if link is None:
            return None
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        url = urlsplit(match.group(1))
        return f"{url.path}?{url.query}"

    assert _walk(reporter, first, by_cursor) == created
    assert _walk(reporter, first, by_link) == created


def test_link_keeps_the_filters(reporter):
    token = unique("linked")
    for i in range(2):
        create(reporter, name=f"{token} {i}", kind="monitor")
    resp = reporter.get("/v1/parties", query_string={"q": token, "kind": "monitor", "limit": 1})
    link = resp.headers["Link"]
    assert f"q={token}" in link and "kind=monitor" in link and "limit=1" in link


def test_tampered_cursor_is_422(reporter):
    token = unique("cursor")
    for i in range(2):
        create(reporter, name=f"{token} {i}")
    cursor = reporter.get(f"/v1/parties?q={token}&limit=1").get_json()["next_cursor"]
    assert cursor
    middle = len(cursor) // 3
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    for bad in (tampered, "not-a-cursor", cursor + "x"):
        resp = reporter.get("/v1/parties", query_string={"limit": 1, "cursor": bad})
        assert resp.status_code == 422, bad
        problem_of(resp)
        assert "cursor" in error_fields(resp)


def test_cursor_of_another_listing_is_422(admin):
    cursor = admin.get("/v1/keys?limit=1").get_json()["next_cursor"]
    assert cursor
    resp = admin.get("/v1/parties", query_string={"cursor": cursor})
    assert resp.status_code == 422
    assert "cursor" in error_fields(resp)


@pytest.mark.parametrize("limit", ["501", "0", "-1", "ten"])
def test_bad_limit_is_422(reader, limit):
    resp = reader.get("/v1/parties", query_string={"limit": limit})
    assert resp.status_code == 422
    problem_of(resp)
    assert "query.limit" in error_fields(resp)


def test_limit_500_is_allowed(reader):
    assert reader.get("/v1/parties?limit=500").status_code == 200


def test_patch_needs_the_current_etag(reporter):
    party = create(reporter)
    path = f"/v1/parties/{party['id']}"
    etag = reporter.get(path).headers["ETag"]

    missing = reporter.patch(path, json={"name": "No If-Match"})
    assert missing.status_code == 428
    problem_of(missing)

    stale = reporter.patch(path, json={"name": "Stale"}, etag='"0000"')
    assert stale.status_code == 412
    problem_of(stale)
    assert reporter.get(path).get_json()["name"] == party["name"]

    ok = reporter.patch(path, json={"name": "Current"}, etag=etag)
    assert ok.status_code == 200
    assert ok.get_json()["name"] == "Current"
    assert ok.get_json()["version"] == party["version"] + 1

    # The old ETag is stale now; the one the PATCH answered is current.
    assert reporter.patch(path, json={"name": "Again"}, etag=etag).status_code == 412
    chained = reporter.patch(path, json={"name": "Chained"}, etag=ok.headers["ETag"])
    assert chained.status_code == 200
    assert chained.get_json()["version"] == party["version"] + 2
    assert reporter.get(path).headers["ETag"] == chained.headers["ETag"]


def test_etag_of_create_is_usable_for_patch(reporter):
    body = PartyPayload()
    created = reporter.post("/v1/parties", json=body)
    resp = reporter.patch(
        f"/v1/parties/{body['id']}", json={"name": "Edited"}, etag=created.headers["ETag"]
    )
    assert resp.status_code == 200


def test_patch_refuses_bad_fields_and_keeps_the_party(reporter):
    party = create(reporter)
    path = f"/v1/parties/{party['id']}"
    resp = reporter.patch_fresh(path, {"id": "renamed", "kind": "militia", "name": None})
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"id", "kind", "name"}
    assert reporter.get(path).get_json() == party


def test_patched_aliases_are_searchable(reporter):
    token = unique("alias")
    party = create(reporter, aliases=[f"Old {token}"])
    path = f"/v1/parties/{party['id']}"
    assert reporter.patch_fresh(path, {"aliases": [f"Néw {token}"]}).status_code == 200
    assert party["id"] in ids_found(reporter, f"new {token}")
    assert party["id"] not in ids_found(reporter, f"old {token}")


def test_patch_of_unknown_party_is_404(reporter):
    resp = reporter.patch(f"/v1/parties/{unique('nobody')}", json={"name": "x"}, etag='"x"')
    assert resp.status_code == 404
    problem_of(resp)


def test_if_none_match_answers_304_until_it_changes(reporter):
    party = create(reporter)
    path = f"/v1/parties/{party['id']}"
    etag = reporter.get(path).headers["ETag"]
    not_modified = reporter.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.get_data() == b""

    assert reporter.patch(path, json={"name": "Changed"}, etag=etag).status_code == 200
    changed = reporter.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "Changed"


def test_concurrent_patches_with_one_etag_lose_no_update(app, reporter):
    """Several clients edit from the same read: one wins, the others are told to re-read."""
    from concurrent.futures import ThreadPoolExecutor

    party = create(reporter)
    path = f"/v1/parties/{party['id']}"
    etag = reporter.get(path).headers["ETag"]

    def edit(i: int) -> int:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {reporter.key}", "If-Match": etag}
        return client.patch(path, json={"name": f"Edit {i}"}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(edit, range(6)))
    assert statuses == [200] + [412] * 5
    final = reporter.get(path).get_json()
    assert final["version"] == party["version"] + 1
