"""Stats: counts and casualty sums of the violations that match, grouped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from ..models import (
    Violation,
)
from .filters import conditions, dialect_of

GROUP_KEYS = ("attributed_party", "category", "status", "admin1", "country", "month")
FIGURE_COLUMNS = {
    group: {figure: getattr(Violation, f"{group}_{figure}") for figure in ("low", "best", "high")}
    for group in ("killed", "injured")
}


def _group_expression(name: str, dialect: str) -> ColumnElement:
    if name == "month":
        # YYYY-MM of occurred_at in UTC; literals, not parameters, so GROUP BY matches SELECT.
        if dialect == "postgresql":
            return func.to_char(
                func.timezone(literal_column("'UTC'"), Violation.occurred_at),
                literal_column("'YYYY-MM'"),
            )
        return func.strftime(literal_column("'%Y-%m'"), Violation.occurred_at)
    if name == "attributed_party":
        return Violation.attributed_party_id
    return getattr(Violation, name)


def grouped(session: Session, filters: dict[str, Any], group_by: list[str]) -> list[dict[str, Any]]:
    """Count and casualty sums per group, in one GROUP BY; groups ordered by key, nulls last.

    A sum adds the figures that are given: a violation without, say, a high estimate adds
    nothing to `high` (null when no violation in the group gives one).
    """
    dialect = dialect_of(session)
    keys = [_group_expression(name, dialect).label(f"k{i}") for i, name in enumerate(group_by)]
    sums = [
        func.sum(col).label(f"{group}_{figure}")
        for group, figures in FIGURE_COLUMNS.items()
        for figure, col in figures.items()
    ]
    stmt = (
        select(*keys, func.count().label("n"), *sums)
        .where(*conditions(filters, dialect))
        .group_by(*keys)
        .order_by(*[key.asc().nulls_last() for key in keys])
    )
    out = []
    for row in session.execute(stmt):
        values = [getattr(row, f"k{i}") for i in range(len(keys))]
        group: dict[str, Any] = {
            "key": values[0] if len(values) == 1 else values,
            "count": row.n,
        }
        for name, figures in FIGURE_COLUMNS.items():
            group[name] = {
                figure: (None if (v := getattr(row, f"{name}_{figure}")) is None else int(v))
                for figure in figures
            }
        out.append(group)
    return out
