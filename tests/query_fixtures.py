"""A small world of violations with known answers for the query API tests (list, export, stats).

The test database is shared and never empty, so every world has its own parties, its own admin1
names and a unique word in every description: a test scopes global filters (status, country,
bbox, ...) with `q=<word>` and finds exactly this world's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from service import db
from tests.conftest import Caller, unique
from tests.scenario import agreement, claim, party, violation


def module_caller(app, role: str = "reporter") -> Caller:
    """A caller for module-scoped fixtures (the conftest callers are per test)."""
    from service.core import keys

    org = unique("org")
    with app.app_context(), db.session_scope() as session:
        _row, secret = keys.create(session, None, org, role)
    return Caller(client=app.test_client(), key=secret, org=org, role=role)


def word() -> str:
    """A word no other row contains (folded search keeps letters and digits)."""
    return "w" + uuid.uuid4().hex[:12]


@dataclass
class World:
    word: str
    parties: dict[str, str]
    agreement: str
    admin1: dict[str, str]
    # name -> the violation as answered by POST (and later changes applied)
    v: dict[str, dict] = field(default_factory=dict)
    # name -> the body that was posted
    bodies: dict[str, dict] = field(default_factory=dict)

    def ids(self, *names: str) -> set[str]:
        return {self.v[n]["id"] for n in names}


def build_world(caller: Caller) -> World:
    w = word()
    p = {
        "A": party(caller, kind="state"),
        "B": party(caller, kind="armed_group"),
        "C": party(caller, kind="civilians"),
        "M": party(caller, kind="monitor"),
        "N": party(caller, kind="monitor"),
    }
    # Zone: lon 36.0..37.5, lat 35.0..36.5 (tests/factories.py).
    zone = agreement(caller)["id"]
    admin1 = {"hama": unique("Hama"), "idlib": unique("Idlib"), "hatay": unique("Hatay")}
    world = World(word=w, parties=p, agreement=zone, admin1=admin1)

    def loc(name, adm, country, lat=None, lon=None):
        out = {"name": name, "admin1": adm, "country": country}
        if lat is not None:
            out.update(lat=lat, lon=lon, precision="exact")
        return out

    specs = {
        # Nov 9 2018, a day; inside the zone; corroborated by two monitors.
        "V1": dict(
            title="Shelling of Halfaya",
            category="shelling",
            occurred_at="2018-11-09T00:00:00Z",
            occurred_until="2018-11-09T23:59:59Z",
            date_precision="day",
            location=loc("Halfaya", admin1["hama"], "SY", 35.2603, 36.6075),
            agreement=zone,
            provisions=["dmz-15km", "heavy-weapons"],
            attributed_party=p["A"],
            affected_parties=[p["B"]],
            casualties={"killed": {"low": 12, "best": 22, "high": 25}, "injured": {"best": 5}},
        ),
        # Dec 1 2018, a moment; inside the zone; the accused denies it.
        "V2": dict(
            title="Drone strike near Idlib",
            category="drone_strike",
            occurred_at="2018-12-01T10:00:00.25Z",
            occurred_until=None,
            date_precision="exact",
            location=loc("Jisr al-Shughur", admin1["idlib"], "SY", 35.8134, 36.3194),
            agreement=zone,
            attributed_party=p["A"],
            affected_parties=[p["C"]],
            casualties={"killed": {"best": 3}},
        ),
        # October 2018, a month; outside the zone (north of it), in Turkey.
        "V3": dict(
            title="Troop movement at the border",
            category="troop_movement",
            occurred_at="2018-10-01T00:00:00Z",
            occurred_until="2018-10-31T23:59:59Z",
            date_precision="month",
            location=loc("Reyhanli", admin1["hatay"], "TR", 36.9, 36.0),
            agreement=zone,
            attributed_party=p["B"],
        ),
        # Jan 2019; no coordinates, no agreement, no known perpetrator; later retracted.
        "V4": dict(
            title="Crossing closed",
            category="crossing_closure",
            occurred_at="2019-01-15T08:00:00Z",
            occurred_until=None,
            date_precision="day",
            location=loc("Bab al-Hawa", admin1["idlib"], "SY"),
        ),
        # Feb 2019; coordinates but no agreement (zone unknown); the accused acknowledges.
        "V5": dict(
            title="Sniping in Aleppo",
            category="sniping",
            occurred_at="2019-02-10T12:00:00Z",
            occurred_until=None,
            date_precision="exact",
            location=loc("Aleppo", unique("Aleppo"), "SY", 36.2021, 37.1343),
            attributed_party=p["B"],
            affected_parties=[p["C"], p["A"]],
            tags=["urban", "sniper; rooftop"],
            casualties={
                "killed": {"low": 1, "best": 1, "high": 2},
                "injured": {"low": 2, "best": 3, "high": 4},
            },
        ),
    }
    for body in specs.values():
        body["description"] = f"Recorded for the query tests ({w})."
    # What CSV must quote: a comma, quotes, a line break.
    specs["V1"]["description"] += ' Shells hit "the market",\nthen the school.'
    for name, body in specs.items():
        world.bodies[name] = body
        world.v[name] = violation(caller, **body)
    ids = {n: world.v[n]["id"] for n in specs}
    claim(caller, ids["V1"], claimant=p["M"], stance="alleges", statement="Artillery fire.")
    claim(caller, ids["V1"], claimant=p["N"], stance="corroborates", statement="Confirmed.")
    claim(caller, ids["V2"], claimant=p["A"], stance="denies", statement="No strike took place.")
    claim(caller, ids["V3"], claimant=p["M"], stance="alleges", statement="Columns were seen.")
    claim(caller, ids["V5"], claimant=p["B"], stance="acknowledges", statement="Our unit fired.")
    resp = caller.post(
        f"/v1/violations/{ids['V4']}/verdict",
        json={"verdict": "retracted", "reason": "Reported in error."},
    )
    assert resp.status_code == 200, resp.get_json()
    for name in specs:
        world.v[name] = caller.get(f"/v1/violations/{ids[name]}").get_json()
    expected = {"V1": "corroborated", "V2": "disputed", "V3": "reported"}
    expected.update({"V4": "retracted", "V5": "confirmed"})
    assert {n: world.v[n]["status"] for n in specs} == expected
    return world


def all_pages(caller: Caller, path: str, params: dict | None = None) -> list[dict]:
    """Every item of a listing, following next_cursor."""
    params = dict(params or {})
    items: list[dict] = []
    while True:
        resp = caller.get(path, query_string=params)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        items.extend(body["items"])
        if not body["next_cursor"]:
            return items
        params["cursor"] = body["next_cursor"]
