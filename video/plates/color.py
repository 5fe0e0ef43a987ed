"""Plate colour from pixels: the background hue of the crop's centre.

The colour tells the plate's class (blue private car, yellow truck/coach, green new-energy,
white police, black consular/HK) and disambiguates two vehicles with the same characters.
The text is checked too: 警 means a white plate, 港澳领使 a black one.
"""

from __future__ import annotations

import cv2
import numpy as np


def plate_color(crop: np.ndarray, text: str | None = None) -> str | None:
    """'blue', 'yellow', 'green', 'white' or 'black'; None for an empty crop."""
    if text:
        if text.endswith("警"):
            return "white"
        if text[-1] in "港澳领" or text.startswith("使"):
            return "black"
        if len(text) == 8:
            return "green"
    if crop is None or crop.size == 0:
        return None
    h, w = crop.shape[:2]
    centre = crop[h // 5 : h - h // 5 or h, w // 10 : w - w // 10 or w]
    hsv = cv2.cvtColor(centre, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float32)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    saturated = sat > 70
    if saturated.mean() > 0.3:
        hues = hue[saturated & (val > 50)]
        if hues.size:
            med = float(np.median(hues))
            if 95 <= med <= 135:
                return "blue"
            if 12 <= med < 35:
                return "yellow"
            if 35 <= med < 95:
                return "green"
    return "white" if float(np.median(val)) > 120 else "black"
