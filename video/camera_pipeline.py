"""One camera's analysis: sampled frames in, one `Sighting` per vehicle or face per pass out.

For each analysed frame: the motion gate says where something moved; the plate reader
and the face detector look only there; a tracker per kind ties each object's boxes
together; the reads of one object in view make a *pass*. When the object has been gone
for `pass_gap_s` the pass closes and yields exactly one sighting:

- plates: the consensus text of all the pass's reads (a per-character vote weighted by
  the reader's confidence), and the best read's box and snapshot;
- faces: the best view (largest, sharpest, most frontal) is encoded once and named by
  the watch list, or given an unknown-person id.

Fragments of one pass (the tracker lost the object for a moment, the process restarted)
are folded together: plate fragments by their text while the pass is open, and any kind
through the `PassJournal`, which also survives a crash.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from streams.records import BBox, Detection, Frame, Sighting, SightingKind, new_id
from video.motion import MotionGate, merge_boxes
from video.pass_journal import PassJournal
from video.plates.grammar import normalize_plate
from video.readers import FaceReader, PlateReader, SecondOpinion, SeparateStepsReader
from video.tracking import Tracker, iou

if TYPE_CHECKING:
    from video.faces.track import FaceCandidate

log = logging.getLogger(__name__)


DEFAULT_ANALYSED_FPS = 2.0
GOOD_VIEW_PX = 96
"""A plate this wide makes a good snapshot; a pass is not settled before it has one."""
SETTLED_READS = 3
"""Reads of one plate, all the same, after which a pass stops reading (it still tracks)."""
FACE_MARGIN_PX = 64
"""Around a moving blob, where a face may still be whole (the head moves with the body)."""
NOT_A_PLATE_WAIT = 3
"""Analysed frames between PP-OCR opinions of a box it last read as no plate at all..."""
NOT_A_PLATE_NEARER = 1.25
"""...if the box has grown this much since (a nearer, better view of what may be a plate);
one that has not (a sign, an advert: the detector's usual false boxes, which stay in view
for many seconds) is asked again only after NOT_A_PLATE_LONG_WAIT analysed frames."""
NOT_A_PLATE_LONG_WAIT = 12
NOT_A_PLATE_IOU = 0.3
"""A box overlapping one PP-OCR read as no plate this much is that box again, whatever its
track (a sign seen only now and then gets a new track each time it reappears)."""


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    analysed_fps: float = DEFAULT_ANALYSED_FPS
    """Frames analysed per second of video; the rest are only decoded."""
    plates: bool = True
    faces: bool = True
    gate: bool = True
    """False: detectors see every analysed frame whole (the naive baseline of the bench)."""
    face_fps: float = 1.0
    """Faces are looked for at most this often (people walk: a face stays in view for
    seconds); 0 = on every analysed frame."""
    new_face_fps: float = 0.5
    """...but the moving regions are searched whole for faces not yet followed only this
    often (a face stays in view 7-9 s on the sample media, and HOG costs ~100 ms of CPU on
    a busy 720p frame); in between, only around the faces already followed (a few % of
    the pixels). 0 = every face look searches the regions whole."""
    key_every_s: float = 10.0
    """With the gate on, one frame this often is still searched whole: what stands still
    (a person waiting at the crossing) never moves into a motion region."""
    pass_gap_s: float = 2.5
    """An object unseen this long has left the view: its pass ends and is emitted."""
    max_pass_s: float = 60.0
    """A pass still going after this long is emitted anyway (a car parked in view)."""
    min_plate_reads: int = 2
    sure_plate_read: float = 0.9
    """...or one read at least this confident is enough for a plate sighting."""
    min_face_views: int = 2
    sure_face_quality: float = 0.5
    snapshots: bool = True
    skip_settled: bool = True
    """A plate pass with SETTLED_READS equal reads stops reading (its box is still tracked),
    and PP-OCR's opinions are reused and rationed per track (`_read_boxes`); False reads
    every plate box of every analysed frame afresh (the bench's naive baseline)."""


@dataclass(slots=True)
class PlateRead:
    text: str
    confidence: float
    char_confidences: list[float]
    bbox: BBox
    ts: datetime
    frame_index: int
    color: str | None


@dataclass(slots=True)
class _Pass:
    number: int
    kind: SightingKind
    first_seen: datetime
    last_seen: datetime
    track_ids: set[int] = field(default_factory=set)
    reads: list[PlateRead] = field(default_factory=list)
    best_read: PlateRead | None = None
    crops: dict[str, np.ndarray] = field(default_factory=dict)  # widest read's snapshot per text
    best_by_text: dict[str, PlateRead] = field(default_factory=dict)  # most confident per text
    view_by_text: dict[str, PlateRead] = field(default_factory=dict)  # widest box per text
    best_face: FaceCandidate | None = None
    best_face_ts: datetime | None = None
    last_box: BBox | None = None  # a face pass's latest box: where to look for it next
    views: int = 0
    emitted: bool = False

    def settled(self, reads: int) -> bool:
        """At least this many reads, all of one plate (nothing else read), one of them of a
        plate at least GOOD_VIEW_PX wide: more reads would add cost but no evidence, and
        the snapshot (and the sighting's time) already come from a good view, not from
        the first far-away read of an approaching car."""
        return len(self.reads) >= reads and len({r.text for r in self.reads}) == 1 \
            and max(_width(r.bbox) for r in self.reads) >= GOOD_VIEW_PX


@dataclass(slots=True)
class _TrackOpinion:
    """PP-OCR's last opinion of one plate track's plate, and when (analysed frame number)
    the track was last read."""

    opinion: SecondOpinion
    seen_at: int


@dataclass(slots=True)
class PipelineStats:
    frames: int = 0
    gated_out: int = 0  # analysed frames where nothing moved
    gate_s: float = 0.0
    plates_s: float = 0.0
    faces_s: float = 0.0
    identify_s: float = 0.0
    sightings: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0  # passes folded into one already emitted (journal)
    dropped: int = 0  # passes with too little evidence


def plate_consensus(reads: list[PlateRead]) -> tuple[str, float]:
    """The pass's plate text and the share of the reading weight that supports it.

    Whole strings vote first (weight = read confidence). Then, among reads of the winning
    length, each position votes by character confidence, which repairs a plate that no
    single read got fully right; the vote is kept only if it is a valid plate.
    """
    weights: defaultdict[str, float] = defaultdict(float)
    for read in reads:
        weights[read.text] += read.confidence
    total = sum(weights.values()) or 1.0
    top = max(weights, key=lambda t: (weights[t], t))
    length_weight: defaultdict[int, float] = defaultdict(float)
    for text, weight in weights.items():
        length_weight[len(text)] += weight
    length = max(length_weight, key=lambda n: (length_weight[n], n))
    same = [r for r in reads if len(r.text) == length]
    chars = []
    for i in range(length):
        votes: defaultdict[str, float] = defaultdict(float)
        for read in same:
            conf = read.char_confidences[i] if len(read.char_confidences) == length else read.confidence
            votes[read.text[i]] += conf
        chars.append(max(votes, key=lambda c: (votes[c], c)))
    voted = normalize_plate("".join(chars))
    text = voted if voted is not None and len(top) == length else top
    support = sum(r.confidence for r in reads if r.text == text) / total
    if text not in weights:  # a repaired plate: support from reads one character off
        support = sum(r.confidence for r in same if _distance(r.text, text) <= 1) / total
    return text, round(min(1.0, support), 4)


def _distance(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def plates_alike(a: str, b: str, same_track: bool = False) -> bool:
    """Equal, or one edit apart (a character misread, missing or extra): the same plate
    read twice by one camera within seconds, not two cars. Two different provinces are
    two cars, unless the reads follow each other in one pass (`same_track`: the province
    glyph is the reader's commonest misread)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1 or (a[:1] != b[:1] and not same_track):
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _glimpse_of(far: str, near: str) -> bool:
    """A far read two characters off a near read of the same length and province."""
    return len(far) == len(near) and far[:1] == near[:1] and _distance(far, near) <= 2


def _read_confidence(det: Detection) -> float:
    if det.char_confidences:
        return float(min(1.0, max(0.0, float(np.mean(det.char_confidences)))))
    return float(min(1.0, max(0.0, det.score)))


class CameraPipeline:
    """Analysis state of one camera; feed it analysed frames in time order."""

    def __init__(
        self,
        camera_id: str,
        *,
        plates: PlateReader | None,
        faces: FaceReader | None,
        options: PipelineOptions | None = None,
        home: Path | None = None,
        journal: PassJournal | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.options = options or PipelineOptions()
        self.plates = plates if self.options.plates else None
        self.faces = faces if self.options.faces else None
        self.home = home
        self.journal = journal or PassJournal(None)
        self.gate = MotionGate() if self.options.gate else None
        fps = self.options.analysed_fps
        self._plate_tracker = Tracker(analysed_fps=fps)
        self._face_tracker = Tracker(analysed_fps=fps, high_confidence=0.3, activation=0.0)
        self._open: list[_Pass] = []
        self._by_track: dict[tuple[SightingKind, int], _Pass] = {}
        self._opinions: dict[int, _TrackOpinion] = {}  # plate track id -> PP-OCR's last read
        self._not_plates: list[tuple[int, BBox, int]] = []  # (track id, box, frame) PP-OCR read as no plate
        self._numbers = count(1)
        # Whole: new_id() starts with the clock, so a slice of it would be shared by every
        # camera (re)started in the same moment, and their track ids would collide.
        self.run_id = new_id()
        self._last_key: datetime | None = None
        self._last_face: datetime | None = None
        self._last_new_face: datetime | None = None
        self._last_face_key: datetime | None = None
        self.stats = PipelineStats()

    # ------------------------------------------------------------ per frame

    def process(self, frame: Frame) -> list[Sighting]:
        """Analyse one frame; returns the sightings of passes that ended by its time."""
        image = frame.image
        height, width = image.shape[:2]
        self.stats.frames += 1
        started = time.perf_counter()
        regions = self.gate.regions(image) if self.gate else [(0, 0, width, height)]
        key_due = self._last_key is None or (frame.ts - self._last_key).total_seconds() >= self.options.key_every_s
        if regions == [(0, 0, width, height)] or (self.gate is not None and key_due):
            regions = [(0, 0, width, height)]
            self._last_key = frame.ts
        self.stats.gate_s += time.perf_counter() - started
        if not regions:
            self.stats.gated_out += 1
        ts = frame.ts.timestamp()
        if self.plates is not None:
            started = time.perf_counter()
            if getattr(self.plates, "separate_steps", False):
                self._detect_track_read(frame, regions, ts)
            else:  # a reader that only reads whole regions
                self._add_plates(frame, self._read_plates(image, regions) if regions else [], ts)
            self.stats.plates_s += time.perf_counter() - started
        if self.faces is not None and self._face_due(frame.ts):
            started = time.perf_counter()
            where = self._face_regions(frame.ts, regions, width, height) if self._new_faces_due(frame.ts) \
                else self._around_followed_faces(width, height)
            views = self.faces.find(image, where, frame.index) if where else []
            self.stats.faces_s += time.perf_counter() - started
            self._add_faces(frame, views, ts)
        return self._close(frame.ts, final=False)

    def _face_due(self, ts: datetime) -> bool:
        rate = self.options.face_fps
        if rate <= 0 or rate >= self.options.analysed_fps:
            return True
        if self._last_face is not None and (ts - self._last_face).total_seconds() < 0.95 / rate:
            return False
        self._last_face = ts
        return True

    def _new_faces_due(self, ts: datetime) -> bool:
        rate = self.options.new_face_fps
        if rate <= 0 or rate >= self.options.face_fps or self.options.face_fps <= 0:
            return True
        if self._last_new_face is not None and (ts - self._last_new_face).total_seconds() < 0.95 / rate:
            return False
        self._last_new_face = ts
        return True

    def _face_regions(self, ts: datetime, regions: list[BBox], width: int, height: int) -> list[BBox]:
        """Where to look for new faces: what moved, each blob grown by FACE_MARGIN_PX (the
        gate's `regions` are padded by half a blob and widened to the whole frame when busy,
        which suits the plate detector, not HOG, whose cost follows the area); the whole
        frame every `key_every_s`, for people standing still."""
        whole = [(0, 0, width, height)]
        if self.gate is None or self._last_face_key is None \
                or (ts - self._last_face_key).total_seconds() >= self.options.key_every_s:
            self._last_face_key = ts
            return whole
        return self.gate.moving_areas(FACE_MARGIN_PX, width, height) if regions else []

    def _around_followed_faces(self, width: int, height: int) -> list[BBox]:
        """A window of three face sizes around each open face pass's last box: where that
        face can be a second later at walking pace."""
        windows = []
        for p in self._open:
            if p.kind is SightingKind.FACE and not p.emitted and p.last_box is not None:
                x1, y1, x2, y2 = p.last_box
                w, h = x2 - x1, y2 - y1
                windows.append((max(0, x1 - w), max(0, y1 - h), min(width, x2 + w), min(height, y2 + h)))
        return merge_boxes(windows)

    def finish(self) -> list[Sighting]:
        """End of the stream: every open pass ends now."""
        return self._close(None, final=True)

    def acknowledge(self, sightings: list[Sighting]) -> None:
        """The bus has these sightings: they need not be published again after a crash."""
        self.journal.done(sightings)

    # ------------------------------------------------------------ plates

    def _read_plates(self, image: np.ndarray, regions: list[BBox]) -> list[Detection]:
        """One detector call over the union of the moving regions: the detector resizes
        its input to a fixed size, so a call costs the same for any crop, and a smaller
        crop gives small plates more pixels."""
        assert self.plates is not None
        height, width = image.shape[:2]
        union = _union(regions)
        if union == (0, 0, width, height):
            return self.plates.read_frame(image)
        return self.plates.read_regions(image, [union])

    def _detect_track_read(self, frame: Frame, regions: list[BBox], ts: float) -> None:
        """Find plates, track every box, and read only those whose pass is not settled:
        once a pass has read its plate SETTLED_READS times the same way, more reads add
        cost (the reader, PP-OCR's second opinion) but no evidence. A settled pass's box
        still keeps it open while the car is in view."""
        plates: SeparateStepsReader = self.plates  # type: ignore[assignment]
        found = plates.detect(frame.image, _union(regions)) if regions else []
        ids = self._plate_tracker.update([box for box, _ in found], [score for _, score in found], ts)
        to_read: list[tuple[BBox, float]] = []
        their_ids: list[int] = []
        for (box, score), track_id in zip(found, ids, strict=True):
            known = self._by_track.get((SightingKind.PLATE, track_id))
            if self.options.skip_settled and known is not None and not known.emitted \
                    and known.settled(SETTLED_READS):
                known.last_seen = max(known.last_seen, frame.ts)
                continue
            to_read.append((box, score))
            their_ids.append(track_id)
        self._add_reads(frame, list(zip(self._read_boxes(frame.image, to_read, their_ids), their_ids, strict=True)))

    def _read_boxes(self, image: np.ndarray, boxes: list[tuple[BBox, float]], track_ids: list[int]) -> list[Detection]:
        """Read these tracked boxes, handing each PP-OCR's recent opinions of this camera's
        plates (when the reader takes them: `read_tracked`), so that the reader need not
        ask again while our read still agrees with one."""
        if not boxes:
            return []
        read_tracked = getattr(self.plates, "read_tracked", None)
        if read_tracked is None or not self.options.skip_settled:
            return self.plates.read(image, boxes)  # type: ignore[union-attr]
        now = self.stats.frames
        keep = max(2, round(self.options.pass_gap_s * self.options.analysed_fps))
        self._opinions = {t: o for t, o in self._opinions.items() if now - o.seen_at <= keep}
        plates_seen = list(dict.fromkeys(o.opinion for o in self._opinions.values()
                                         if normalize_plate(o.opinion[0]) is not None))
        earlier = [[self._opinions[t].opinion] + plates_seen if t in self._opinions else plates_seen
                   for t in track_ids]
        self._not_plates = [n for n in self._not_plates if now - n[2] < NOT_A_PLATE_LONG_WAIT]
        may_ask = [self._may_ask(track_id, box) for (box, _), track_id in zip(boxes, track_ids, strict=True)]
        out = []
        for (det, opinion), track_id, (box, _) in zip(read_tracked(image, boxes, earlier, may_ask), track_ids, boxes,
                                                       strict=True):
            mine = self._opinions.get(track_id)
            if opinion is not None and (mine is None or opinion is not mine.opinion):
                self._opinions[track_id] = _TrackOpinion(opinion, seen_at=now)
                if normalize_plate(opinion[0]) is None:
                    self._not_plates.append((track_id, box, now))
            elif mine is not None:
                mine.seen_at = now
            out.append(det)
        return out

    def _may_ask(self, track_id: int, box: BBox) -> bool:
        """A box that PP-OCR last read as no plate at all (its track's, or one where this
        box is now) is asked again after NOT_A_PLATE_WAIT analysed frames if it came nearer
        since, else after NOT_A_PLATE_LONG_WAIT: each opinion costs ~40 ms of CPU and the
        same view gets the same answer (on the bench clips a hotel sign and an advert were
        asked 15 times in 40 s, every 3rd frame, before this rule)."""
        mine = self._opinions.get(track_id)
        if mine is not None and normalize_plate(mine.opinion[0]) is not None:
            return True  # a plate: the reader reuses the opinion while ours agrees
        last = max((n for n in self._not_plates if n[0] == track_id or iou(n[1], box) >= NOT_A_PLATE_IOU),
                   key=lambda n: n[2], default=None)
        if last is None:
            return True
        waited = self.stats.frames - last[2]
        return waited >= NOT_A_PLATE_WAIT and _width(box) >= NOT_A_PLATE_NEARER * _width(last[1])

    def _add_plates(self, frame: Frame, detections: list[Detection], ts: float) -> None:
        """Reads from a reader without a separate `detect`: track the read boxes."""
        readable = [d for d in detections if normalize_plate(d.text or "")]
        ids = self._plate_tracker.update([tuple(int(v) for v in d.bbox) for d in readable],  # type: ignore[misc]
                                         [_read_confidence(d) for d in readable], ts)
        self._add_reads(frame, list(zip(readable, ids, strict=True)))

    def _add_reads(self, frame: Frame, detections: list[tuple[Detection, int]]) -> None:
        reads: list[tuple[PlateRead, int]] = []
        for det, track_id in detections:
            text = normalize_plate(det.text or "")
            if text is None:
                continue
            reads.append((PlateRead(text, _read_confidence(det), list(det.char_confidences),
                                    tuple(int(v) for v in det.bbox), frame.ts, frame.index,  # type: ignore[arg-type]
                                    det.color), track_id))
        for read, track_id in reads:
            found = self._pass_for_read(read, track_id, frame.ts)
            if found is None:
                found = self._new_pass(SightingKind.PLATE, frame.ts)
            found.track_ids.add(track_id)
            self._by_track[(SightingKind.PLATE, track_id)] = found
            found.reads.append(read)
            found.last_seen = max(found.last_seen, frame.ts)
            if found.best_read is None or read.confidence > found.best_read.confidence:
                found.best_read = read
            previous = found.best_by_text.get(read.text)
            if previous is None or read.confidence > previous.confidence:
                found.best_by_text[read.text] = read
            widest = found.view_by_text.get(read.text)
            if widest is None or _width(read.bbox) > _width(widest.bbox):
                found.view_by_text[read.text] = read
                if self.options.snapshots and self.home is not None:
                    found.crops[read.text] = _vehicle_crop(frame.image, read.bbox)

    def _pass_for_read(self, read: PlateRead, track_id: int, ts: datetime) -> _Pass | None:
        """Which open pass a plate read belongs to. The text is the stronger clue: at 2
        frames per second two cars side by side can swap track ids, never plate numbers.

        1. an open pass that already read exactly this plate;
        2. else the pass of its track, unless that pass reads a clearly different plate;
        3. else a pass of a plate one edit away (read short as it entered the view, or
           its province misread), not read in this same frame (two plates in one picture
           are two cars).
        """
        plates = [p for p in self._open if p.kind is SightingKind.PLATE and not p.emitted]
        exact = next((p for p in plates if read.text in p.best_by_text), None)
        if exact is not None:
            return exact
        tracked = self._by_track.get((SightingKind.PLATE, track_id))
        if tracked is not None and not tracked.emitted and any(
                plates_alike(r.text, read.text, same_track=True) for r in tracked.reads):
            return tracked
        return next((p for p in plates if p.last_seen < ts
                     and any(plates_alike(r.text, read.text, same_track=True) for r in p.reads)), None)

    # ------------------------------------------------------------ faces

    def _add_faces(self, frame: Frame, views: list[FaceCandidate], ts: float) -> None:
        ids = self._face_tracker.update([v.bbox for v in views], [min(1.0, v.score) for v in views], ts)
        for view, track_id in zip(views, ids, strict=True):
            found = self._by_track.get((SightingKind.FACE, track_id))
            if found is None:
                found = self._new_pass(SightingKind.FACE, frame.ts)
                found.track_ids.add(track_id)
                self._by_track[(SightingKind.FACE, track_id)] = found
            found.views += 1
            found.last_seen = max(found.last_seen, frame.ts)
            found.last_box = view.bbox
            if found.best_face is None or _better_face(view, found.best_face):
                found.best_face = view
                found.best_face_ts = frame.ts

    # ------------------------------------------------------------ passes

    def _new_pass(self, kind: SightingKind, ts: datetime) -> _Pass:
        found = _Pass(next(self._numbers), kind, ts, ts)
        self._open.append(found)
        return found

    def _close(self, now: datetime | None, final: bool) -> list[Sighting]:
        out: list[Sighting] = []
        still_open: list[_Pass] = []
        for p in self._open:
            ended = final or (now is not None and (now - p.last_seen).total_seconds() > self.options.pass_gap_s)
            too_long = now is not None and (now - p.first_seen).total_seconds() > self.options.max_pass_s
            if ended and not p.emitted and not final and self._fold_into_open(p):
                continue
            if not p.emitted and (ended or too_long):
                sighting = self._sighting(p)
                p.emitted = True
                if sighting is not None:
                    out.append(sighting)
            if ended:
                for track_id in p.track_ids:
                    self._by_track.pop((p.kind, track_id), None)
            else:
                still_open.append(p)
        self._open = still_open
        return out

    def _fold_into_open(self, ended: _Pass) -> bool:
        """A plate pass ending while a pass of a nearly equal plate goes on is a fragment of
        it (read one character short as it entered the view): its reads join that pass.
        Never when both were read in the same frame: then they are two cars."""
        if ended.kind is not SightingKind.PLATE or not ended.reads:
            return False
        text, _ = plate_consensus(ended.reads)
        gap = timedelta(seconds=self.options.pass_gap_s)
        # only glimpsed from afar (every read narrower than a good view): a misread of a car
        # that the next pass sees closer may be two characters off (冀K43LL9 for 冀K43L9R at
        # 65 px, then read right from 79 to 158 px)
        glimpse = all(_width(r.bbox) < GOOD_VIEW_PX for r in ended.reads)
        for other in self._open:
            if other is ended or other.kind is not SightingKind.PLATE or other.emitted or not other.reads:
                continue
            seen_together = not {r.ts for r in ended.reads}.isdisjoint(r.ts for r in other.reads)
            if not seen_together and ended.first_seen - gap <= other.last_seen \
                    and other.first_seen - gap <= ended.last_seen \
                    and any(plates_alike(text, r.text, same_track=True)
                            or (glimpse and _width(r.bbox) >= GOOD_VIEW_PX and _glimpse_of(text, r.text))
                            for r in other.reads):
                other.reads.extend(ended.reads)
                other.first_seen = min(other.first_seen, ended.first_seen)
                for read_text, read in ended.best_by_text.items():
                    mine = other.best_by_text.get(read_text)
                    if mine is None or read.confidence > mine.confidence:
                        other.best_by_text[read_text] = read
                for read_text, read in ended.view_by_text.items():
                    mine = other.view_by_text.get(read_text)
                    if mine is None or _width(read.bbox) > _width(mine.bbox):
                        other.view_by_text[read_text] = read
                        if read_text in ended.crops:
                            other.crops[read_text] = ended.crops[read_text]
                if other.best_read is None or (ended.best_read and ended.best_read.confidence > other.best_read.confidence):
                    other.best_read = ended.best_read
                for track_id in ended.track_ids:
                    self._by_track.pop((ended.kind, track_id), None)
                return True
        return False

    def _sighting(self, p: _Pass) -> Sighting | None:
        built = self._plate_sighting(p) if p.kind is SightingKind.PLATE else self._face_sighting(p)
        if built is None:
            self.stats.dropped += 1
            return None
        sighting, image, box = built
        alike = plates_alike if p.kind is SightingKind.PLATE else None
        if self.journal.same_pass(p.kind.value, sighting.identity, p.first_seen, p.last_seen, alike):
            self.stats.suppressed += 1
            log.info("camera %s: %s %s continues a pass already emitted", self.camera_id,
                     p.kind.value, sighting.identity)
            return None
        if self.options.snapshots and self.home is not None and image is not None:
            sighting = sighting.model_copy(update={"snapshot": self._save_snapshot(sighting, image, box)})
        self.journal.begin(sighting, p.last_seen)
        self.stats.sightings[p.kind.value] += 1
        return sighting

    def _plate_sighting(self, p: _Pass) -> tuple[Sighting, np.ndarray | None, BBox | None] | None:
        if not p.reads or p.best_read is None:
            return None
        text, support = plate_consensus(p.reads)
        best = p.best_by_text.get(text, p.best_read)
        enough = len(p.reads) >= self.options.min_plate_reads or best.confidence >= self.options.sure_plate_read
        if not enough:
            log.debug("camera %s: plate %s read once at %.2f: not enough", self.camera_id, text, best.confidence)
            return None
        colors = Counter(r.color for r in p.reads if r.color)
        view = p.view_by_text.get(best.text, best)  # time, box and snapshot: the widest view
        sighting = Sighting(
            camera_id=self.camera_id, ts=view.ts, kind=SightingKind.PLATE, identity=text,
            confidence=round(min(1.0, best.confidence * (0.5 + 0.5 * support)), 4),
            bbox=view.bbox, track_id=f"{self.run_id}-{p.number}",
            plate_color=colors.most_common(1)[0][0][:16] if colors else None,
        )
        return sighting, p.crops.get(best.text), None

    def _face_sighting(self, p: _Pass) -> tuple[Sighting, np.ndarray | None, BBox | None] | None:
        if self.faces is None or p.best_face is None or p.best_face_ts is None:
            return None
        best = p.best_face
        if p.views < self.options.min_face_views and best.quality < self.options.sure_face_quality:
            return None
        started = time.perf_counter()
        identity, watchlisted, distance, encoding = self.faces.identify(best, p.best_face_ts)
        self.stats.identify_s += time.perf_counter() - started
        sighting = Sighting(
            camera_id=self.camera_id, ts=p.best_face_ts, kind=SightingKind.FACE,
            # a named person: how close to their enrolled faces; an unknown one (distance to
            # a cluster it may have just founded says little): how good the view was
            identity=identity[:64],
            confidence=round(max(0.0, min(1.0, (1.0 - distance) if watchlisted else best.quality)), 4),
            bbox=best.bbox, track_id=f"{self.run_id}-{p.number}",
            face_distance=round(min(2.0, max(0.0, distance)), 4), encoding=encoding,
        )
        return sighting, best.crop, best.crop_box

    def _save_snapshot(self, sighting: Sighting, image: np.ndarray, face_box: BBox | None) -> str | None:
        """Plates under Settings.snapshots; faces where the privacy rules keep biometrics
        (purged after the retention period). Paths are relative to the data folder."""
        assert self.home is not None
        try:
            if sighting.kind is SightingKind.FACE and face_box is not None:
                from video.faces.privacy import save_face_crop

                path = save_face_crop(self.home, image, face_box, sighting.ts)
            else:
                day = sighting.ts.strftime("%Y-%m-%d")
                folder = self.home / "snapshots" / self.camera_id / day
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{sighting.id}.jpg"
                if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85]):
                    raise OSError(f"cannot write {path}")
            return str(path.relative_to(self.home))
        except (OSError, ValueError) as exc:
            log.warning("camera %s: snapshot not saved: %s", self.camera_id, exc)
            return None


def _width(box: BBox) -> int:
    return box[2] - box[0]


def _union(regions: list[BBox]) -> BBox:
    return (min(r[0] for r in regions), min(r[1] for r in regions),
            max(r[2] for r in regions), max(r[3] for r in regions))


def _better_face(new: FaceCandidate, old: FaceCandidate) -> bool:
    def size(c: FaceCandidate) -> int:
        return (c.bbox[2] - c.bbox[0]) * (c.bbox[3] - c.bbox[1])
    return (round(new.quality, 6), size(new)) > (round(old.quality, 6), size(old))


def _vehicle_crop(image: np.ndarray, box: BBox) -> np.ndarray:
    """The plate with the front or back of its vehicle around it: what an analyst checks."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx1, cx2 = max(0, x1 - w), min(width, x2 + w)
    cy1, cy2 = max(0, y1 - 3 * h), min(height, y2 + h)
    return image[cy1:cy2, cx1:cx2].copy()

