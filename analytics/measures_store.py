"""The governance measures in the store: written by the governance consumer, read by the API.

The consumer upserts the absolute values of the keys a batch changed (so a rewrite is
harmless); readers answer rankings, grid counts, heat maps and trends with small indexed
queries over these aggregate tables, never over the complaints themselves.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, Literal

from sqlalchemy import delete, func, select

from analytics import tables as t
from analytics.measures import (
    D_HANDLED,
    D_ON_TIME,
    D_RATING_SUM,
    D_RATINGS,
    D_VOLUME,
    G_OPEN,
    G_OVERDUE,
    G_RATING_SUM,
    G_RATINGS,
    Y_CLOSED,
    Y_CREATED,
    Y_RATING_SUM,
    Y_RATINGS,
    DepartmentScore,
    DepartmentTally,
    GridLevelCounts,
    Measures,
    RatingPrior,
    TrendPoint,
    rank_departments,
    trend_points,
)
from analytics.store import Store


def _day(d: date) -> str:
    return f"{d:%Y%m%d}"


def _undays(s: str) -> date:
    return date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def save(store: Store, measures: Measures, everything: bool = False) -> int:
    """Write the changed keys (or all of them); returns rows written."""
    depts, grid_levels, days = measures.take_dirty()
    if everything:
        depts, grid_levels, days = set(measures.departments), set(measures.grid_levels), set(measures.days)
    hist: dict[str, dict[str, int]] = defaultdict(dict)
    if depts:
        for (dept, bucket), n in measures.histograms.items():
            if dept in depts and n:
                hist[dept][str(bucket)] = int(n)
    dept_rows = [
        {"department": d, "volume": int(v[D_VOLUME]), "handled": int(v[D_HANDLED]),
         "on_time": int(v[D_ON_TIME]), "rating_sum": int(v[D_RATING_SUM]),
         "ratings": int(v[D_RATINGS]), "histogram": hist.get(d, {})}
        for d in depts if (v := measures.departments.get(d)) is not None
    ]
    gl_rows = [
        {"grid_id": g, "level": lv, "open": int(v[G_OPEN]), "overdue": int(v[G_OVERDUE]),
         "rating_sum": int(v[G_RATING_SUM]), "ratings": int(v[G_RATINGS])}
        for (g, lv) in grid_levels if (v := measures.grid_levels.get((g, lv))) is not None
    ]
    day_rows = [
        {"day": _day(d), "grid_id": g, "level": lv, "created": int(v[Y_CREATED]),
         "closed": int(v[Y_CLOSED]), "rating_sum": int(v[Y_RATING_SUM]), "ratings": int(v[Y_RATINGS])}
        for (d, g, lv) in days if (v := measures.days.get((d, g, lv))) is not None
    ]
    with store.transaction() as conn:
        if everything:
            for table in (t.governance_departments, t.governance_grid_levels, t.governance_days):
                conn.execute(delete(table))
        for table, rows, keys in ((t.governance_departments, dept_rows, ["department"]),
                                  (t.governance_grid_levels, gl_rows, ["grid_id", "level"]),
                                  (t.governance_days, day_rows, ["day", "grid_id", "level"])):
            for start in range(0, len(rows), 2000):
                chunk = rows[start:start + 2000]
                stmt = store._insert(table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=keys,
                    set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys})
                conn.execute(stmt, chunk)
    return len(dept_rows) + len(gl_rows) + len(day_rows)


class MeasuresReader:
    """Queries for the API and the dashboard over the stored measures."""

    def __init__(self, store: Store, prior: RatingPrior | None = None) -> None:
        self.store = store
        self.prior = prior or RatingPrior()

    def ranking(self) -> list[DepartmentScore]:
        return rank_departments(self.tallies(), self.prior)

    def tallies(self) -> list[DepartmentTally]:
        gd = t.governance_departments
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(gd)).all()
        return [
            DepartmentTally(r.department, [float(r.volume), float(r.handled), float(r.on_time),
                                           float(r.rating_sum), float(r.ratings)],
                            {int(k): float(n) for k, n in (r.histogram or {}).items()})
            for r in rows
        ]

    def grid_level_counts(self, today: date) -> list[GridLevelCounts]:
        gl, gd = t.governance_grid_levels, t.governance_days
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(gl).order_by(gl.c.grid_id, gl.c.level)).all()
            closed = dict(((r.grid_id, r.level), r.closed) for r in conn.execute(
                select(gd.c.grid_id, gd.c.level, gd.c.closed).where(gd.c.day == _day(today))))
        out = []
        keys = sorted({(r.grid_id, r.level) for r in rows} | set(closed))
        by_key = {(r.grid_id, r.level): r for r in rows}
        for key in keys:
            r = by_key.get(key)
            n = r.ratings if r else 0
            out.append(GridLevelCounts(key[0], key[1], r.open if r else 0, r.overdue if r else 0,
                                       int(closed.get(key, 0)), n,
                                       round(r.rating_sum / n, 3) if r and n else None))
        return out

    def heat_map(self, start: date, end: date) -> dict[str, int]:
        gd = t.governance_days
        query = (select(gd.c.grid_id, func.sum(gd.c.created))
                 .where(gd.c.day >= _day(start), gd.c.day <= _day(end))
                 .group_by(gd.c.grid_id))
        with self.store.engine.connect() as conn:
            return {g: int(n) for g, n in conn.execute(query) if n}

    def trend(self, start: date, end: date, by: Literal["day", "week"] = "day") -> list[TrendPoint]:
        gd = t.governance_days
        query = (select(gd.c.day, func.sum(gd.c.created), func.sum(gd.c.closed),
                        func.sum(gd.c.rating_sum), func.sum(gd.c.ratings))
                 .where(gd.c.day >= _day(start), gd.c.day <= _day(end))
                 .group_by(gd.c.day))
        with self.store.engine.connect() as conn:
            per_day: dict[date, list[Any]] = {
                _undays(d): [float(a or 0), float(b or 0), float(c or 0), float(e or 0)]
                for d, a, b, c, e in conn.execute(query)}
        return trend_points(per_day, by)
