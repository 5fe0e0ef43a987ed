"""Faults that must lose nothing (issue 9): broker down under load, a crashed writer on the
embedded bus, kill -9 of store writers. Each test prints its figures (`-s` shows them;
docs/RELIABILITY.md quotes them)."""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fuzz_messages import fuzzed_messages
from reliability_helpers import local_writer, produce_steadily, store_batches_until_killed

from analytics.ingest import ingest_loop
from analytics.store import Store
from streams.bus import open_bus
from streams.codec import BadMessage, decode
from streams.localbus import LocalBus
from streams.tansu import TansuBroker
from streams.topics import Topic

spawn = multiprocessing.get_context("spawn")


def _store_ids(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute(f"SELECT id FROM {table}")]  # noqa: S608 - fixed names


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return bool(condition())


# ---------------------------------------------------------------- broker down 30 s


OUTAGE_S = float(os.environ.get("CITYOPS_TEST_OUTAGE_S", "30"))


@pytest.mark.kafka
@pytest.mark.slow
def test_broker_down_30_s_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Cameras (sightings) and complaints keep producing while Tansu is stopped for 30 s
    and restarted empty; the ingest consumer, running all along, stores each exactly once."""
    broker = TansuBroker(log_file=tmp_path / "tansu.log").start()
    home = tmp_path / "home"
    db = tmp_path / "store.db"
    producers = [  # (producer number, kind, records per second)
        (1, "sighting", 40.0), (2, "sighting", 40.0), (3, "complaint", 10.0),
    ]
    before_s, after_s = 8.0, 12.0
    run_s = before_s + OUTAGE_S + after_s
    stop = threading.Event()
    store = Store.open(f"sqlite:///{db}")
    consumer_bus = open_bus(broker.url, home)
    loop, writer = ingest_loop(consumer_bus, store, stop)
    consumer = threading.Thread(target=loop.run, name="ingest", daemon=True)
    children = []
    try:
        consumer.start()
        for number, kind, rate in producers:
            child = spawn.Process(target=produce_steadily, args=(
                broker.url, str(home), number, kind, rate, run_s, str(tmp_path / f"p{number}.json")))
            child.start()
            children.append(child)
        time.sleep(before_s)
        broker.stop()  # memory storage: every topic, offset and group is gone
        down_at = time.monotonic()
        time.sleep(OUTAGE_S)
        broker.start()  # same port, empty
        up_at = time.monotonic()
        for child in children:
            child.join(run_s + 60)
            assert child.exitcode == 0
        produced_until = time.monotonic()
        reports = {n: json.loads((tmp_path / f"p{n}.json").read_text()) for n, _, _ in producers}
        sent_sightings = sum(reports[n]["sent"] for n, kind, _ in producers if kind == "sighting")
        sent_complaints = sum(reports[n]["sent"] for n, kind, _ in producers if kind == "complaint")
        caught_up = _wait(lambda: len(_store_ids(db, "sightings")) >= sent_sightings
                          and len(_store_ids(db, "complaint_events")) >= sent_complaints, 120)
        recovered_s = time.monotonic() - up_at
        complete_s = time.monotonic() - produced_until
    finally:
        stop.set()
        consumer.join(30)
        consumer_bus.close()
        store.close()
        for child in children:
            if child.is_alive():
                child.kill()
        broker.stop()
    sightings = _store_ids(db, "sightings")
    complaints = _store_ids(db, "complaint_events")
    expected_sightings = {f"s{n * 1_000_000 + i:012d}" for n, kind, _ in producers if kind == "sighting"
                          for i in range(reports[n]["sent"])}
    expected_complaints = {f"ev{n:02d}-{i:09d}" for n, kind, _ in producers if kind == "complaint"
                           for i in range(reports[n]["sent"])}
    produced = len(expected_sightings) + len(expected_complaints)
    stored = len(set(sightings) & expected_sightings) + len(set(complaints) & expected_complaints)
    lost = produced - stored
    duplicated = (len(sightings) - len(set(sightings))) + (len(complaints) - len(set(complaints)))
    figures = {
        "outage_s": round(up_at - down_at, 1), "produced": produced, "stored": stored, "lost": lost,
        "duplicated_in_store": duplicated, "redelivered_on_bus": loop.consumed - stored,
        "spooled": sum(r["spooled"] for r in reports.values()),
        "replayed_after_outage": sum(r["replayed"] for r in reports.values()),
        "longest_producer_flush_s": max(r["longest_flush_s"] for r in reports.values()),
        "producing_went_on_s_after_restart": round(produced_until - up_at, 1),
        "store_complete_s_after_restart": round(recovered_s, 1),
        "store_complete_s_after_last_produced": round(complete_s, 1),
        "left_in_spool": sum(r["left_in_spool"] for r in reports.values()),
    }
    print("\nRELIABILITY broker-outage", json.dumps(figures))
    assert caught_up, figures
    assert lost == 0 and duplicated == 0, figures
    assert figures["spooled"] > 0, "the outage must have gone through the spool"
    assert figures["left_in_spool"] == 0
    assert not list((home / "spool").glob("*.db")), "spools are removed once resent"


# ---------------------------------------------------------------- embedded bus: a writer killed


def _sighting_number(message_value: bytes) -> int:
    return int(json.loads(message_value)["id"][1:])


@pytest.mark.slow
def test_local_bus_writer_killed_mid_write_while_others_write_and_read(tmp_path: Path) -> None:
    """Two writers run to the end while a third is SIGKILLed mid-write five times (a new
    one each time) and a reader consumes throughout: the topic file stays intact, the
    reader never fails, every flushed message arrives once, and no killed writer leaves a
    hole (what arrives of it is a prefix of what it sent)."""
    folder = tmp_path / "bus"
    steady = {1: 6000, 2: 6000}  # writer -> messages
    kills = 5
    got: list[int] = []
    reader_error: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            with LocalBus(folder) as bus, bus.consumer("reader", [Topic.SIGHTINGS]) as consumer:
                while not stop.is_set():
                    batch = consumer.poll(0.2, 1000)
                    got.extend(_sighting_number(m.value) for m in batch)
                    if batch:
                        consumer.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            reader_error.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    writers = []
    for number, count in steady.items():
        done = spawn.Value("q", 0)  # kept referenced until the child has it
        process = spawn.Process(target=local_writer, args=(str(folder), number, done, count))
        process.start()
        writers.append((process, done))
    killed: dict[int, int] = {}  # writer number -> messages it had flushed when killed
    rng = random.Random(9)
    for k in range(kills):
        number = 10 + k
        flushed = spawn.Value("q", 0)
        victim = spawn.Process(target=local_writer, args=(str(folder), number, flushed, 0))
        victim.start()
        deadline = time.monotonic() + 30
        while flushed.value < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))  # land anywhere in a write
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        killed[number] = flushed.value
    for process, _done in writers:
        process.join(60)
        assert process.exitcode == 0
    expected = sum(steady.values()) + sum(killed.values())
    _wait(lambda: len(got) >= expected, 30)
    time.sleep(1.0)  # anything more that arrives would be a duplicate or a torn write
    stop.set()
    reader.join(10)
    assert not reader_error, reader_error
    with sqlite3.connect(folder / f"{Topic.SIGHTINGS.value}.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    per_writer: dict[int, list[int]] = {}
    for n in got:
        per_writer.setdefault(n // 1_000_000, []).append(n % 1_000_000)
    duplicated = len(got) - len(set(got))
    for number, count in steady.items():
        assert sorted(per_writer[number]) == list(range(count)), f"writer {number} lost messages"
    for number, flushed_count in killed.items():
        arrived = sorted(per_writer.get(number, []))
        assert arrived == list(range(len(arrived))), f"killed writer {number} left a hole"
        assert len(arrived) >= flushed_count, f"killed writer {number} lost flushed messages"
    figures = {
        "steady_writers": len(steady), "writers_killed": kills,
        "flushed_before_kill": sum(killed.values()),
        "arrived_from_killed": sum(len(per_writer.get(n, [])) for n in killed),
        "produced_flushed": expected, "read": len(got), "lost": 0, "duplicated": duplicated,
        "integrity_check": "ok",
    }
    print("\nRELIABILITY localbus-writer-killed", json.dumps(figures))
    assert duplicated == 0


# ---------------------------------------------------------------- store: kill -9 of writers


@pytest.mark.slow
def test_store_survives_writers_killed_mid_batch(tmp_path: Path) -> None:
    """Two processes write sighting batches through `Store.write` (SQLite, WAL); each round
    one is SIGKILLed mid-batch while the other goes on, then the other. After eight rounds
    the file passes `PRAGMA integrity_check`, every batch a writer saw committed is there,
    and every batch is whole or absent (none half-written)."""
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    Store.open(url).close()  # schema
    batch_size = 200
    rounds = 8
    rng = random.Random(11)
    committed: dict[int, int] = {}
    for r in range(rounds):
        pair = []
        for writer in (2 * r + 1, 2 * r + 2):
            counter = spawn.Value("q", 0)
            process = spawn.Process(target=store_batches_until_killed, args=(url, writer, batch_size, counter))
            process.start()
            pair.append((writer, process, counter))
        deadline = time.monotonic() + 60
        while min(c.value for _, _, c in pair) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        for writer, process, counter in pair:  # one dies; the other writes on, then dies too
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(process.pid, signal.SIGKILL)
            process.join(10)
            committed[writer] = counter.value
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    numbers = [int(i[1:]) for i in _store_ids(db, "sightings")]
    sizes: dict[tuple[int, int], int] = {}
    for n in numbers:
        writer, index = divmod(n, 1_000_000)
        key = (writer, index // batch_size)
        sizes[key] = sizes.get(key, 0) + 1
    half_written = [key for key, size in sizes.items() if size != batch_size]
    assert not half_written, half_written
    for writer, seen_committed in committed.items():
        present = sorted(b for (w, b) in sizes if w == writer)
        assert present == list(range(len(present))), f"writer {writer}: a batch is missing"
        assert len(present) >= seen_committed, f"writer {writer}: a committed batch was lost"
    with Store(url) as store:  # and it takes writes again at once
        assert store.write([]) == 0
    figures = {
        "writers_killed": len(committed), "batches_committed": sum(committed.values()),
        "batches_present": len(sizes), "rows": len(numbers), "half_written": 0, "integrity_check": "ok",
    }
    print("\nRELIABILITY store-kill-9", json.dumps(figures))


# ---------------------------------------------------------------- consumers: fuzzed input


BY_ID = {Topic.SIGHTINGS: "sightings", Topic.ALERTS: "alerts", Topic.COMPLAINTS: "complaint_events",
         Topic.DEAD_LETTER: "dead_letters"}
"""Topics whose records the store keeps by id (camera and grid states keep the latest)."""


@pytest.mark.slow
def test_ten_thousand_fuzzed_messages_through_the_ingest_consumer(tmp_path: Path) -> None:
    """10,000 fuzzed messages (tests/fuzz_messages.py) on every topic, through the real
    ingest consumer into a real SQLite store: it never fails, and every message is either
    stored as a valid record or stored as a dead letter with its reason."""
    messages = fuzzed_messages(10_000, seed=99, topics=list(Topic))
    bad_on_letter_topic = 0
    valid_ids: set[str] = set()
    for topic, payload in messages:
        try:
            record = decode(topic, payload)
            if topic in BY_ID and record.id.encode() in payload:  # not a fresh default id
                valid_ids.add(record.id)
        except BadMessage:
            bad_on_letter_topic += topic is Topic.DEAD_LETTER
    bus = LocalBus(tmp_path / "bus")
    started = time.monotonic()
    for i, (topic, payload) in enumerate(messages):
        bus.send(topic, payload, key=str(i % 7))
    bus.flush()
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    loop, writer = ingest_loop(bus, store, max_records=1000)
    try:
        assert loop.wait_for(lambda: loop.consumed >= len(messages), timeout_s=120)
        while loop.run_once(timeout_s=0.5):  # the letters it published come back to be stored
            pass
        elapsed = time.monotonic() - started
    finally:
        loop.close()
        store.close()
        bus.close()
    letters_published = loop.dead_lettered - bad_on_letter_topic
    with sqlite3.connect(tmp_path / "store.db") as conn:
        reasons = [r for (r,) in conn.execute(
            "SELECT reason FROM dead_letters WHERE consumer_group = 'analytics-store'")]
        stored_ids = {i for table in BY_ID.values() for (i,) in conn.execute(f"SELECT id FROM {table}")}  # noqa: S608
    figures = {
        "fuzzed": len(messages), "consumed": loop.consumed, "valid": loop.handled - letters_published,
        "set_aside": loop.dead_lettered, "letters_stored": len(reasons), "crashes": 0,
        "seconds": round(elapsed, 1),
    }
    print("\nRELIABILITY fuzz-ingest", json.dumps(figures))
    assert loop.consumed == len(messages) + letters_published
    assert len(reasons) == letters_published and all(reasons)
    assert loop.dead_lettered > len(messages) * 0.8
    missing_valid = {i for i in valid_ids if i not in stored_ids}
    assert not missing_valid, f"{len(missing_valid)} valid records neither stored nor set aside"


# ---------------------------------------------------------------- a worker process killed


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_killed_worker_is_restarted_and_its_cameras_are_back_within_10_s(
        tmp_path: Path, two_sample_clips: list[Path]) -> None:
    """`cityops worker` (two sample clips as cameras) under the demo supervisor is killed
    with SIGKILL right after a sighting, i.e. with passes in progress: the supervisor starts
    a new one, both cameras say online again within 10 s, no camera process of the killed
    worker lives on, and no pass is emitted twice (same camera and identity within the
    pass journal's window, under a new id)."""
    import psutil

    from cityops.supervisor import Child, Supervisor
    from streams.config import load_settings
    from streams.records import CameraStatus, Sighting
    from video.pass_journal import SAME_PASS_S

    clips = two_sample_clips
    cameras = [c.stem for c in clips]
    csv = tmp_path / "cameras.csv"
    csv.write_text("camera_id,url,analysed_fps\n" + "".join(f"{c},{p},2\n" for c, p in zip(cameras, clips, strict=True)))
    settings = load_settings(home=tmp_path / "home", bus_url="local").ensure()
    env = dict(os.environ, CITYOPS_HOME=str(settings.home), CITYOPS_BUS="local", PYTHONUNBUFFERED="1")
    supervisor = Supervisor(settings, env)
    video = Child("video", ["worker", "--cameras", str(csv), "--processes", "1"])
    supervisor.add(video)
    seen: list[tuple[float, CameraStatus | Sighting]] = []
    watching = threading.Event()

    def watch() -> None:
        with LocalBus(settings.home / "bus") as bus, bus.consumer("watch", [Topic.CAMERAS, Topic.SIGHTINGS]) as c:
            while not watching.is_set():
                for message in c.poll(0.2):
                    seen.append((time.monotonic(), decode(message.topic, message.value)))  # type: ignore[arg-type]
                c.commit()

    def online_from(camera: str, since: float, not_worker: str | None) -> float | None:
        for at, r in list(seen):
            if (at >= since and isinstance(r, CameraStatus) and r.camera_id == camera and r.online
                    and (not_worker is None or not_worker not in (r.worker or ""))):
                return at
        return None

    watcher = threading.Thread(target=watch, daemon=True)
    runner = threading.Thread(target=supervisor.run, daemon=True)
    started = time.monotonic()
    watcher.start()
    runner.start()
    try:
        assert _wait(lambda: all(online_from(c, started, None) for c in cameras), 180), "cameras never online"
        cold_start_s = max(online_from(c, started, None) or 0 for c in cameras) - started
        assert _wait(lambda: any(isinstance(r, Sighting) for _, r in seen), 120), "no sighting"
        assert video.proc is not None
        old_pid = video.proc.pid
        old_tree = [p.pid for p in psutil.Process(old_pid).children(recursive=True)]
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        tag = f"-{old_pid}/"
        assert _wait(lambda: video.proc is not None and video.proc.pid != old_pid, 10), "not restarted"
        restarted_s = time.monotonic() - killed_at
        assert _wait(lambda: all(online_from(c, killed_at, tag) for c in cameras), 30), "cameras not back"
        recovery = {c: round((online_from(c, killed_at, tag) or 0) - killed_at, 1) for c in cameras}

        def orphans() -> list[int]:
            alive = []
            for pid in old_tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        alive.append(pid)
            return alive

        assert _wait(lambda: not orphans(), 15), f"camera processes of the killed worker live on: {orphans()}"
        orphans_gone_s = time.monotonic() - killed_at
        time.sleep(25)  # the new worker sees the clips' cars again: new passes, not copies
    finally:
        supervisor.stopping.set()
        runner.join(10)
        supervisor.stop()
        watching.set()
        watcher.join(10)
    sightings = {r.id: r for _, r in seen if isinstance(r, Sighting)}
    by_identity: dict[tuple[str, str, str], list[Sighting]] = {}
    for s in sightings.values():
        by_identity.setdefault((s.camera_id, s.kind.value, s.identity), []).append(s)
    duplicated = []
    for passes in by_identity.values():
        passes.sort(key=lambda s: s.ts)
        duplicated += [(a.id, b.id) for a, b in itertools.pairwise(passes)
                       if (b.ts - a.ts).total_seconds() < SAME_PASS_S]
    before = sum(1 for at, r in seen if isinstance(r, Sighting) and at < killed_at)
    figures = {
        "cold_start_s": round(cold_start_s, 1), "restarted_after_s": round(restarted_s, 1),
        "recovery_s": recovery, "limit_s": 10,
        "sightings_before_kill": before, "sightings_total": len(sightings),
        "same_id_again": sum(isinstance(r, Sighting) for _, r in seen) - len(sightings),
        "duplicated_passes": len(duplicated), "old_camera_processes_gone_s": round(orphans_gone_s, 1),
    }
    print("\nRELIABILITY worker-killed", json.dumps(figures))
    assert not duplicated, duplicated
    assert max(recovery.values()) < 10, figures


# ---------------------------------------------------------------- the spool's own promises


@pytest.mark.kafka
def test_a_spool_left_by_a_killed_producer_is_resent_by_the_next_one(tmp_path: Path) -> None:
    """A producer SIGKILLed during an outage leaves its spool file; once the broker is back
    another producer of the same home adopts it and resends every message, then removes it."""
    from reliability_helpers import spool_then_die

    from streams.spool import SpoolingBus

    broker = TansuBroker(log_file=tmp_path / "tansu.log").start()
    home = tmp_path / "home"
    ready, go = spawn.Event(), spawn.Event()
    child = spawn.Process(target=spool_then_die, args=(broker.url, str(home), ready, go, 300))
    try:
        child.start()
        assert ready.wait(60)
        broker.stop()
        go.set()
        child.join(60)
        assert child.exitcode == -signal.SIGKILL
        (left,) = (home / "spool").glob("*.db")
        with sqlite3.connect(left) as conn:
            assert conn.execute("SELECT count(*) FROM spooled").fetchone()[0] == 300
        broker.start()
        bus = open_bus(broker.url, home)
        assert isinstance(bus, SpoolingBus)
        assert _wait(lambda: not left.exists(), 30), "the orphan spool was not resent"
        with bus.consumer("check", [Topic.COMPLAINTS]) as consumer:
            got: set[str] = set()
            deadline = time.monotonic() + 30
            while len(got) < 300 and time.monotonic() < deadline:
                got |= {json.loads(m.value)["id"] for m in consumer.poll(0.5)}
        bus.close()
    finally:
        if child.is_alive():
            child.kill()
        broker.stop()
    assert got == {f"ev07-{n:09d}" for n in range(300)}


@pytest.mark.kafka
def test_a_full_spool_refuses_with_a_clear_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from reliability_helpers import complaint

    from streams.bus import BusUnavailable
    from streams.kafkabus import KafkaBus
    from streams.spool import SpoolingBus

    broker = TansuBroker(log_file=tmp_path / "tansu.log").start()
    bus = SpoolingBus(KafkaBus(broker.bootstrap), tmp_path / "spool", max_bytes=20_000)
    try:
        broker.stop()
        refused = None
        for n in range(200):  # ~600 bytes each: the spool holds about 30
            try:
                bus.publish(complaint(1, n))
                bus.flush()
            except BusUnavailable as exc:
                refused = (n, str(exc))
                break
    finally:
        with contextlib.suppress(BusUnavailable):
            bus.close()
        broker.stop()
    assert refused is not None and "is full" in refused[1], refused
    assert any("is full" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert 0 < bus.spooled < 200


def test_a_lost_broker_connection_is_logged_as_one_line_not_a_traceback() -> None:
    """kafka-python logs a socket error with a traceback and then reconnects by itself; the
    operator's logs (and the demo's no-traceback check) must see one line saying what broke."""
    import io
    import logging

    import streams.kafkabus  # noqa: F401 - installs the filter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    transport_log = logging.getLogger("kafka.net.transport")
    transport_log.addHandler(handler)
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            transport_log.exception("%s: Error receiving network data closing socket", "<conn>")
    finally:
        transport_log.removeHandler(handler)
    text = out.getvalue()
    assert "Traceback" not in text
    assert "<conn>: Error receiving network data closing socket: ConnectionResetError:" in text
    assert "Connection reset by peer" in text
