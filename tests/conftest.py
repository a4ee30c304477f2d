"""Fixtures: a migrated database (SQLite, or TEST_DATABASE_URL), the app, keys and factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from service import config as service_config
from service import create_app, db


def alembic_config(url: str) -> Config:
    cfg = Config(str(service_config.ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ledger.db'}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "RATE_LIMIT": "0",
            "PUBLIC_READS": False,
        }
    )
    yield app
    app.extensions["ledger.db"][0].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Caller:
    """A test client bound to one organisation's key."""

    client: object
    key: str | None
    org: str | None
    role: str | None

    def _headers(self, headers=None):
        out = dict(headers or {})
        if self.key:
            out.setdefault("Authorization", f"Bearer {self.key}")
        return out

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def patch(self, path, json=None, etag=None, **kw):
        headers = self._headers(kw.pop("headers", None))
        if etag is not None:
            headers["If-Match"] = etag
        return self.client.patch(path, json=json, headers=headers, **kw)

    def patch_fresh(self, path, json):
        """PATCH with the ETag of a fresh GET, as a careful client does."""
        current = self.get(path)
        assert current.status_code == 200, current.get_json()
        return self.patch(path, json=json, etag=current.headers["ETag"])


def key_id_of(app, caller: Caller) -> str:
    """The id of the API key a caller sends."""
    from sqlalchemy import select

    from service.auth import hash_key
    from service.models import ApiKey

    with app.app_context(), db.session_scope(write=False) as session:
        return session.execute(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(caller.key))
        ).scalar_one()


@pytest.fixture
def make_caller(app, client) -> Callable[..., Caller]:
    from service.core import keys

    def make(role: str = "reporter", org: str | None = None) -> Caller:
        org = org or unique("org")
        with app.app_context(), db.session_scope() as session:
            _row, secret = keys.create(session, None, org, role)
        return Caller(client=client, key=secret, org=org, role=role)

    return make


@pytest.fixture
def admin(make_caller) -> Caller:
    return make_caller("admin")


@pytest.fixture
def reporter(make_caller) -> Caller:
    return make_caller("reporter")


@pytest.fixture
def verifier(make_caller) -> Caller:
    return make_caller("verifier")


@pytest.fixture
def reader(make_caller) -> Caller:
    return make_caller("reader")


@pytest.fixture
def anonymous(client) -> Caller:
    return Caller(client=client, key=None, org=None, role=None)


def error_fields(response) -> dict[str, str]:
    body = response.get_json()
    return {e["field"]: e["reason"] for e in body.get("errors", [])}


@pytest.fixture
def make_app(database_url):
    """Builds another app with other settings (or another database); its engine is disposed
    afterwards, and the default engine (used outside an app context) is the test database's
    again."""
    built = []

    def make(**settings):
        config = {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "RATE_LIMIT": "0",
            "PUBLIC_READS": False,
        }
        config.update(settings)
        other = create_app(config)
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.get_engine().dispose()
    db.init_engine(database_url)


@pytest.fixture
def engine(app):
    """The session app's engine, for tests that look at the tables themselves."""
    with app.app_context():
        return db.get_engine()


def problem_of(response) -> dict:
    """The RFC 9457 body of an error response (fails when it is not problem+json)."""
    assert response.mimetype == "application/problem+json", (
        response.status_code,
        response.mimetype,
        response.get_data(as_text=True)[:300],
    )
    body = response.get_json(force=True)
    assert body["status"] == response.status_code
    assert body["title"] and body["type"]
    return body


@pytest.fixture
def fresh_database(database_url, tmp_path):
    """A separate, newly migrated database on the same backend, dropped afterwards."""
    yield from new_database(database_url, tmp_path)


def new_database(database_url: str, folder):
    """Generator: creates and migrates a database beside `database_url` (a file in `folder` on
    SQLite), yields its URL, then drops it. Shared by fixtures of any scope."""
    if database_url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        name = f"ledger_fresh_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(
            make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    else:
        admin_engine = None
        name = None
        url = f"sqlite:///{folder / 'fresh.db'}"
    command.upgrade(alembic_config(url), "head")
    yield url
    if admin_engine is not None:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
