"""What `cityops enroll` and `cityops faces` do (cityops/cli.py wires the flags to these).

- `run_enroll`: put a person on the watch list from one or more photos, each showing
  exactly that one face; all photos are checked before anything is stored.
- `run_faces`: recognise every face in images and videos; one JSON object per line per
  face (per face track for a video).
- `run_purge`: the retention job for face crops and unknown people.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from streams.watchlist import Watchlist, WatchlistError
from video.faces.detect import detect_faces, encode_faces
from video.faces.engine import FaceEngineError
from video.faces.matcher import ACCEPT_DISTANCE, DEFAULT_TOLERANCE, FaceIdentity, FaceMatcher
from video.faces.privacy import purge_biometrics, save_enrolled_crop
from video.faces.scan import VideoError, face_tracks_in_video, faces_in_frame
from video.faces.track import FaceCandidate

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: Path) -> np.ndarray:
    """BGR pixels of an image file, or a ValueError that names the file and the reason."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    data = np.fromfile(path, dtype=np.uint8)  # also works for non-ASCII paths
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"{path}: cannot read this file as an image")
    return image


def run_enroll(
    name: str,
    photos: list[Path],
    home: Path,
    added_by: str,
    reason: str = "",
    err: TextIO = sys.stderr,
    out: TextIO = sys.stdout,
) -> int:
    """Enrol `name` from `photos`; 0 when stored, 1 when refused (nothing stored), 2 when
    the face engine cannot run."""
    if not photos:
        print("enroll: give at least one photo of the person", file=err)
        return 1
    problems: list[str] = []
    found: list[tuple[Path, np.ndarray, tuple[int, int, int, int], np.ndarray]] = []
    try:
        for photo in photos:
            try:
                image = read_image(Path(photo))
            except ValueError as exc:
                problems.append(str(exc))
                continue
            boxes = detect_faces(image, max_side=1280)
            if not boxes:
                problems.append(
                    f"{photo}: no face found; use a photo where {name}'s face is frontal and at "
                    "least 40 pixels high"
                )
            elif len(boxes) > 1:
                problems.append(
                    f"{photo}: {len(boxes)} faces found; use a photo that shows only {name}"
                )
            else:
                found.append((Path(photo), image, boxes[0], encode_faces(image, boxes)[0]))
        if not problems:
            problems += _consistency_problems(name, found, home)
    except FaceEngineError as exc:
        print(f"enroll: the face engine cannot run: {exc}", file=err)
        return 2
    if problems:
        for problem in problems:
            print(f"enroll: {problem}", file=err)
        print(f"enroll: nothing stored for {name}", file=err)
        return 1
    crops = [str(save_enrolled_crop(home, name, image, box)) for _, image, box, _ in found]
    try:
        with Watchlist(home) as watchlist:
            person = watchlist.enroll(name, [e for *_, e in found], added_by, reason, crops)
    except WatchlistError as exc:
        for crop in crops:
            Path(crop).unlink(missing_ok=True)
        print(f"enroll: {exc}", file=err)
        return 1
    print(
        f"enrolled {person.name}: {len(found)} photo(s) added by {added_by}, "
        f"{len(person.faces)} face(s) on the watch list",
        file=out,
    )
    return 0


def _consistency_problems(
    name: str, found: list[tuple[Path, np.ndarray, tuple[int, int, int, int], np.ndarray]], home: Path
) -> list[str]:
    """A photo of someone else must not slip in: the photos must agree with each other and
    with what is already enrolled for `name`, and must not look like another listed person."""
    problems = []
    for i, (photo_a, _, _, enc_a) in enumerate(found):
        for photo_b, _, _, enc_b in found[i + 1 :]:
            distance = float(np.linalg.norm(enc_a - enc_b))
            if distance > DEFAULT_TOLERANCE:
                problems.append(
                    f"{photo_a} and {photo_b} look like different people "
                    f"(distance {distance:.2f} > {DEFAULT_TOLERANCE})"
                )
    with Watchlist(home) as watchlist:
        table = watchlist.encodings()
    for photo, _, _, encoding in found:
        if not table.names:
            break
        distances = np.linalg.norm(table.matrix - encoding, axis=1)
        for listed, distance in zip(table.names, distances.tolist(), strict=True):
            if listed == name and distance > DEFAULT_TOLERANCE:
                problems.append(
                    f"{photo} does not look like the faces already enrolled for {name} "
                    f"(distance {distance:.2f} > {DEFAULT_TOLERANCE})"
                )
                break
            if listed != name and distance <= ACCEPT_DISTANCE:
                problems.append(
                    f"{photo} looks like {listed}, already on the watch list (distance {distance:.2f})"
                )
                break
    return problems


def _line(source: Path, frame: int, candidate: FaceCandidate, who: FaceIdentity, **extra: object) -> str:
    record: dict[str, object] = {
        "source": str(source),
        "frame": frame,
        "name": who.identity if who.watchlisted else None,
        "unknown_id": who.unknown_id,
        "distance": who.distance,
        "bbox": list(candidate.bbox),
        "quality": round(candidate.quality, 3),
    }
    if who.candidate:
        record["possible_match"] = who.candidate
        record["possible_match_distance"] = who.candidate_distance
    record.update(extra)
    return json.dumps(record, ensure_ascii=False)


def run_faces(paths: list[Path], home: Path, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Recognise faces in images and videos: one JSON line per face (per track in video).

    0 when every input was read, 1 when some input could not be (each one named on
    stderr; the others are still processed), 2 when the face engine cannot run.
    """
    failed = 0
    watchlist = Watchlist(home)
    matcher = FaceMatcher(watchlist, home)
    try:
        for raw in paths:
            path = Path(raw)
            try:
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    image = read_image(path)
                    candidates = faces_in_frame(image)
                    encodings = encode_faces(image, [c.bbox for c in candidates])
                    for candidate, encoding in zip(candidates, encodings, strict=True):
                        print(_line(path, 0, candidate, matcher.identify(encoding)), file=out, flush=True)
                else:
                    if not path.is_file():
                        raise ValueError(f"{path}: no such file")
                    for track in face_tracks_in_video(path):
                        best = track.best
                        encoding = encode_faces(best.crop, [best.crop_box])[0]
                        print(
                            _line(
                                path, best.frame_index, best, matcher.identify(encoding),
                                track=track.id, first_frame=track.first_frame,
                                last_frame=track.last_frame, views=track.views,
                            ),
                            file=out,
                            flush=True,
                        )
            except (ValueError, VideoError) as exc:
                failed += 1
                print(f"faces: {exc}", file=err)
    except FaceEngineError as exc:
        print(f"faces: the face engine cannot run: {exc}", file=err)
        return 2
    finally:
        matcher.close()
        watchlist.close()
    return 1 if failed else 0


def run_purge(home: Path, older_than_days: int | None = None, out: TextIO = sys.stdout) -> int:
    """The retention job: delete face crops and unknown people older than the retention."""
    report = purge_biometrics(home, older_than_days)
    print(
        f"purged biometric data older than {report.cutoff.isoformat(timespec='seconds')}: "
        f"{report.crops_removed} face crop(s), {report.unknown_people_removed} unknown person(s)",
        file=out,
    )
    return 0
