"""Agreement zones: whether a place lies inside the area a ceasefire covers."""

from __future__ import annotations

import json
from functools import lru_cache

from shapely.geometry import Point, shape
from shapely.prepared import prep

from ..models import Agreement


@lru_cache(maxsize=64)
def _prepared_zone(agreement_id: str, version: int, zone_json: str):
    return prep(shape(json.loads(zone_json)))


def prepared_zone(agreement: Agreement | None):
    """The agreement's zone ready for point tests, or None when it has none."""
    if agreement is None or not agreement.zone:
        return None
    return _prepared_zone(
        agreement.id, agreement.version, json.dumps(agreement.zone, sort_keys=True)
    )


def zone_membership(
    agreement: Agreement | None, lat: float | None, lon: float | None, *, zone=None
):
    """True/False when the agreement has a zone and the violation has coordinates, else None.

    zone: the agreement's prepared_zone, when the caller tests many points against it.
    """
    if agreement is None or not agreement.zone or lat is None or lon is None:
        return None
    zone = zone or prepared_zone(agreement)
    return bool(zone.covers(Point(lon, lat)))
