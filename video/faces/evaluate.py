"""Measure face recognition on real photos: `python -m video.faces.evaluate`.

1. The development set (`../shared/dev_media/faces_real/`, never copied into the repo):
   enrol each person from their `train_*` photos, then recognise every face in the
   `test_*` photos; every face must get the right name and none a wrong one.
2. Faces that ship inside PyPI packages (`tests/data/faces/`, plus skimage's astronaut):
   faces found per image, and distances between views of the same face (flipped, darker,
   recompressed, smaller, blurred) and between different people.

Prints markdown (the tables in docs/ACCURACY.md) and exits 1 if any face got a wrong name
or a test face was missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streams.config import REPO_ROOT
from streams.records import BBox
from streams.watchlist import Watchlist
from video.faces.cli import read_image, run_enroll
from video.faces.detect import detect_faces, encode_faces
from video.faces.matcher import ACCEPT_DISTANCE, FaceMatcher

DEV_SET = REPO_ROOT.parent / "shared" / "dev_media" / "faces_real"
SAMPLES = REPO_ROOT / "tests" / "data" / "faces"

DEV_TRUTH: dict[str, list[str]] = {
    "test_johnsnow_test1.jpg": ["kit_harington"],
    "test_kit_with_rose.jpg": ["rose_leslie", "kit_harington"],  # left to right
}
"""Who is in each test photo, faces ordered left to right (looked at by a person)."""

SAMPLE_FACES: dict[str, int] = {"astronaut": 1, "grace_hopper": 1, "zidane": 1, "bus": 2, "t1": 6}
"""Frontal faces a person counts in each sample (zidane: Ancelotti; Zidane is in profile;
bus: the two people facing the camera)."""


@dataclass(frozen=True, slots=True)
class FaceResult:
    photo: str
    bbox: BBox
    expected: str | None
    got: str | None  # the watch-listed name given, or None (an unknown id)
    distance: float


def person_of_train_photo(path: Path) -> str:
    """`train_kit_harington_john1.jpeg` -> `kit_harington` (the last part names the photo)."""
    return path.stem.removeprefix("train_").rsplit("_", 1)[0]


def evaluate_dev_set(media: Path, home: Path) -> list[FaceResult]:
    """Enrol from the train photos into `home`, then name every face of the test photos."""
    by_person: dict[str, list[Path]] = {}
    for photo in sorted(media.glob("train_*")):
        by_person.setdefault(person_of_train_photo(photo), []).append(photo)
    for name, photos in by_person.items():
        if run_enroll(name, photos, home, added_by="evaluate", reason="development set", out=sys.stderr) != 0:
            raise RuntimeError(f"enrolling {name} from {[p.name for p in photos]} failed")
    results = []
    with Watchlist(home) as watchlist:
        matcher = FaceMatcher(watchlist, home)
        for photo in sorted(media.glob("test_*")):
            image = read_image(photo)
            boxes = sorted(detect_faces(image), key=lambda b: b[0])
            expected = DEV_TRUTH.get(photo.name, [])
            if len(boxes) != len(expected):
                results.append(FaceResult(photo.name, (0, 0, 0, 0), f"{len(expected)} faces", f"{len(boxes)} found", 0.0))
            for i, (box, encoding) in enumerate(zip(boxes, encode_faces(image, boxes), strict=True)):
                who = matcher.identify(encoding)
                name = who.identity if who.watchlisted else None
                results.append(
                    FaceResult(photo.name, box, expected[i] if i < len(expected) else None, name, who.distance)
                )
        matcher.close()
    return results


def dev_set_distances(media: Path) -> tuple[list[float], list[float]]:
    """Distances between real photos of one person and between different people (every
    face of the set, labelled from the file names and `DEV_TRUTH`)."""
    labelled: list[tuple[str, np.ndarray]] = []
    for photo in sorted(media.glob("*")):
        image = read_image(photo)
        boxes = sorted(detect_faces(image), key=lambda b: b[0])
        names = [person_of_train_photo(photo)] if photo.name.startswith("train_") else DEV_TRUTH.get(photo.name, [])
        if len(names) != len(boxes):
            continue
        labelled += list(zip(names, encode_faces(image, boxes), strict=True))
    same, different = [], []
    for i, (name_a, enc_a) in enumerate(labelled):
        for name_b, enc_b in labelled[i + 1 :]:
            (same if name_a == name_b else different).append(float(np.linalg.norm(enc_a - enc_b)))
    return same, different


def load_samples() -> dict[str, np.ndarray]:
    """The PyPI sample images, BGR; astronaut only when scikit-image is installed."""
    images = {name: read_image(SAMPLES / f"{name}.jpg") for name in ("grace_hopper", "zidane", "bus", "t1")}
    try:
        from skimage.data import astronaut
    except ImportError:
        return images
    return {"astronaut": np.ascontiguousarray(astronaut()[:, :, ::-1]), **images}


def views(image: np.ndarray, box: BBox) -> Iterator[tuple[str, np.ndarray, BBox]]:
    """The same face seen differently: what a second camera or a bad day does to it."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    yield "flipped", np.ascontiguousarray(image[:, ::-1]), (width - x2, y1, width - x1, y2)
    yield "darker", (image * 0.6).astype(np.uint8), box
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])
    yield "jpeg q30", cv2.imdecode(jpeg, cv2.IMREAD_COLOR), box
    yield "0.6x size", cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA), tuple(
        round(v * 0.6) for v in box
    )
    yield "blurred", cv2.GaussianBlur(image, (0, 0), 1.5), box


@dataclass(frozen=True, slots=True)
class SampleFace:
    label: str  # image name and face number, left to right
    image: str
    bbox: BBox
    encoding: np.ndarray


def sample_faces(images: dict[str, np.ndarray]) -> list[SampleFace]:
    faces = []
    for name, image in images.items():
        boxes = sorted(detect_faces(image), key=lambda b: b[0])
        for i, (box, encoding) in enumerate(zip(boxes, encode_faces(image, boxes), strict=True)):
            faces.append(SampleFace(f"{name}#{i + 1}", name, box, encoding))
    return faces


def _print_dev(results: list[FaceResult]) -> int:
    print("| test photo | face box | expected | named | distance |")
    print("|---|---|---|---|---|")
    wrong = missed = 0
    for r in results:
        print(f"| {r.photo} | {r.bbox} | {r.expected} | {r.got or 'unknown'} | {r.distance:.3f} |")
        if r.got is not None and r.got != r.expected:
            wrong += 1
        elif r.got is None:
            missed += 1
    right = len(results) - wrong - missed
    print(f"\nfaces: {len(results)}, right name: {right}, wrong name: {wrong}, not named: {missed}")
    return 1 if wrong or missed else 0


def _print_samples(images: dict[str, np.ndarray]) -> int:
    faces = sample_faces(images)
    print("| image | frontal faces (by eye) | found |")
    print("|---|---|---|")
    failures = 0
    for name, image in images.items():
        found = sum(1 for f in faces if f.image == name)
        failures += found != SAMPLE_FACES[name]
        print(f"| {name} {image.shape[1]}x{image.shape[0]} | {SAMPLE_FACES[name]} | {found} |")
    print("\nSame face, other view (distance to the original view):\n")
    names = [name for name, *_ in views(next(iter(images.values())), (0, 0, 1, 1))]
    print("| face | size px | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    same: list[float] = []
    for face in faces:
        row = []
        for _, image, box in views(images[face.image], face.bbox):
            distance = float(np.linalg.norm(encode_faces(image, [box])[0] - face.encoding))
            same.append(distance)
            row.append(f"{distance:.2f}")
        print(f"| {face.label} | {face.bbox[2] - face.bbox[0]} | " + " | ".join(row) + " |")
    matrix = np.stack([f.encoding for f in faces])
    distances = np.linalg.norm(matrix[:, None] - matrix[None], axis=2)
    different = distances[np.triu_indices(len(faces), 1)]
    closest = np.unravel_index(np.argmin(distances + np.eye(len(faces)) * 9), distances.shape)
    print(
        f"\nSame face: {len(same)} pairs, median {np.median(same):.2f}, max {max(same):.2f}. "
        f"Different people: {len(different)} pairs, min {different.min():.2f} "
        f"({faces[closest[0]].label} vs {faces[closest[1]].label}), median {np.median(different):.2f}. "
        f"Accept distance for a name: {ACCEPT_DISTANCE}."
    )
    return 1 if failures or different.min() <= ACCEPT_DISTANCE else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=DEV_SET, help="folder with train_* and test_* photos")
    args = parser.parse_args(argv)
    status = 0
    print("## Development set\n")
    if args.media.is_dir():
        with tempfile.TemporaryDirectory(prefix="cityops-faces-eval-") as home:
            status |= _print_dev(evaluate_dev_set(args.media, Path(home)))
        same, different = dev_set_distances(args.media)
        print(
            f"Distances between real photos: same person {len(same)} pairs, "
            f"{min(same):.2f}-{max(same):.2f}; different people {len(different)} pairs, "
            f"{min(different):.2f}-{max(different):.2f}."
        )
    else:
        print(f"(skipped: {args.media} is not there)")
    print("\n## Faces shipped in PyPI packages\n")
    status |= _print_samples(load_samples())
    return status


if __name__ == "__main__":
    sys.exit(main())
