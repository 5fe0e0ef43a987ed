"""Which stream each camera point reads: the cameras CSV (format in docs/CAMERAS.md).

    camera_id,url[,analysed_fps]

One line per camera; `#` starts a comment; a header line is optional. A camera with an
empty url is configured but idle. Errors name the line, so a typo in a 152-line file is
found at once, and the whole file is refused rather than half-used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

MIN_FPS, MAX_FPS = 0.2, 30.0


@dataclass(frozen=True, slots=True)
class CameraSource:
    camera_id: str
    url: str  # "" = idle
    analysed_fps: float | None = None  # None = the worker's default


class CameraConfigError(ValueError):
    """The cameras CSV cannot be used; the message names the file and line."""


def parse_cameras_csv(text: str, source: str = "<cameras>",
                      known_ids: Iterable[str] | None = None) -> list[CameraSource]:
    known = set(known_ids) if known_ids is not None else None
    problems: list[str] = []
    cameras: list[CameraSource] = []
    seen: dict[str, int] = {}
    first_row = True  # the first non-comment row may be a header
    rows = csv.reader(io.StringIO(text))
    for line_no, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if first_row and cells[0].lower() in ("camera_id", "camera", "id"):
            first_row = False
            continue
        first_row = False
        where = f"{source}:{line_no}"
        if len(cells) > 3:
            problems.append(f"{where}: expected camera_id,url[,analysed_fps], got {len(cells)} fields")
            continue
        camera_id = cells[0]
        url = cells[1] if len(cells) > 1 else ""
        fps: float | None = None
        if len(cells) == 3 and cells[2]:
            try:
                fps = float(cells[2])
            except ValueError:
                problems.append(f"{where}: analysed_fps {cells[2]!r} is not a number")
                continue
            if not MIN_FPS <= fps <= MAX_FPS:
                problems.append(f"{where}: analysed_fps {fps:g} is outside {MIN_FPS:g}..{MAX_FPS:g}")
                continue
        if not camera_id or any(ch.isspace() for ch in camera_id) or len(camera_id) > 32:
            problems.append(f"{where}: camera id {camera_id!r} must be 1-32 characters without spaces")
            continue
        if known is not None and camera_id not in known:
            problems.append(f"{where}: unknown camera {camera_id!r} (not in the district file)")
            continue
        if camera_id in seen:
            problems.append(f"{where}: camera {camera_id} is already configured on line {seen[camera_id]}")
            continue
        seen[camera_id] = line_no
        cameras.append(CameraSource(camera_id, url, fps))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CameraConfigError(f"{len(problems)} problem(s) in {source}:\n  {shown}{more}")
    return cameras


def load_cameras_csv(path: Path | str, known_ids: Iterable[str] | None = None) -> list[CameraSource]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CameraConfigError(f"cannot read the cameras file {path}: {exc.strerror or exc}") from exc
    return parse_cameras_csv(text, str(path), known_ids)


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n) with 0 <= i < n."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError as exc:
        raise CameraConfigError(f"--shard {text!r}: expected i/n, e.g. 0/4") from exc
    if count < 1 or not 0 <= index < count:
        raise CameraConfigError(f"--shard {text!r}: need 0 <= i < n")
    return index, count


class _HasCameraId(Protocol):
    @property
    def camera_id(self) -> str: ...


T = TypeVar("T", bound=_HasCameraId)


def shard(cameras: list[T], index: int, count: int) -> list[T]:
    """This worker's share: every `count`-th camera in id order, from position `index`.

    Round robin over the sorted ids gives every shard the same number of cameras (to one);
    every worker computes the same split from the same file, with no coordination.
    """
    ordered = sorted(cameras, key=lambda c: c.camera_id)
    return [c for position, c in enumerate(ordered) if position % count == index]
