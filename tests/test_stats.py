"""GET /v1/stats: counts and casualty sums per group equal the sums computed here."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields
from tests.query_fixtures import build_world, module_caller


@pytest.fixture(scope="module")
def world_caller(app):
    return module_caller(app, "reporter")


@pytest.fixture(scope="module")
def world(world_caller):
    """Five violations with known answers (tests/query_fixtures.py)."""
    return build_world(world_caller)


FIGURES = ("low", "best", "high")


def key_of(world, name: str, key: str):
    body = world.bodies[name]
    if key == "attributed_party":
        return body.get("attributed_party")
    if key == "month":
        return body["occurred_at"][:7]
    if key in ("admin1", "country"):
        return body["location"][key]
    return world.v[name][key]  # category, status (as the service derived it)


def expected_groups(world, keys: list[str]) -> list[dict]:
    groups: dict = {}
    for name, body in world.bodies.items():
        values = tuple(key_of(world, name, k) for k in keys)
        group = groups.setdefault(values, {"count": 0, "killed": {}, "injured": {}})
        group["count"] += 1
        for kind in ("killed", "injured"):
            given = (body.get("casualties") or {}).get(kind) or {}
            for figure in FIGURES:
                if given.get(figure) is not None:
                    total = group[kind].get(figure) or 0
                    group[kind][figure] = total + given[figure]
    out = []
    # Ordered by key, nulls last.
    for values in sorted(groups, key=lambda vs: [(v is None, v or "") for v in vs]):
        g = groups[values]
        out.append(
            {
                "key": values[0] if len(keys) == 1 else list(values),
                "count": g["count"],
                "killed": {f: g["killed"].get(f) for f in FIGURES},
                "injured": {f: g["injured"].get(f) for f in FIGURES},
            }
        )
    return out


@pytest.mark.parametrize(
    "group_by",
    [
        "attributed_party",
        "category",
        "status",
        "admin1",
        "country",
        "month",
        "attributed_party,month",
        "country,status",
    ],
)
def test_groups_equal_the_sums_computed_here(world, world_caller, group_by):
    resp = world_caller.get("/v1/stats", query_string={"group_by": group_by, "q": world.word})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    keys = group_by.split(",")
    assert body["group_by"] == keys
    assert body["groups"] == expected_groups(world, keys)


def test_stats_take_the_list_filters(world, world_caller):
    resp = world_caller.get(
        "/v1/stats",
        query_string={"group_by": "month", "attributed_party": world.parties["A"]},
    )
    assert resp.get_json()["groups"] == [
        {
            "key": "2018-11",
            "count": 1,
            "killed": {"low": 12, "best": 22, "high": 25},
            "injured": {"low": None, "best": 5, "high": None},
        },
        {
            "key": "2018-12",
            "count": 1,
            "killed": {"low": None, "best": 3, "high": None},
            "injured": {"low": None, "best": None, "high": None},
        },
    ]
    resp = world_caller.get(
        "/v1/stats", query_string={"group_by": "status", "q": "nothing" + world.word}
    )
    assert resp.get_json()["groups"] == []


@pytest.mark.parametrize(
    ("group_by", "reason"),
    [
        ("perpetrator", "unknown key"),
        ("status,category,month", "one key, or two"),
        ("month,month", "twice"),
    ],
)
def test_bad_group_by_is_named(world_caller, group_by, reason):
    resp = world_caller.get("/v1/stats", query_string={"group_by": group_by})
    assert resp.status_code == 422
    assert reason in error_fields(resp)["query.group_by"]


def test_group_by_is_required_and_unknown_parameters_refused(world_caller):
    resp = world_caller.get("/v1/stats", query_string={"limit": 5})
    assert resp.status_code == 422
    assert {"query.group_by", "query.limit"} <= set(error_fields(resp))
