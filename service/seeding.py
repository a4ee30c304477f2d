"""Loads seeds/ through the same validation and service functions as the API, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml
from sqlalchemy import select

from . import config, db
from .core import agreements, keys, parties, sources, violations
from .core.actors import Principal
from .errors import ValidationFailed, flatten_messages
from .models import Agreement, Party, Violation

SEED_ORG = "ceasefire-ledger-seeds"
ACTOR = Principal(org=SEED_ORG, role="admin", key_id=None)


class SeedError(Exception):
    pass


def _load(schema: ma.Schema, data: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ma.ValidationError as exc:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in flatten_messages(exc.messages))
        raise SeedError(f"{where}: {detail}") from None


def load_seeds(path: str | None = None) -> dict[str, int]:
    from .resources.agreements.schemas import AgreementCreateSchema
    from .resources.claims.schemas import ClaimCreateSchema
    from .resources.parties.schemas import PartyCreateSchema
    from .resources.sources.schemas import SourceCreateSchema
    from .resources.violations.schemas import ViolationCreateSchema

    folder = Path(path) if path else config.ROOT / "seeds"
    counts = {"parties": 0, "agreements": 0, "sources": 0, "violations": 0, "claims": 0}
    for file in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        with db.session_scope() as session:
            keys.ensure_org(session, None, SEED_ORG, "Ceasefire Ledger seed data")
            for item in data.get("parties", []):
                if session.get(Party, item["id"]) is None:
                    body = _load(PartyCreateSchema(), item, f"{file.name} party {item['id']}")
                    # Affiliations may name parties later in the file: add them once all exist.
                    body.pop("affiliations", None)
                    parties.create(session, ACTOR, body)
                    counts["parties"] += 1
            for item in data.get("parties", []):
                party = session.get(Party, item["id"])
                if item.get("affiliations") and not party.affiliations:
                    parties.update(session, ACTOR, party, {"affiliations": item["affiliations"]})
            for item in data.get("agreements", []):
                if session.get(Agreement, item["id"]) is None:
                    body = _load(AgreementCreateSchema(), item, f"{file.name} agreement")
                    agreements.create(session, ACTOR, body)
                    counts["agreements"] += 1
            source_ids: dict[str, str] = {}
            for item in data.get("sources", []):
                fields = {k: v for k, v in item.items() if k not in ("key", "external_ref", "id")}
                existing = sources.find_by_ref(session, item["external_ref"])
                if existing is None:
                    body = _load(SourceCreateSchema(), fields, f"{file.name} source {item['key']}")
                    # An id the seed file fixes (the spec's examples cite it); else a new one.
                    fixed = {"id": str(item["id"])} if item.get("id") else {}
                    existing = sources.create(
                        session, ACTOR, {**body, **fixed, "external_ref": item["external_ref"]}
                    )
                    counts["sources"] += 1
                source_ids[item["key"]] = existing.id
            for item in data.get("violations", []):
                ref = item["external_ref"]
                found = session.execute(select(Violation.id).where(Violation.external_ref == ref))
                if found.first() is not None:
                    continue
                counts["violations"] += 1
                counts["claims"] += _load_violation(
                    session,
                    item,
                    source_ids,
                    file.name,
                    ViolationCreateSchema(),
                    ClaimCreateSchema(),
                )
    return counts


def _claim_body(claim: dict[str, Any], source_ids: dict[str, str], claim_ids: dict[str, str]):
    body = {k: v for k, v in claim.items() if k not in ("key", "responds_to")}
    body["sources"] = [
        {**{k: v for k, v in s.items() if k != "source"}, "source_id": source_ids[s["source"]]}
        for s in claim.get("sources", [])
    ]
    if claim.get("responds_to"):
        body["responds_to"] = claim_ids[claim["responds_to"]]
    return body


def _load_violation(session, item, source_ids, file_name, v_schema, c_schema) -> int:
    where = f"{file_name} violation {item['external_ref']}"
    fields = {k: v for k, v in item.items() if k not in ("external_ref", "claims")}
    body = _load(v_schema, fields, where)
    try:
        violation = violations.create(
            session, ACTOR, {**body, "external_ref": item["external_ref"]}
        )
        # Claims one by one, in order, so a counterclaim can answer an earlier one.
        claim_ids: dict[str, str] = {}
        for claim in item.get("claims", []):
            data = _load(c_schema, _claim_body(claim, source_ids, claim_ids), where)
            created = violations.add_claim(session, ACTOR, violation.id, data)
            claim_ids[claim["key"]] = created.id
    except ValidationFailed as exc:
        raise SeedError(f"{where}: {exc.errors}") from None
    return len(item.get("claims", []))
