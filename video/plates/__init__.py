"""Chinese licence plates: grammar, rendering, detection (YOLO) and reading (fast-plate-ocr)."""
