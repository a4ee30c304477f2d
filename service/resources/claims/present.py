"""A claim as a caller may see it."""

from __future__ import annotations

from typing import Any

from ...core.actors import Principal
from ...core.disclosure import citation_view
from ...models import Claim


def claim_view(claim: Claim, viewer: Principal | None) -> dict[str, Any]:
    citations = [citation_view(link, viewer) for link in claim.sources]
    return {
        "id": claim.id,
        "violation_id": claim.violation_id,
        "claimant": claim.claimant_id,
        "stance": claim.stance,
        "responds_to": claim.responds_to_id,
        "statement": claim.statement,
        "language": claim.language,
        "translations": claim.translations,
        "made_at": claim.made_at,
        "asserts": claim.asserts,
        "sources": citations,
        "credibility": claim.credibility,
        "withdrawn": claim.withdrawn_at is not None,
        "withdrawn_at": claim.withdrawn_at,
        "withdrawn_reason": claim.withdrawn_reason,
        "withdrawn_by": claim.withdrawn_by,
        "created_by": claim.created_by_org,
        "created_at": claim.created_at,
        "updated_at": claim.updated_at,
        "version": claim.version,
    }
