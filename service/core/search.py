"""Full-text search: what `q` searches (one folded document per violation), and the match of
its terms on PostgreSQL (tsvector) and SQLite (FTS5)."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.orm import Session

from ..models import (
    SEARCH_VECTOR,
    Claim,
    Violation,
    ViolationSearch,
)
from ..text import fold

# Terms of one `q`; more would only make the query slower, not better.
MAX_TERMS = 32
# SQLite's FTS5 index of violation_search (created by the migration, not a model).
_FTS = table("violation_fts", column("rowid", Integer), column("document", Text))


def search_terms(q: str) -> list[tuple[str, bool]]:
    """The words of `q`, folded exactly like the documents; (word, is_prefix).

    A word ending in `*` matches as a prefix ("shell*" finds "shelling"). Folding leaves only
    [a-z0-9] words, so they are safe to place in a tsquery or an FTS5 query as they are.
    """
    terms: list[tuple[str, bool]] = []
    for raw in q.split():
        words = fold(raw).split()
        for i, word in enumerate(words):
            terms.append((word, raw.endswith("*") and i == len(words) - 1))
    return terms[:MAX_TERMS]


def search_document(title: str | None, description: str | None, claim_texts: list[str]) -> str:
    return fold(" ".join([title or "", description or "", *claim_texts]))


def claim_texts(rows) -> list[str]:
    texts: list[str] = []
    for statement, translations in rows:
        texts.append(statement or "")
        texts.extend((t or {}).get("text") or "" for t in translations or [])
    return texts


def refresh_search_document(
    session: Session, violation: Violation, *, new_claims: list[Claim] | None = None
) -> None:
    """Recompute the violation's search document after its text or its claims changed.

    Called by core.violations (create, update, add_claim, claim_changed) in the writer's
    transaction, so a committed violation is always findable by what it says now. For a
    violation created in this transaction, pass its claims as new_claims: nothing is read back
    (and nothing flushed, which a batch that flushes many violations at once relies on).
    """
    if new_claims is not None:
        texts = claim_texts((c.statement, c.translations) for c in new_claims)
        document = search_document(violation.title, violation.description, texts)
        session.add(ViolationSearch(violation_id=violation.id, document=document))
        return
    rows = session.execute(
        select(Claim.statement, Claim.translations)
        .where(Claim.violation_id == violation.id)
        .order_by(Claim.seq)
    )
    document = search_document(violation.title, violation.description, claim_texts(rows))
    row = session.execute(
        select(ViolationSearch).where(ViolationSearch.violation_id == violation.id)
    ).scalar_one_or_none()
    if row is None:
        session.add(ViolationSearch(violation_id=violation.id, document=document))
    elif row.document != document:
        row.document = document


def matches(dialect: str, terms: list[tuple[str, bool]]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # The expression must be the indexed one, to_tsvector('simple'::regconfig, document).
        query = " & ".join(f"{w}:*" if prefix else w for w, prefix in terms)
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), query)
        found = select(ViolationSearch.violation_id).where(SEARCH_VECTOR.bool_op("@@")(tsquery))
    else:
        query = " ".join(f'"{w}"*' if prefix else f'"{w}"' for w, prefix in terms)
        found = (
            select(ViolationSearch.violation_id)
            .join(_FTS, _FTS.c.rowid == ViolationSearch.id)
            .where(literal_column("violation_fts").bool_op("MATCH")(query))
        )
    return Violation.id.in_(found)
