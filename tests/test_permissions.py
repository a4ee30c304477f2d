"""Who may do what: the role x endpoint matrix, public reads, and editing only one's own."""

from __future__ import annotations

import pytest

from tests.conftest import Caller, problem_of, unique
from tests.factories import AgreementPayload, PartyPayload

ROLES = ("anonymous", "reader", "reporter", "verifier", "admin")

# Expected status per role, in the order of ROLES.
MATRIX = {
    "GET /v1/parties": (401, 200, 200, 200, 200),
    "POST /v1/parties": (401, 403, 201, 201, 201),
    "GET /v1/parties/{id}": (401, 200, 200, 200, 200),
    "PATCH /v1/parties/{id}": (401, 403, 200, 200, 200),
    "GET /v1/agreements": (401, 200, 200, 200, 200),
    "POST /v1/agreements": (401, 403, 201, 201, 201),
    "GET /v1/agreements/{id}": (401, 200, 200, 200, 200),
    "PATCH /v1/agreements/{id}": (401, 403, 200, 200, 200),
    "GET /v1/keys": (401, 403, 403, 403, 200),
    "POST /v1/keys": (401, 403, 403, 403, 201),
    "POST /v1/keys/{id}/revoke": (401, 403, 403, 403, 200),
}

CASES = [
    pytest.param(endpoint, role, statuses[i], id=f"{endpoint}-{role}")
    for endpoint, statuses in MATRIX.items()
    for i, role in enumerate(ROLES)
]


class Scenario:
    """Runs one endpoint as one caller and checks that a refused request changed nothing."""

    def __init__(self, make_caller, admin):
        self.make_caller = make_caller
        self.admin = admin

    def owner_of(self, caller: Caller) -> Caller:
        # A reporter of the caller's own organisation creates the target, so that reporters and
        # verifiers are editing what their organisation created.
        return self.make_caller("reporter", org=caller.org)

    def run(self, endpoint: str, caller: Caller):
        method, path = endpoint.split(" ")
        collection = path.split("/")[2]
        if endpoint in ("GET /v1/parties", "GET /v1/agreements", "GET /v1/keys"):
            return caller.get(path + "?limit=1"), None
        if endpoint in ("POST /v1/parties", "POST /v1/agreements"):
            body = PartyPayload() if collection == "parties" else AgreementPayload()
            resp = caller.post(path, json=body)
            return resp, lambda: self._absent(f"/v1/{collection}/{body['id']}")
        if endpoint in ("GET /v1/parties/{id}", "GET /v1/agreements/{id}"):
            target = self._create(collection, self.owner_of(caller))
            return caller.get(target), None
        if endpoint in ("PATCH /v1/parties/{id}", "PATCH /v1/agreements/{id}"):
            owner = self.owner_of(caller)
            target = self._create(collection, owner)
            before = owner.get(target)
            field = "name" if collection == "parties" else "title"
            resp = caller.patch(target, json={field: "Renamed"}, etag=before.headers["ETag"])
            return resp, lambda: self._unchanged(target, before.get_json())
        if endpoint == "POST /v1/keys":
            org = unique("keyorg")
            resp = caller.post(path, json={"org": org, "role": "reader"})
            return resp, lambda: self._no_keys(org)
        if endpoint == "POST /v1/keys/{id}/revoke":
            created = self.admin.post("/v1/keys", json={"org": unique("keyorg"), "role": "reader"})
            key = created.get_json()
            resp = caller.post(f"/v1/keys/{key['id']}/revoke")
            return resp, lambda: self._key_works(key["key"])
        raise AssertionError(f"no scenario for {endpoint}")

    def _create(self, collection: str, owner: Caller) -> str:
        body = PartyPayload() if collection == "parties" else AgreementPayload()
        resp = owner.post(f"/v1/{collection}", json=body)
        assert resp.status_code == 201, resp.get_json()
        return f"/v1/{collection}/{body['id']}"

    def _absent(self, path: str) -> None:
        assert self.admin.get(path).status_code == 404

    def _unchanged(self, path: str, before: dict) -> None:
        assert self.admin.get(path).get_json() == before

    def _no_keys(self, org: str) -> None:
        assert self.admin.get("/v1/keys", query_string={"org": org}).get_json()["items"] == []

    def _key_works(self, key: str) -> None:
        caller = Caller(client=self.admin.client, key=key, org=None, role="reader")
        assert caller.get("/v1/parties?limit=1").status_code == 200


@pytest.mark.parametrize(("endpoint", "role", "expected"), CASES)
def test_role_endpoint_matrix(endpoint, role, expected, make_caller, anonymous, admin):
    caller = anonymous if role == "anonymous" else make_caller(role)
    resp, nothing_changed = Scenario(make_caller, admin).run(endpoint, caller)
    assert resp.status_code == expected, resp.get_json()
    if expected in (401, 403):
        problem_of(resp)
        if expected == 401:
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        if nothing_changed is not None:
            nothing_changed()


@pytest.fixture
def public_app(make_app):
    return make_app(PUBLIC_READS=True)


def test_public_reads_open_reads_but_not_writes(public_app, reporter):
    party = PartyPayload(name=unique("Public Party"))
    agreement = AgreementPayload()
    assert reporter.post("/v1/parties", json=party).status_code == 201
    assert reporter.post("/v1/agreements", json=agreement).status_code == 201

    anon = public_app.test_client()
    for path in (
        "/v1/parties?limit=1",
        f"/v1/parties/{party['id']}",
        "/v1/agreements?limit=1",
        f"/v1/agreements/{agreement['id']}",
    ):
        assert anon.get(path).status_code == 200, path
    found = anon.get("/v1/parties", query_string={"q": party["name"]}).get_json()["items"]
    assert party["id"] in [p["id"] for p in found]

    # Writes, and the admin-only key listing, still need a key.
    refused = [
        anon.post("/v1/parties", json=PartyPayload()),
        anon.post("/v1/agreements", json=AgreementPayload()),
        anon.patch(f"/v1/parties/{party['id']}", json={"name": "x"}, headers={"If-Match": "*"}),
        anon.get("/v1/keys"),
        anon.post("/v1/keys", json={"org": unique("x"), "role": "admin"}),
    ]
    for resp in refused:
        assert resp.status_code == 401, resp.request.path
        problem_of(resp)
    # A wrong key is refused even where no key is needed.
    bad = anon.get("/v1/parties", headers={"Authorization": "Bearer cl_wrong"})
    assert bad.status_code == 401


def test_reads_stay_closed_without_public_reads(anonymous):
    assert anonymous.get("/v1/agreements").status_code == 401


@pytest.mark.parametrize("collection", ["parties", "agreements"])
def test_only_the_creating_organisation_or_an_admin_edits(collection, make_caller):
    field = "name" if collection == "parties" else "title"
    body = PartyPayload() if collection == "parties" else AgreementPayload()
    path = f"/v1/{collection}/{body['id']}"
    org_a = make_caller("reporter")
    assert org_a.post(f"/v1/{collection}", json=body).status_code == 201

    for outsider in (make_caller("reporter"), make_caller("verifier")):
        resp = outsider.patch_fresh(path, {field: "Hijacked"})
        assert resp.status_code == 403, outsider.role
        problem_of(resp)
    assert org_a.get(path).get_json()[field] == body[field]

    # Another key of the same organisation may edit; so may an admin of any organisation.
    colleague = make_caller("reporter", org=org_a.org)
    assert colleague.patch_fresh(path, {field: "By a colleague"}).status_code == 200
    admin = make_caller("admin")
    resp = admin.patch_fresh(path, {field: "By an admin"})
    assert resp.status_code == 200
    assert resp.get_json()[field] == "By an admin"
    assert resp.get_json()["created_by"] == org_a.org
