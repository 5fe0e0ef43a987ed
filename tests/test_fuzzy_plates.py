"""Fuzzy plate ranking: the fast index ranks exactly as a character-by-character comparison.

The index (analytics.queries._PlateIndex) drops plates early and adds costs in half units;
this checks, on thousands of realistic plates and misreads, that the analyst still gets
the same plates, costs and order as the plain rule: same length only, per position 0 for
the same character, 0.5 for a listed OCR confusion (0/D/Q, 8/B, 1/7, 2/Z, 5/S), 1 for any
other, cheapest first, then the most seen, then the order the plates were loaded in.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from analytics.queries import CONFUSION_COST, CONFUSIONS, OTHER_COST, _PlateIndex
from bench.generate_sightings import plate_population

NOW = datetime(2026, 11, 1, tzinfo=UTC)
GROUP = {ch: g for g in CONFUSIONS for ch in g}


def reference(plates: list[str], counts: np.ndarray, query: str) -> list[tuple[float, int, int]]:
    """(cost, -sightings, load position) of every plate of the query's length, best first."""
    def cost(plate: str) -> float:
        return sum(0.0 if a == b else CONFUSION_COST if GROUP.get(a, a) == GROUP.get(b, b + "!")
                   else OTHER_COST for a, b in zip(plate, query, strict=True))

    return sorted((cost(p), -int(counts[i]), i) for i, p in enumerate(plates) if len(p) == len(query))


def test_fuzzy_index_ranks_like_the_character_by_character_rule() -> None:
    rng = np.random.default_rng(11)
    plates = [str(p) for p in plate_population(5000, rng)]
    plates += [p[:7] + "D" for p in plates[:300]]  # 8-character plates too
    plates += ["黑A1234挂", "京A12345", "黑AD1234", "黑A0Q123", "黑A12345", "黑A1Z345"]
    counts = rng.integers(1, 6, len(plates))  # few distinct counts: ties must keep load order
    index = _PlateIndex(plates, counts, [NOW] * len(plates), [NOW] * len(plates))
    alphabet = list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZIO黑京吉挂")
    for _ in range(150):
        query = list(plates[int(rng.integers(len(plates)))])
        for _ in range(int(rng.integers(0, 4))):
            query[int(rng.integers(len(query)))] = str(rng.choice(alphabet))
        text = "".join(query)
        ranked = reference(plates, counts, text)
        for max_cost in (0.0, 0.5, 1.0, 2.0):
            for limit in (1, 20):
                found = [(m.plate, m.cost) for m in index.nearest(text, max_cost, limit)]
                expected = [(plates[i], c) for c, _, i in ranked if c <= max_cost][:limit]
                assert found == expected, (text, max_cost, limit)


def test_fuzzy_index_on_no_plates_finds_nothing() -> None:
    assert _PlateIndex([], np.zeros(0, dtype=np.int64), [], []).nearest("黑A12345", 1.0, 20) == []
