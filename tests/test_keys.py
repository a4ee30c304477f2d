"""API keys: created by admins or the CLI, shown once, stored only as a hash, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import Caller, error_fields, problem_of, unique


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_key(admin, org: str, role: str = "reporter"):
    resp = admin.post("/v1/keys", json={"org": org, "role": role})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_admin_creates_a_key_that_is_shown_once_and_works(admin, client):
    org = unique("ngo")
    body = create_key(admin, org, "reporter")
    assert {"id", "key", "org", "role"} <= set(body)
    assert body["org"] == org
    assert body["role"] == "reporter"
    key = body["key"]
    assert len(key) >= 32

    # The new key works at once, with the role it was given.
    new = Caller(client=client, key=key, org=org, role="reporter")
    assert new.get("/v1/parties?limit=1").status_code == 200
    assert new.get("/v1/keys").status_code == 403

    # The listing names the key but never shows it again.
    listing = admin.get("/v1/keys", query_string={"org": org})
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert [item["id"] for item in items] == [body["id"]]
    assert "key" not in items[0]
    assert key not in listing.get_data(as_text=True)


def test_revoked_key_is_refused(admin, client):
    body = create_key(admin, unique("ngo"))
    assert client.get("/v1/parties?limit=1", headers=bearer(body["key"])).status_code == 200

    revoked = admin.post(f"/v1/keys/{body['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"] is not None
    assert "key" not in revoked.get_json()

    resp = client.get("/v1/parties?limit=1", headers=bearer(body["key"]))
    assert resp.status_code == 401
    problem_of(resp)
    # Revoking twice is harmless, and the listing shows the key as revoked.
    assert admin.post(f"/v1/keys/{body['id']}/revoke").status_code == 200
    listed = admin.get("/v1/keys", query_string={"org": body["org"]}).get_json()["items"]
    assert listed[0]["revoked_at"] is not None


def test_revoking_an_unknown_key_is_404(admin):
    resp = admin.post(f"/v1/keys/{unique('nokey')}/revoke")
    assert resp.status_code == 404
    problem_of(resp)


def test_wrong_key_is_401_with_bearer_challenge(client):
    resp = client.get("/v1/parties", headers=bearer("cl_" + "x" * 43))
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    body = problem_of(resp)
    assert body["status"] == 401


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "cl_abc", "Bearer-abc"],
    ids=["basic", "bearer-without-key", "bearer-blank", "other-scheme", "bare-key", "no-space"],
)
def test_malformed_authorization_header_is_401(client, header):
    resp = client.get("/v1/parties", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    problem_of(resp)


def test_scheme_is_case_insensitive(reader, client):
    resp = client.get("/v1/parties?limit=1", headers={"Authorization": f"bearer {reader.key}"})
    assert resp.status_code == 200


def test_keys_are_stored_only_as_a_hash(admin, engine):
    body = create_key(admin, unique("ngo"))
    key = body["key"]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": body["id"]})
        row = row.mappings().one()
        audit = conn.execute(
            text("SELECT * FROM audit_log WHERE entity_id = :id"), {"id": body["id"]}
        ).mappings()
        audit_rows = [dict(r) for r in audit]
    assert row["key_hash"] != key
    for column, value in row.items():
        assert key not in str(value), f"api_keys.{column} holds the key in clear"
    # The audit log records the creation, but not the secret.
    assert audit_rows
    assert all(key not in str(r) for r in audit_rows)


def test_cli_creates_a_key_printed_alone_on_its_last_line(app, client):
    org = unique("cli-org")
    result = app.test_cli_runner().invoke(
        args=["keys", "create", "--org", org, "--role", "verifier"]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.rstrip("\n").splitlines()[-1]
    assert key == key.strip() and " " not in key
    resp = client.get("/v1/keys", headers=bearer(key))
    assert resp.status_code == 403  # authenticated, but a verifier is not an admin
    assert client.get("/v1/parties?limit=1", headers=bearer(key)).status_code == 200


def test_cli_key_for_an_existing_org(app, admin, client):
    result = app.test_cli_runner().invoke(
        args=["keys", "create", "--org", admin.org, "--role", "reader"]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert client.get("/v1/parties?limit=1", headers=bearer(key)).status_code == 200
    listed = admin.get("/v1/keys", query_string={"org": admin.org}).get_json()["items"]
    assert sorted(item["role"] for item in listed) == ["admin", "reader"]


@pytest.mark.parametrize(
    "args",
    [["--role", "boss"], ["--role", "Admin"], ["--role", ""]],
    ids=["unknown", "capitalised", "empty"],
)
def test_cli_refuses_an_invalid_role(app, args):
    result = app.test_cli_runner().invoke(args=["keys", "create", "--org", unique("x"), *args])
    assert result.exit_code != 0
    assert "--role" in result.output


def test_cli_refuses_an_org_that_is_not_a_slug(app):
    result = app.test_cli_runner().invoke(
        args=["keys", "create", "--org", "Not A Slug", "--role", "reader"]
    )
    assert result.exit_code != 0
    assert "--org" in result.output


def test_unknown_role_is_422_naming_role(admin):
    resp = admin.post("/v1/keys", json={"org": unique("ngo"), "role": "superuser"})
    assert resp.status_code == 422
    problem_of(resp)
    assert set(error_fields(resp)) == {"role"}


def test_create_key_names_every_bad_field(admin):
    resp = admin.post("/v1/keys", json={"org": "Bad Org!", "extra": 1})
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"org", "role", "extra"}
