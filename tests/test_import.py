"""`flask --app service import`: ACLED and UCDP GED exports onto violations, parties and claims."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service import db
from service.importers.fields import country_code
from service.importers.parties import guess_kind
from service.models import AuditEntry, Party, Source, Violation
from service.text import fold
from tests.conftest import unique

DATA = Path(__file__).parent / "data"
ACLED = DATA / "acled_sample.csv"
UCDP = DATA / "ucdp_sample.csv"


def run(app, fmt: str, path: Path):
    return app.test_cli_runner().invoke(args=["import", "--format", fmt, str(path)])


def counts() -> dict[str, int]:
    with db.session_scope(write=False) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Violation, Party, Source, AuditEntry)
        }


def by_ref(caller, ref: str) -> dict:
    with db.session_scope(write=False) as session:
        vid = session.execute(
            select(Violation.id).where(Violation.external_ref == ref)
        ).scalar_one()
    resp = caller.get(f"/v1/violations/{vid}")
    assert resp.status_code == 200
    return resp.get_json()


def party_row(pid: str) -> Party:
    with db.session_scope(write=False) as session:
        return session.get(Party, pid)


def named(pid: str | None, name: str) -> bool:
    """The party is the one the files call `name`: created by the import under that name, or
    found beforehand by that name or alias (other tests may have recorded these actors)."""
    return pid is not None and f"|{fold(name)}|" in party_row(pid).search_text


def imported_kind(pid: str) -> str | None:
    """The kind the importer guessed, when the importer created the party."""
    row = party_row(pid)
    return row.kind if row.created_by_org.startswith("import-") else None


@pytest.fixture(scope="module")
def imported(app):
    """Both sample files imported once (before any re-import), with a party known beforehand
    by one of the spellings the files use."""
    from service.auth import Principal
    from service.core import keys, parties

    known = unique("jaysh")
    with db.session_scope() as session:
        keys.ensure_org(session, None, "test-import-setup")
        actor = Principal(org="test-import-setup", role="admin", key_id=None)
        parties.create(
            session,
            actor,
            {
                "id": known,
                "name": "Jaish al-Izzah",
                "kind": "armed_group",
                "aliases": ["Jaysh al-Izza"],
            },
        )
    before = counts()
    acled = run(app, "acled", ACLED)
    ucdp = run(app, "ucdp", UCDP)
    return {"acled": acled, "ucdp": ucdp, "before": before, "after": counts()}


def test_acled_counts_and_rejected_rows(imported):
    result = imported["acled"]
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "5 data rows, 3 inserted, 0 unchanged, 2 rejected" in err
    # Data rows count from 1 after the header; SYR1002's notes span two lines of the file.
    assert "data row 4 (line 6) SYR1004: unknown time_precision '4'" in err
    assert "data row 5 (line 7) SYR1005: bad coordinates" in err


def test_acled_rows_become_violations(imported, admin):
    shelling = by_ref(admin, "acled:SYR1001")
    assert shelling["category"] == "shelling"
    assert shelling["title"] == "Shelling/artillery/missile attack in Halfaya"
    assert (shelling["occurred_at"], shelling["occurred_until"], shelling["date_precision"]) == (
        "2018-11-09T00:00:00+00:00",
        "2018-11-09T23:59:59+00:00",
        "day",
    )
    assert shelling["location"] == {
        "name": "Halfaya",
        "admin1": "Hama",
        "admin2": "Muhradah",
        "country": "SY",
        "lat": 35.2603,
        "lon": 36.6075,
        "precision": "exact",
    }
    assert shelling["casualties"] == {"killed": {"best": 22}}
    assert shelling["reported_by"] == "import-acled"
    # Shelling is one-sided: actor1 is the alleged perpetrator.
    assert named(shelling["attributed_party"], "Military Forces of Syria (2000-)")
    assert imported_kind(shelling["attributed_party"]) in ("armed_force", None)

    clash = by_ref(admin, "acled:SYR1002")
    assert clash["category"] == "ground_assault"
    # Week precision: the recorded date is the middle of the week.
    assert (clash["occurred_at"], clash["occurred_until"], clash["date_precision"]) == (
        "2018-11-12T00:00:00+00:00",
        "2018-11-18T23:59:59+00:00",
        "week",
    )
    assert clash["location"]["precision"] == "near"
    # In a battle neither actor is the initiator by ACLED's rules: no attribution.
    assert clash["attributed_party"] is None
    hts, army = clash["affected_parties"]
    assert named(hts, "Hayat Tahrir al-Sham")
    assert army == shelling["attributed_party"]  # created once, then found again

    strike = by_ref(admin, "acled:SYR1003")
    assert strike["category"] == "drone_strike"  # "Air/drone strike" whose notes say drone
    assert (strike["occurred_at"], strike["occurred_until"], strike["date_precision"]) == (
        "2018-11-01T00:00:00+00:00",
        "2018-11-30T23:59:59+00:00",
        "month",
    )
    assert strike["location"]["precision"] == "admin2"
    assert strike["casualties"] == {"killed": {"best": 0}}
    (civilians,) = strike["affected_parties"]
    assert named(civilians, "Civilians (Syria)")
    assert imported_kind(civilians) in ("civilians", None)


def test_each_row_is_a_claim_citing_the_dataset_row(imported, admin):
    shelling = by_ref(admin, "acled:SYR1001")
    (claim,) = shelling["claims"]
    assert named(claim["claimant"], "ACLED")
    assert imported_kind(claim["claimant"]) in ("monitor", None)
    assert claim["stance"] == "alleges"
    assert claim["statement"].startswith("On 9 November 2018, regime forces shelled Halfaya")
    assert claim["asserts"]["killed"] == 22
    assert claim["asserts"]["attributed_party"] == shelling["attributed_party"]
    (citation,) = claim["sources"]
    assert citation["locator"] == "event_id_cnty SYR1001"
    assert "Syrian Observatory for Human Rights" in citation["excerpt"]
    source = citation["source"]
    assert (source["kind"], source["publisher"], source["title"]) == (
        "dataset",
        "ACLED",
        "ACLED event SYR1001",
    )
    with db.session_scope(write=False) as session:
        assert session.get(Source, source["id"]).external_ref == "acled:SYR1001"

    ucdp = by_ref(admin, "ucdp:244001")
    (claim,) = ucdp["claims"]
    assert named(claim["claimant"], "UCDP")
    assert claim["statement"] == "Regime shelling kills 22 rebels in Hama"
    (citation,) = claim["sources"]
    assert citation["source"]["title"] == "UCDP GED event 244001"
    assert citation["source"]["publisher"] == "UCDP"
    assert citation["locator"] == "id 244001, relid SYR-2018-1-299-1"


def test_actors_are_found_by_alias_before_a_party_is_created(imported, admin):
    shelling = by_ref(admin, "acled:SYR1001")
    (affected,) = shelling["affected_parties"]
    # "Jaysh al-Izza" was known already (as an alias): reused, not created again.
    assert party_row(affected).created_by_org != "import-acled"
    ucdp = by_ref(admin, "ucdp:244001")
    assert affected in ucdp["affected_parties"]


def test_ucdp_rows_become_violations(imported, admin):
    result = imported["ucdp"]
    assert result.exit_code == 0, result.output
    assert "4 data rows, 2 inserted, 0 unchanged, 2 rejected" in result.stderr
    assert (
        "data row 3 (line 4) 244003: casualties.killed.high: must not be below best (10)"
        in result.stderr
    )
    assert "data row 4 (line 5) 244004: bad date: date_start '2018-13-40'" in result.stderr

    clash = by_ref(admin, "ucdp:244001")
    assert clash["category"] == "ground_assault"
    assert clash["date_precision"] == "day"
    assert clash["occurred_at"] == "2018-11-09T00:00:00+00:00"
    assert clash["casualties"] == {
        "killed": {"low": 20, "best": 22, "high": 25},
        "civilian": {"killed": {"best": 0}},
    }
    assert clash["location"]["precision"] == "exact"
    assert clash["location"]["country"] == "SY"
    assert clash["attributed_party"] is None  # a dyad: UCDP does not say who started it
    government, _jaysh = clash["affected_parties"]
    assert named(government, "Government of Syria")
    assert imported_kind(government) in ("state", None)

    massacre = by_ref(admin, "ucdp:244002")
    assert massacre["category"] == "other"
    assert named(massacre["attributed_party"], "IS")  # one-sided violence: side A did it
    (civilians,) = massacre["affected_parties"]
    assert named(civilians, "Civilians")
    assert (massacre["occurred_at"], massacre["occurred_until"], massacre["date_precision"]) == (
        "2018-11-01T00:00:00+00:00",
        "2018-11-30T23:59:59+00:00",
        "month",
    )
    assert massacre["location"]["precision"] == "admin1"
    assert massacre["casualties"]["civilian"] == {"killed": {"best": 5}}
    assert massacre["claims"][0]["asserts"]["civilian_killed"] == 5


def test_rejected_rows_leave_nothing(imported):
    with db.session_scope(write=False) as session:
        refs = set(
            session.execute(
                select(Violation.external_ref).where(
                    Violation.external_ref.in_(
                        ["acled:SYR1004", "acled:SYR1005", "ucdp:244003", "ucdp:244004"]
                    )
                )
            ).scalars()
        )
        assert refs == set()
        assert (
            session.execute(
                select(func.count()).select_from(Source).where(Source.external_ref == "ucdp:244003")
            ).scalar_one()
            == 0
        )
    grew = {k: imported["after"][k] - imported["before"][k] for k in imported["before"]}
    assert grew["Violation"] == 5
    assert grew["Source"] == 5


def test_reimporting_changes_nothing(app, imported):
    before = counts()
    acled = run(app, "acled", ACLED)
    ucdp = run(app, "ucdp", UCDP)
    assert acled.exit_code == 0 and ucdp.exit_code == 0
    assert "0 inserted, 3 unchanged, 2 rejected" in acled.stderr
    assert "0 inserted, 2 unchanged, 2 rejected" in ucdp.stderr
    # Not a row, party, source or audit entry more.
    assert counts() == before


def test_header_without_required_columns_is_refused(app, tmp_path):
    header = ACLED.read_text(encoding="utf-8").splitlines()[0].split(",")
    lacking = [c for c in header if c not in ("event_date", "fatalities")]
    path = tmp_path / "broken.csv"
    path.write_text(",".join(lacking) + "\n", encoding="utf-8")
    before = counts()
    result = run(app, "acled", path)
    assert result.exit_code != 0
    assert "event_date" in result.output and "fatalities" in result.output
    assert counts() == before
    # An ACLED file is not a UCDP file.
    result = run(app, "ucdp", ACLED)
    assert result.exit_code != 0
    assert "date_prec" in result.output


def test_unreadable_file_is_refused(app, tmp_path):
    result = run(app, "ucdp", tmp_path / "missing.csv")
    assert result.exit_code != 0
    assert "missing.csv" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    result = run(app, "ucdp", empty)
    assert result.exit_code != 0
    assert "no header" in result.output


@pytest.mark.parametrize(
    ("name", "iso", "code"),
    [
        ("Syria", "760", "SY"),
        ("", "760", "SY"),
        ("Syria", "", "SY"),
        ("DR Congo (Zaire)", "", "CD"),
        ("Russia (Soviet Union)", "", "RU"),
        ("Turkey", "", "TR"),
        ("Kosovo", "0", None),
    ],
)
def test_country_names_and_iso_numbers(name, iso, code):
    assert country_code(name, iso) == code


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Military Forces of Syria (2000-)", "armed_force"),
        ("Police Forces of Turkey (2016-)", "armed_force"),
        ("Government of Syria", "state"),
        ("Civilians (Syria)", "civilians"),
        ("Civilians", "civilians"),
        ("Protesters (Syria)", "other"),
        ("Hayat Tahrir al-Sham", "armed_group"),
    ],
)
def test_party_kind_guessed_from_the_actor_name(name, kind):
    assert guess_kind(name) == kind
