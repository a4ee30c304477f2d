"""Loads seeds/ through the same service functions as the API, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

from . import config, db
from .auth import Principal
from .core import agreements, keys, parties

SEED_ORG = "ceasefire-ledger-seeds"


def load_seeds(path: str | None = None) -> dict[str, int]:
    folder = Path(path) if path else config.ROOT / "seeds"
    counts = {"parties": 0, "agreements": 0}
    actor = Principal(org=SEED_ORG, role="admin", key_id=None)
    for file in sorted(folder.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        with db.session_scope() as session:
            keys.ensure_org(session, None, SEED_ORG, "Ceasefire Ledger seed data")
            for item in data.get("parties", []):
                if session.get(parties.Party, item["id"]) is None:
                    parties.create(session, actor, item)
                    counts["parties"] += 1
            for item in data.get("agreements", []):
                if session.get(agreements.Agreement, item["id"]) is None:
                    agreements.create(session, actor, item)
                    counts["agreements"] += 1
    return counts
