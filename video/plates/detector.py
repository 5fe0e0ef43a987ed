"""Find plates in a frame with the YOLO model trained here, run through onnxruntime.

The model was exported for 384x640 inputs (a 720p frame letterboxed to 640 wide loses
nothing): any frame is letterboxed to that size, boxes are mapped back to frame pixels.
No torch at run time.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from streams.records import BBox


class PlateDetector:
    """YOLO (single class: plate) on onnxruntime."""

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        _, _, self.height, self.width = self.session.get_inputs()[0].shape

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        h, w = image.shape[:2]
        scale = min(self.width / w, self.height / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.full((self.height, self.width, 3), 114, np.uint8)
        top, left = (self.height - nh) // 2, (self.width - nw) // 2
        canvas[top : top + nh, left : left + nw] = resized
        return canvas, scale, left, top

    def detect(self, image: np.ndarray, min_score: float = 0.25, iou: float = 0.5
               ) -> list[tuple[BBox, float]]:
        """Plate boxes (x1, y1, x2, y2) in `image` pixels with their scores, best first."""
        canvas, scale, left, top = self._letterbox(image)
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self.session.run(None, {self.input_name: blob})[0][0]  # (5, N): cx, cy, w, h, score
        scores = out[4]
        keep = scores >= min_score
        if not keep.any():
            return []
        cx, cy, bw, bh = out[0][keep], out[1][keep], out[2][keep], out[3][keep]
        scores = scores[keep]
        boxes_xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
        idx = cv2.dnn.NMSBoxes(boxes_xywh.tolist(), scores.tolist(), min_score, iou)
        h, w = image.shape[:2]
        found = []
        for i in np.array(idx).reshape(-1):
            x, y, bw_i, bh_i = boxes_xywh[i]
            x1 = int(np.clip((x - left) / scale, 0, w - 1))
            y1 = int(np.clip((y - top) / scale, 0, h - 1))
            x2 = int(np.clip((x + bw_i - left) / scale, 0, w))
            y2 = int(np.clip((y + bh_i - top) / scale, 0, h))
            if x2 - x1 >= 4 and y2 - y1 >= 3:
                found.append(((x1, y1, x2, y2), float(scores[i])))
        return sorted(found, key=lambda item: -item[1])
