"""Tester: replay a recorded video through the camera pipeline and watch what it finds.

Choose a sample video (generated with ground truth by `python -m sample_media.generate`)
or upload one; the replay runs in the dashboard process (`dashboard/tester_run.py`) and
the page polls it: the latest annotated frame (plate boxes blue, faces orange, with the
read text or name), the sightings so far and the precision/recall against the truth.
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import context, tester_run
from dashboard.i18n import lang_of, percent, tr, when
from streams.config import REPO_ROOT

dash.register_page(__name__, path="/tester", name="tester", order=3)

SAMPLE_DIR = REPO_ROOT / "sample_media"
POLL_MS = 700
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov"}


def uploads_dir() -> Path:
    return context.settings().home / "uploads"


def videos() -> list[Path]:
    """The sample videos, then the uploaded ones."""
    found: list[Path] = []
    for folder in (SAMPLE_DIR, uploads_dir()):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES
                            and not p.name.startswith("."))
    return found


def _options() -> list[dict]:
    return [{"label": f"{p.name}{' ✓' if p.with_suffix('.json').is_file() else ''}", "value": str(p)}
            for p in videos()]


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = lang_of(lang)
    options = _options()
    return html.Div(className="desk", children=[
        dcc.Store(id="ts-lang", data=lang),
        dcc.Store(id="ts-run", data=None),
        html.Div(className="row", children=[
            html.Div(className="field", children=[
                html.Label(tr("ts.video", lang)),
                dcc.Dropdown(id="ts-video", options=options, value=options[0]["value"] if options else None,
                             clearable=False, style={"width": "420px", "color": "#000"})]),
            dcc.Upload(id="ts-upload", className="upload", children=tr("ts.upload", lang), accept="video/*",
                       max_size=MAX_UPLOAD_BYTES),
            html.Button(tr("ts.start", lang), id="ts-start", n_clicks=0, className="btn"),
            html.Button(tr("ts.stop", lang), id="ts-stop", n_clicks=0, className="btn secondary"),
        ]),
        html.P(tr("ts.idle", lang) if options else tr("ts.no_videos", lang), id="ts-status", className="summary"),
        html.Div(className="cols", style={"gridTemplateColumns": "2fr 1fr"}, children=[
            html.Div(className="card", children=[
                html.Img(id="ts-frame", className="frame-view", alt="annotated frame",
                         style={"minHeight": "300px"})]),
            html.Div(className="card", children=[
                html.H2(tr("ts.score", lang)), html.Div(id="ts-score"),
                html.H2(tr("ts.sightings", lang)), html.Ul(id="ts-sightings", className="hits"),
                html.H2(tr("ts.last_hit", lang)),
                html.Img(id="ts-hit-frame", className="frame-view", alt=""),
            ]),
        ]),
        dcc.Interval(id="ts-poll", interval=POLL_MS, disabled=True),
    ])


def _safe_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(filename).stem)[:60] or "upload"
    suffix = Path(filename).suffix.lower()
    return f"{stem}{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"


@callback(
    Output("ts-video", "options"), Output("ts-video", "value"), Output("ts-status", "children", allow_duplicate=True),
    Input("ts-upload", "contents"), State("ts-upload", "filename"), prevent_initial_call=True,
)
def upload(contents: str | None, filename: str | None) -> tuple:
    """Keep an uploaded video under <home>/uploads and select it."""
    if not contents:
        return no_update, no_update, no_update
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(filename or "upload.mp4")
    path.write_bytes(base64.b64decode(contents.split(",", 1)[-1]))
    return _options(), str(path), path.name


@callback(
    Output("ts-run", "data"), Output("ts-poll", "disabled"), Output("ts-status", "children"),
    Input("ts-start", "n_clicks"), Input("ts-stop", "n_clicks"),
    State("ts-video", "value"), State("ts-run", "data"), State("ts-lang", "data"),
    prevent_initial_call=True,
)
def start_stop(_start: int, _stop: int, video: str | None, run_id: str | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    if dash.ctx.triggered_id == "ts-stop":
        tester_run.stop_run(run_id)
        return no_update, no_update, no_update
    allowed = {str(p) for p in videos()}
    if not video or video not in allowed:
        return no_update, True, tr("ts.no_videos", lang)
    new_id = uuid.uuid4().hex
    known = {c.id for c in context.district().cameras}
    tester_run.start_run(new_id, Path(video), context.settings().home, known)
    return new_id, False, f"{tr('ts.running', lang)}: {Path(video).name}"


def _score_table(score: dict | None, lang: str) -> html.Table | html.P:
    if score is None:
        return html.P(tr("ts.no_truth", lang))
    header = html.Tr([html.Th(""), html.Th(tr("ts.truth", lang)), html.Th(tr("ts.found", lang)),
                      html.Th(tr("ts.correct", lang)), html.Th(tr("ts.precision", lang)),
                      html.Th(tr("ts.recall", lang))])
    rows = [html.Tr([html.Td(tr(f"ts.{kind}", lang)), html.Td(s["truth"]), html.Td(s["sightings"]),
                     html.Td(s["correct"]), html.Td(percent(s["precision"])), html.Td(percent(s["recall"]))],
                    id=f"ts-score-{kind}")
            for kind, s in (("plates", score["plates"]), ("faces", score["faces"]))]
    return html.Table(className="score", children=[header, *rows])


@callback(
    Output("ts-frame", "src"), Output("ts-hit-frame", "src"), Output("ts-score", "children"), Output("ts-sightings", "children"),
    Output("ts-status", "children", allow_duplicate=True), Output("ts-poll", "disabled", allow_duplicate=True),
    Input("ts-poll", "n_intervals"), State("ts-run", "data"), State("ts-lang", "data"),
    prevent_initial_call=True,
)
def poll(_n: int | None, run_id: str | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    run = tester_run.get_run(run_id)
    if run is None:
        return no_update, no_update, no_update, no_update, no_update, True
    view = run.view()
    zone = context.district().timezone
    items = [html.Li(f"{when(s.ts, lang, zone, with_date=False, seconds=True)}  {s.kind.value}  {s.identity}"
                     f"  ({s.confidence:.2f})") for s in view.sightings[-15:]]
    total = f"/{view.frames_total}" if view.frames_total else ""
    state = tr("ts.done", lang) if view.done else tr("ts.running", lang)
    status = (f"{state}: {view.video} · {view.camera_id} · {tr('ts.progress', lang)} {view.frames_read}{total}"
              f" · {tr('ts.boxes', lang)} {view.boxes}")
    if view.error:
        status += f" · {view.error}"
    if view.problems:
        status += " · " + "; ".join(view.problems)
    big = (view.hit_jpeg or view.frame_jpeg) if view.done else view.frame_jpeg  # at the end: what was found
    return (big or no_update, view.hit_jpeg or no_update, _score_table(view.score, lang), items, status, view.done)
