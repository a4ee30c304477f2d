"""The source article's events as seed data: loaded through the API's rules, twice = once."""

import pytest
from sqlalchemy import func, select

from service import create_app, db
from service.models import AuditEntry, Claim, Party, Source, Violation


@pytest.fixture
def seeded(fresh_database):
    app = create_app(
        {
            "DATABASE_URL": fresh_database,
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "RATE_LIMIT": "0",
        }
    )
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["ledger.db"][0].dispose()


def _counts(app):
    with app.app_context(), db.session_scope(write=False) as s:
        return {
            m.__name__: s.execute(select(func.count()).select_from(m)).scalar()
            for m in (Party, Source, Violation, Claim, AuditEntry)
        }


def _reader(app):
    from service.core import keys

    with app.app_context(), db.session_scope() as s:
        _row, secret = keys.create(s, None, "analysts", "reader")
    client = app.test_client()
    return lambda path: client.get(path, headers={"Authorization": f"Bearer {secret}"})


def test_seeding_twice_is_the_same_as_once(seeded):
    before = _counts(seeded)
    assert before["Violation"] == 6 and before["Claim"] == 7 and before["Source"] == 1
    result = seeded.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert _counts(seeded) == before


def test_article_events_as_a_user_sees_them(seeded):
    get = _reader(seeded)
    items = get("/v1/violations?limit=50").get_json()["items"]
    by_title = {v["title"]: v for v in items}

    shelling = by_title["Regime shelling of Halfaya and Al-Lataminah"]
    assert shelling["attributed_party"] == "syrian-government"
    assert shelling["affected_parties"] == ["jaysh-al-izza"]
    assert shelling["casualties"] == {"killed": {"best": 22}}
    assert shelling["date_precision"] == "day"
    assert shelling["in_agreement_zone"] is True

    title = "Opposition groups and heavy weapons remain in the demilitarised zone"
    accusation = get(f"/v1/violations/{by_title[title]['id']}").get_json()
    assert accusation["status"] == "disputed"
    assert accusation["category"] == "non_compliance"
    syria, turkey = accusation["claims"]
    assert (syria["claimant"], syria["stance"]) == ("syrian-government", "alleges")
    assert (turkey["claimant"], turkey["stance"]) == ("turkey", "denies")
    assert turkey["responds_to"] == syria["id"]

    hts = get(f"/v1/violations/{by_title['HTS response against Syrian government forces']['id']}")
    (claim,) = hts.get_json()["claims"]
    assert claim["claimant"] == "hts"
    assert claim["asserts"]["killed"] == 20
    cited = claim["sources"][0]["source"]
    assert cited["publisher"] == "Middle East Monitor"
    assert cited["title"] == "Dozens dead as Syria regime, opposition clash in the north"
    assert {e["language"] for e in cited["editions"]} == {"pt", "es"}

    closure = by_title["Morek crossing closed for two days"]
    assert closure["category"] == "crossing_closure"
    assert closure["attributed_party"] is None


def test_parties_found_by_the_articles_spellings(seeded):
    get = _reader(seeded)
    for spelling in ("Hayaat Tahrir Al-Shaam", "HAY'AT TAHRIR AL-SHAM", "the regime"):
        found = [p["id"] for p in get(f"/v1/parties?q={spelling}").get_json()["items"]]
        assert found, spelling
    assert [p["id"] for p in get("/v1/parties?q=Hayaat Tahrir Al-Shaam").get_json()["items"]] == [
        "hts"
    ]
    sochi = get("/v1/agreements/sochi-2018").get_json()
    assert sochi["zone_approximate"] is True
    assert {p["code"] for p in sochi["provisions"]} == {"dmz-15km", "heavy-weapons-withdrawal"}
