"""Plate grammar lives in `streams.plate_grammar`: analytics validates plates too, and
`video/` and `analytics/` share only `streams/`. Re-exported here for the plate path."""

from streams.plate_grammar import (  # noqa: F401
    ALPHABET,
    DIGITS,
    LETTERS,
    PROVINCES,
    SPECIALS,
    display_plate,
    is_valid_plate,
    normalize_plate,
)
