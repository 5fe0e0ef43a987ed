"""The watch list as shared reference data: people with encodings, plates, and a history
of who changed what. No face engine needed: encodings here are plain 128-number vectors."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from streams.watchlist import (
    RETENTION_ENV,
    WATCHLIST_FILE,
    Watchlist,
    WatchlistError,
    biometric_cutoff,
    biometric_retention_days,
    normalise_plate,
)


def vector(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=128)
    return v / np.linalg.norm(v) * 0.9


def test_enrolled_person_keeps_every_encoding_with_who_and_when(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        before = datetime.now(UTC)
        watchlist.enroll("王伟", [vector(1), vector(2)], "analyst.li", "wanted for fraud", ["a.jpg", None])
        watchlist.enroll("王伟", [vector(3)], "analyst.zhang")
        person = watchlist.person("王伟")
    assert person is not None
    assert person.reason == "wanted for fraud"
    assert person.added_by == "analyst.li" and person.added_at >= before
    assert [face.added_by for face in person.faces] == ["analyst.li", "analyst.li", "analyst.zhang"]
    assert [face.crop_path for face in person.faces] == ["a.jpg", None, None]
    np.testing.assert_array_equal(person.faces[2].encoding, vector(3))
    assert (tmp_path / WATCHLIST_FILE).is_file()


def test_encoding_table_rows_follow_names(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        watchlist.enroll("a", [vector(1), vector(2)], "op")
        watchlist.enroll("b", [vector(3)], "op")
        table = watchlist.encodings()
    assert table.names == ("a", "a", "b")
    assert table.matrix.shape == (3, 128)
    np.testing.assert_array_equal(table.matrix[2], vector(3))


def test_history_records_every_change_newest_first(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        watchlist.enroll("a", [vector(1)], "op1", "suspect")
        watchlist.set_reason("a", "missing person", "op2")
        watchlist.add_plate("黑A·12345", "stolen car", "op3")
        crops = watchlist.remove_person("a", "op4")
        history = watchlist.history()
    assert crops == []
    assert [(c.actor, c.action, c.subject) for c in history] == [
        ("op4", "remove_person", "a"),
        ("op3", "add_plate", "黑A12345"),
        ("op2", "update_reason", "a"),
        ("op1", "add_face", "a"),
        ("op1", "add_person", "a"),
    ]
    assert '"to": "missing person"' in history[2].detail
    assert all(c.ts.tzinfo is not None for c in history)


def test_refusals_are_clear_and_change_nothing(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        watchlist.add_person("a", "", "op")
        revision = watchlist.revision()
        with pytest.raises(WatchlistError, match="already on the watch list"):
            watchlist.add_person("a", "", "op")
        with pytest.raises(WatchlistError, match="128"):
            watchlist.enroll("b", [np.zeros(127)], "op")
        with pytest.raises(WatchlistError, match="128 finite"):
            watchlist.enroll("b", [np.full(128, np.nan)], "op")
        with pytest.raises(WatchlistError, match="name must not be empty"):
            watchlist.enroll("  ", [vector(1)], "op")
        with pytest.raises(WatchlistError, match="added_by"):
            watchlist.enroll("b", [vector(1)], "")
        with pytest.raises(WatchlistError, match="not on the watch list"):
            watchlist.remove_person("nobody", "op")
        # a bad encoding among good ones stores none of them
        with pytest.raises(WatchlistError):
            watchlist.enroll("c", [vector(1), np.zeros(3)], "op")
        assert watchlist.person("b") is None and watchlist.person("c") is None
        assert watchlist.revision() == revision


def test_plates_compare_without_separators(tmp_path: Path) -> None:
    assert normalise_plate("黑a 12345") == "黑A12345"
    with Watchlist(tmp_path) as watchlist:
        watchlist.add_plate("黑A-12345", "cloned plate reported", "op")
        assert watchlist.plate("黑A12345") is not None
        assert watchlist.reason_for("plate", "黑A 12345") == "cloned plate reported"
        assert watchlist.reason_for("plate", "黑B00000") is None
        with pytest.raises(WatchlistError, match="already"):
            watchlist.add_plate("黑A12345", "", "op")
        watchlist.remove_plate("黑A12345", "op")
        assert watchlist.plates() == []


def test_reason_for_face_identity(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        watchlist.enroll("a", [vector(1)], "op", "missing since Monday")
        assert watchlist.reason_for("face", "a") == "missing since Monday"
        assert watchlist.reason_for("face", "unknown:1234abcd") is None
        with pytest.raises(WatchlistError, match="unknown kind"):
            watchlist.reason_for("car", "a")


def _enroll_in_other_process(home: str) -> None:
    with Watchlist(Path(home)) as watchlist:
        watchlist.enroll("from-worker", [vector(7)], "dashboard")


def test_a_reader_sees_changes_made_by_another_process(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as reader:
        revision = reader.revision()
        process = multiprocessing.get_context("spawn").Process(
            target=_enroll_in_other_process, args=(str(tmp_path),)
        )
        process.start()
        process.join(60)
        assert process.exitcode == 0
        assert reader.revision() > revision
        assert reader.encodings().names == ("from-worker",)


def test_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETENTION_ENV, raising=False)
    assert biometric_retention_days() == 30
    now = datetime(2026, 3, 31, tzinfo=UTC)
    assert biometric_cutoff(now=now) == now - timedelta(days=30)
    monkeypatch.setenv(RETENTION_ENV, "7")
    assert biometric_cutoff(now=now) == now - timedelta(days=7)
    monkeypatch.setenv(RETENTION_ENV, "a week")
    with pytest.raises(ValueError, match="whole number of days"):
        biometric_retention_days()
