"""The violation record: its public fields and the columns that hold them."""

from __future__ import annotations

from typing import Any

from ..models import CASUALTY_COLUMNS

LOCATION_COLUMNS = {
    "name": "location_name",
    "admin1": "admin1",
    "admin2": "admin2",
    "country": "country",
    "lat": "lat",
    "lon": "lon",
    "precision": "location_precision",
}
CASUALTY_GROUPS = {
    ("killed",): "killed",
    ("injured",): "injured",
    ("civilian", "killed"): "civilian_killed",
    ("civilian", "injured"): "civilian_injured",
}
FIGURES = ("low", "best", "high")
# Fields stored as sent, in a column of the same name.
_PLAIN_FIELDS = (
    "title",
    "description",
    "category",
    "occurred_at",
    "occurred_until",
    "date_precision",
    "provisions",
    "tags",
    "external_ref",
)
# Every column flatten can set.
FLAT_COLUMNS = (
    *_PLAIN_FIELDS,
    "agreement_id",
    "attributed_party_id",
    *LOCATION_COLUMNS.values(),
    *CASUALTY_COLUMNS,
)


def flatten(data: dict[str, Any]) -> dict[str, Any]:
    """Public shape -> column values, for the fields present in `data`."""
    out: dict[str, Any] = {}
    for field in _PLAIN_FIELDS:
        if field in data:
            out[field] = data[field]
    if "agreement" in data:
        out["agreement_id"] = data["agreement"]
    if "attributed_party" in data:
        out["attributed_party_id"] = data["attributed_party"]
    if "location" in data:
        location = data["location"] or {}
        for key, column in LOCATION_COLUMNS.items():
            out[column] = location.get(key)
    if "casualties" in data:
        casualties = data["casualties"] or {}
        for path, prefix in CASUALTY_GROUPS.items():
            node = casualties
            for step in path:
                node = (node or {}).get(step) or {}
            for figure in FIGURES:
                out[f"{prefix}_{figure}"] = node.get(figure)
    return out
