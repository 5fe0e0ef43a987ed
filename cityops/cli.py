"""`cityops`: the one command line for every process of the command center.

This module is the composition root: it is the only place that wires the layers
(video, streams, analytics, dashboard) together, and it imports each lazily so that
`cityops --help` stays fast and a missing optional piece fails with a clear message.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from streams.config import REPO_ROOT, Settings, load_settings

app = typer.Typer(
    name="cityops",
    help="CityOps district command center: cameras -> sightings -> trajectories; "
    "complaints -> events -> rankings; a Dash wall screen over both.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Data folder for all state (default: $CITYOPS_HOME or ./var)."),
]
BusOpt = Annotated[
    str | None,
    typer.Option("--bus", help="'local' (embedded default) or kafka://host:port ($CITYOPS_BUS)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Store URL; default SQLite in the data folder ($CITYOPS_DB)."),
]
DistrictOpt = Annotated[
    Path | None,
    typer.Option("--district", help="District file (default: bundled Pingfang; $CITYOPS_DISTRICT)."),
]


def _settings(home: Path | None, bus: str | None = None, db: str | None = None,
              district: Path | None = None) -> Settings:
    return load_settings(home=home, bus_url=bus, db_url=db, district_file=district).ensure()


def _logging(settings: Settings, name: str) -> None:
    """Log to stderr and to the data folder, one file per process kind."""
    handlers: list[logging.Handler] = [
        logging.StreamHandler(sys.stderr),
        logging.FileHandler(settings.logs / f"{name}.log", encoding="utf-8"),
    ]
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"cityops: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command()
def demo(
    home: HomeOpt = None,
    bus: Annotated[
        str | None,
        typer.Option("--bus", help="'local' (default), 'tansu' (start the bundled Kafka-protocol "
                     "broker and run everything over Kafka), or kafka://host:port."),
    ] = None,
    db: DbOpt = None,
    district: DistrictOpt = None,
    host: Annotated[str, typer.Option(help="Dashboard interface (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8050,
    cameras: Annotated[int, typer.Option(help="Sample-media cameras to replay (beyond the "
                                         "cameras with a clip of their own, clips are reused).")] = 6,
    speed: Annotated[float, typer.Option(help="Simulated complaint time per real second.")] = 60.0,
    complaints_per_s: Annotated[float | None, typer.Option(
        "--complaints-per-s", help="Live complaints a second (overrides --speed; load tests).")] = None,
    backfill_days: Annotated[int, typer.Option(help="Days of complaint history to simulate "
                                               "on first start.")] = 30,
) -> None:
    """Run the whole district on one machine: simulator, analytics, dashboard (Ctrl-C stops)."""
    from cityops.security import ensure_demo_users
    from cityops.supervisor import DemoOptions, run_demo

    settings = _settings(home, None if bus == "tansu" else bus, db, district)
    _logging(settings, "demo")
    ensure_demo_users(settings)  # one account per role, generated passwords printed once
    raise typer.Exit(run_demo(settings, DemoOptions(
        host=host, port=port, cameras=cameras, speed=speed, backfill_days=backfill_days,
        complaints_per_s=complaints_per_s,
        start_tansu=(bus == "tansu"),
    )))


@app.command()
def analytics(
    home: HomeOpt = None, bus: BusOpt = None, db: DbOpt = None, district: DistrictOpt = None,
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="Run only these consumers (repeatable): ingest (bus -> store), "
        "governance (complaint lifecycle, SLA, rankings, grid status), trajectories (trips, "
        "watch-list, cloned-plate and co-travel alerts), worker-feed (simulated grid-worker "
        "positions). Default: all, one thread each.")] = None,
) -> None:
    """Consume the bus: store, trajectories, alerts, complaint loop, rankings (idempotent)."""
    from cityops.processes import ANALYTICS_ROLES, run_analytics

    unknown = sorted(set(role or []) - set(ANALYTICS_ROLES))
    if unknown:
        raise _fail(f"unknown role {', '.join(unknown)}: choose from {', '.join(ANALYTICS_ROLES)}")
    settings = _settings(home, bus, db, district)
    _logging(settings, "analytics")
    raise typer.Exit(run_analytics(settings, tuple(role or ANALYTICS_ROLES)))


@app.command()
def worker(
    home: HomeOpt = None, bus: BusOpt = None, district: DistrictOpt = None,
    cameras: Annotated[str | None, typer.Option(
        help="Cameras CSV (docs/CAMERAS.md); with --demo, how many sample-media cameras.")] = None,
    shard: Annotated[str, typer.Option(help="This worker's share of the cameras: i/n.")] = "0/1",
    demo: Annotated[bool, typer.Option("--demo", help="Replay sample_media/ in a loop as the "
                                       "district's first cameras.")] = False,
    processes: Annotated[int | None, typer.Option(help="Camera pipelines in parallel "
                                                  "(default: cores).")] = None,
    fps: Annotated[float | None, typer.Option("--fps", help="Analysed frames per second "
                                              "per camera.")] = None,
) -> None:
    """Run camera pipelines: capture -> motion gate -> plates/faces -> track -> sightings."""
    from video.worker import DEFAULT_ANALYSED_FPS, run_worker

    settings = _settings(home, bus, None, district)
    _logging(settings, "worker")
    camera_arg: str | int | None = cameras
    if demo and cameras is not None and cameras.isdigit():
        camera_arg = int(cameras)
    raise typer.Exit(run_worker(settings, camera_arg, shard_spec=shard, demo=demo,
                                processes=processes, analysed_fps=fps or DEFAULT_ANALYSED_FPS))


@app.command()
def replay(
    videos: Annotated[list[Path], typer.Argument(help="Video files (sample_media/*.mp4, ...).")],
    camera: Annotated[str | None, typer.Option(help="Camera id to report them as.")] = None,
    speed: Annotated[str, typer.Option(help="realtime or max.")] = "max",
    score: Annotated[bool, typer.Option("--score", help="Precision/recall against the "
                                        "ground truth next to each video.")] = False,
    report: Annotated[Path | None, typer.Option(help="Where to write the JSON report.")] = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="Send the "
                                          "sightings on the bus.")] = True,
    home: HomeOpt = None, bus: BusOpt = None, district: DistrictOpt = None,
) -> None:
    """Replay recorded video through the pipeline, with progress and an optional score."""
    from video.replay import run_replay

    if speed not in ("realtime", "max"):
        raise _fail("--speed is 'realtime' or 'max'")
    settings = _settings(home, bus, None, district)
    raise typer.Exit(run_replay(videos, settings, camera=camera, speed=speed,  # type: ignore[arg-type]
                                score=score, report=report, publish=publish))


@app.command()
def search(
    plate: Annotated[str | None, typer.Option(help="Exact plate, e.g. 黑A12345.")] = None,
    pattern: Annotated[str | None, typer.Option(help="Plate with wildcards: ? one, * any.")] = None,
    fuzzy: Annotated[str | None, typer.Option(help="Plate as read, tolerant to OCR confusions.")] = None,
    face: Annotated[str | None, typer.Option(help="Watch-list name or unknown-person id.")] = None,
    photo: Annotated[Path | None, typer.Option(help="A photo of one face (以图搜人).")] = None,
    camera: Annotated[list[str] | None, typer.Option(help="Everything seen at this camera.")] = None,
    companions: Annotated[str | None, typer.Option(help="Who travelled with this identity.")] = None,
    trajectories: Annotated[str | None, typer.Option(help="This identity's trips.")] = None,
    alerts: Annotated[str | None, typer.Option(help="Alerts: cloned_plate, co_travel, "
                                               "watchlist or all.")] = None,
    since: Annotated[str | None, typer.Option(help="From (ISO time).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (ISO time).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 1000,
    home: HomeOpt = None, db: DbOpt = None, district: DistrictOpt = None,
) -> None:
    """Ask the sightings: where was this plate or person, with whom, what is wrong."""
    from analytics.search import SearchRequest, run_search

    encoding = None
    if photo is not None:
        from video.faces.search_photo import encode_one_face

        try:
            encoding = encode_one_face(photo)
        except ValueError as exc:
            raise _fail(str(exc), 2) from exc
    settings = _settings(home, None, db, district)
    request = SearchRequest(plate=plate, pattern=pattern, fuzzy=fuzzy, face=face, photo=encoding,
                            camera=camera, companions=companions, trajectories=trajectories,
                            alerts=alerts, since=since, until=until, limit=limit)
    raise typer.Exit(run_search(settings, request))


@app.command()
def dashboard(
    home: HomeOpt = None, bus: BusOpt = None, db: DbOpt = None, district: DistrictOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8050,
) -> None:
    """Serve the Dash command screen and its JSON API."""
    from cityops.processes import run_dashboard

    settings = _settings(home, bus, db, district)
    _logging(settings, "dashboard")
    raise typer.Exit(run_dashboard(settings, host, port))


@app.command()
def simulate(
    home: HomeOpt = None, bus: BusOpt = None, db: DbOpt = None, district: DistrictOpt = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second (live mode).")] = 60.0,
    complaints_per_s: Annotated[float | None, typer.Option(
        "--complaints-per-s", help="Live complaints a second (overrides --speed).")] = None,
    backfill_days: Annotated[int, typer.Option(help="First publish this many days of history.")] = 0,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Keep producing in real time.")] = True,
    seed: Annotated[int, typer.Option(help="Random seed (deterministic streams).")] = 7,
    hotline_csv: Annotated[Path | None, typer.Option("--hotline-csv", help="Import hotline "
                                                     "records from this CSV instead (docs/HOTLINE_CSV.md).")] = None,
) -> None:
    """Publish residents' complaints on the bus: simulated, or imported from a hotline CSV."""
    from cityops.processes import run_simulator

    settings = _settings(home, bus, db, district)
    _logging(settings, "simulate")
    raise typer.Exit(run_simulator(settings, speed=speed, backfill_days=backfill_days,
                                   live=live, seed=seed, hotline_csv=hotline_csv,
                                   per_second=complaints_per_s))


@app.command()
def plates(
    images: Annotated[list[Path], typer.Argument(help="Photos or frames to read.")],
    crop: Annotated[bool, typer.Option("--crop", help="Each image is already one plate: "
                                       "skip detection.")] = False,
) -> None:
    """Read Chinese licence plates; one JSON object per line per plate."""
    from video.plates.cli import run_plates

    raise typer.Exit(run_plates(images, crop=crop))


@app.command()
def enroll(
    name: Annotated[str, typer.Argument(help="Person's name on the watch list.")],
    photos: Annotated[list[Path], typer.Argument(help="One face per photo; several photos help.")],
    reason: Annotated[str, typer.Option(help="Why this person is watched.")] = "",
    added_by: Annotated[str, typer.Option("--by", help="Who adds them (recorded).")] = "cli",
    home: HomeOpt = None,
) -> None:
    """Add a person to the face watch list."""
    from cityops.security import audited_watchlist_change
    from video.faces.cli import run_enroll

    settings = _settings(home)
    raise typer.Exit(audited_watchlist_change(
        settings, "enroll", {"name": name, "photos": len(photos), "reason": reason, "by": added_by},
        lambda: run_enroll(name, photos, settings.home, added_by=added_by, reason=reason)))


@app.command()
def faces(
    sources: Annotated[list[Path], typer.Argument(help="Images or videos.")],
    home: HomeOpt = None,
) -> None:
    """Find and name faces; one JSON object per line per face (per face track in video)."""
    from cityops.security import audited_face_scan
    from video.faces.cli import run_faces

    settings = _settings(home)
    raise typer.Exit(audited_face_scan(settings, sources, lambda out: run_faces(sources, settings.home, out=out)))


@app.command(context_settings={"ignore_unknown_options": True})  # `--clips ...` go to the bench
def bench(
    name: Annotated[str, typer.Argument(help="Which benchmark: " + ", ".join(
        sorted(p.stem.removeprefix("bench_") for p in (REPO_ROOT / "bench").glob("bench_*.py"))))],
    args: Annotated[list[str] | None, typer.Argument(help="Passed to the benchmark.")] = None,
) -> None:
    """Run a benchmark from bench/ (results go to docs/BENCHMARKS.md)."""
    import subprocess

    script = REPO_ROOT / "bench" / f"bench_{name}.py"
    if not script.exists():
        raise _fail(f"no benchmark {name!r}: see `cityops bench --help`")
    raise typer.Exit(subprocess.call([sys.executable, str(script), *(args or [])], cwd=REPO_ROOT))


# ------------------------------------------------------------------ security (issue 9)

users_app = typer.Typer(help="Dashboard accounts (roles: operator, analyst, leader, tester, admin).",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")
audit_app = typer.Typer(help="The append-only audit log of searches and watch-list changes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
watchlist_app = typer.Typer(help="Change the watch list (each change is audited).", no_args_is_help=True)
app.add_typer(watchlist_app, name="watchlist")

PasswordStdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from "
                                                "the first line of standard input.")]
GenerateOpt = Annotated[bool, typer.Option("--generate", help="Generate a password and print it once.")]


def _password(from_stdin: bool, generate: bool) -> str | None:
    """From stdin, generated (None), or typed twice at a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("no password on standard input")
        return password
    if generate:
        return None
    if not sys.stdin.isatty():
        raise _fail("no terminal to type a password: use --password-stdin or --generate")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="operator, analyst, leader, tester or admin.")],
    password_stdin: PasswordStdinOpt = False, generate: GenerateOpt = False,
    home: HomeOpt = None, db: DbOpt = None,
) -> None:
    """Add a dashboard user (the first admin is made this way: there is no default password)."""
    from cityops.security import AccountError, add_user

    settings = _settings(home, None, db)
    try:
        add_user(settings, name, role, _password(password_stdin, generate))
    except AccountError as exc:
        raise _fail(str(exc)) from exc


@users_app.command("list")
def users_list(home: HomeOpt = None, db: DbOpt = None) -> None:
    """Name, role, enabled or disabled, created (tab-separated)."""
    from cityops.security import list_users

    list_users(_settings(home, None, db))


@users_app.command("set-password")
def users_set_password(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdinOpt = False, generate: GenerateOpt = False,
    home: HomeOpt = None, db: DbOpt = None,
) -> None:
    """Give a user a new password (ends their open sessions; enables a disabled user)."""
    from cityops.security import AccountError, set_password

    settings = _settings(home, None, db)
    try:
        set_password(settings, name, _password(password_stdin, generate))
    except AccountError as exc:
        raise _fail(str(exc)) from exc


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="Login name.")],
                  home: HomeOpt = None, db: DbOpt = None) -> None:
    """Stop a user logging in; their open sessions end at their next request."""
    from cityops.security import AccountError, disable_user

    settings = _settings(home, None, db)
    try:
        disable_user(settings, name)
    except AccountError as exc:
        raise _fail(str(exc)) from exc


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    since: Annotated[str | None, typer.Option(help="From (ISO time with zone, or UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (ISO time with zone, or UTC).")] = None,
    home: HomeOpt = None, db: DbOpt = None,
) -> None:
    """Write the audit log (oldest first) as CSV."""
    from datetime import UTC, datetime

    from cityops.security import export_audit

    def when(value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise _fail(f"{value!r} is not an ISO time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    rows = export_audit(_settings(home, None, db), out, when(since), when(until))
    typer.echo(f"wrote {rows} audit line(s) to {out}")


def _watchlist_change(home: Path | None, action: str, query: dict[str, object], change) -> None:  # type: ignore[no-untyped-def]
    from cityops.security import audited_watchlist_change
    from streams.watchlist import WatchlistError

    settings = _settings(home)

    def run() -> int:
        try:
            change(settings)
        except WatchlistError as exc:
            typer.secho(f"cityops: {exc}", fg=typer.colors.RED, err=True)
            return 1
        return 0

    raise typer.Exit(audited_watchlist_change(settings, action, query, run))


@watchlist_app.command("add-plate")
def watchlist_add_plate(plate: Annotated[str, typer.Argument(help="e.g. 黑A12345")],
                        reason: Annotated[str, typer.Option(help="Why it is watched.")] = "",
                        added_by: Annotated[str, typer.Option("--by", help="Who adds it.")] = "cli",
                        home: HomeOpt = None) -> None:
    """Watch a plate: a sighting of it raises an alert."""
    from streams.watchlist import Watchlist

    def change(settings: Settings) -> None:
        with Watchlist(settings.home) as watchlist:
            watchlist.add_plate(plate, reason, added_by)

    _watchlist_change(home, "add_plate", {"plate": plate, "reason": reason, "by": added_by}, change)


@watchlist_app.command("remove-plate")
def watchlist_remove_plate(plate: Annotated[str, typer.Argument(help="e.g. 黑A12345")],
                           removed_by: Annotated[str, typer.Option("--by", help="Who removes it.")] = "cli",
                           home: HomeOpt = None) -> None:
    """Stop watching a plate."""
    from streams.watchlist import Watchlist

    def change(settings: Settings) -> None:
        with Watchlist(settings.home) as watchlist:
            watchlist.remove_plate(plate, removed_by)

    _watchlist_change(home, "remove_plate", {"plate": plate, "by": removed_by}, change)


@watchlist_app.command("remove")
def watchlist_remove(name: Annotated[str, typer.Argument(help="Person's name on the watch list.")],
                     removed_by: Annotated[str, typer.Option("--by", help="Who removes them.")] = "cli",
                     home: HomeOpt = None) -> None:
    """Take a person off the face watch list, with their encodings and crops."""
    from video.faces.privacy import remove_enrolled

    _watchlist_change(home, "remove", {"name": name, "by": removed_by},
                      lambda settings: remove_enrolled(settings.home, name, removed_by))


@watchlist_app.command("purge")
def watchlist_purge(older_than_days: Annotated[int | None, typer.Option(help="Default: the retention "
                                                                         "setting.")] = None,
                    home: HomeOpt = None) -> None:
    """Delete face encodings and crops (store and data folder) and unknown people older
    than the retention period; the sightings themselves stay."""
    from analytics.store import Store
    from cityops.retention import purge_biometrics_everywhere

    def purge(settings: Settings) -> int:
        with Store.open(settings.store_url) as store:
            typer.echo(purge_biometrics_everywhere(store, settings.home, older_than_days).summary())
        return 0

    _watchlist_change(home, "purge", {"older_than_days": older_than_days}, purge)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
