"""A source as a caller may see it: confidential identities withheld from the wrong eyes."""

from __future__ import annotations

from typing import Any

from ...auth import Principal
from ...core.sources import IDENTIFYING, may_identify
from ...models import Source

PUBLIC = (
    "id",
    "kind",
    "title",
    "publisher",
    "author",
    "url",
    "published_at",
    "retrieved_at",
    "archive_url",
    "sha256",
    "language",
    "reliability",
    "confidential",
    "editions",
    "created_at",
    "updated_at",
    "version",
)


def source_view(source: Source, viewer: Principal | None) -> dict[str, Any]:
    out = {f: getattr(source, f) for f in PUBLIC}
    out["created_by"] = source.created_by_org
    out["redacted"] = not may_identify(viewer, source)
    if out["redacted"]:
        for field in IDENTIFYING:
            out[field] = None
        out["editions"] = [{**e, "url": None} for e in (source.editions or [])]
    return out
