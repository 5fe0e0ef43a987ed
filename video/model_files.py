"""Model files shipped in `models/`, and the check that they are the ones we measured.

Every figure in docs/ACCURACY.md belongs to one exact file. Each model folder holds its own
manifest beside its files (`models/plates/manifest.json`, paths relative to that folder):
each file's sha256 next to how it was made, on what data, and what it scored;
`verified_path` refuses a file that is missing or differs, with a message that says which
file and how to get it back, instead of letting a truncated or swapped model read plates
wrongly in silence.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MANIFEST_NAME = "manifest.json"


class ModelFileError(RuntimeError):
    """A model file is missing, altered, or not listed in the manifest."""


@dataclass(frozen=True)
class ModelEntry:
    """One manifest entry: a file under models/ and what is known about it."""

    name: str
    file: str
    sha256: str
    info: dict[str, Any] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_paths(models_dir: Path | None = None) -> list[Path]:
    """The manifests of the model folders under `models_dir` (models/<folder>/manifest.json)."""
    root = Path(models_dir) if models_dir else MODELS_DIR
    return sorted(root.glob(f"*/{MANIFEST_NAME}"))


def load_manifest(models_dir: Path | None = None) -> dict[str, ModelEntry]:
    """The entries of every model folder's manifest, by name; `file` relative to `models_dir`
    (e.g. plates/plate_reader.onnx)."""
    root = Path(models_dir) if models_dir else MODELS_DIR
    paths = manifest_paths(root)
    if not paths:
        raise ModelFileError(f"no model manifest under {root} (models/<folder>/{MANIFEST_NAME}): "
                             "restore it from git (git checkout -- models/)")
    entries = {}
    for path in paths:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"model manifest {path} is not valid JSON: {exc}") from exc
        for item in raw.get("models", []):
            info = {k: v for k, v in item.items() if k not in ("name", "file", "sha256")}
            file = f"{path.parent.name}/{item['file']}"
            entries[item["name"]] = ModelEntry(item["name"], file, item["sha256"], info)
    return entries


def verified_path(name: str, models_dir: Path | None = None) -> Path:
    """Path of model `name` after checking it exists and matches its recorded sha256."""
    root = Path(models_dir) if models_dir else MODELS_DIR
    entries = load_manifest(root)
    if name not in entries:
        raise ModelFileError(f"model {name!r} is in no manifest under {root} "
                             f"(known: {', '.join(sorted(entries)) or 'none'})")
    entry = entries[name]
    path = root / entry.file
    if not path.is_file():
        raise ModelFileError(f"model file {path} ({name}) is missing: restore it with "
                             f"`git checkout -- models/{entry.file}` or retrain it "
                             f"({entry.info.get('training_command', 'see docs/ACCURACY.md')})")
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ModelFileError(f"model file {path} ({name}) was altered: sha256 {actual[:12]}... "
                             f"but the manifest expects {entry.sha256[:12]}...; restore it with "
                             f"`git checkout -- models/{entry.file}` or, after retraining on "
                             f"purpose, record the new file in its folder's {MANIFEST_NAME} "
                             f"(models/plates/record_models.py)")
    return path


def record_model(name: str, file: str, info: dict[str, Any], models_dir: Path | None = None) -> None:
    """Add or replace one entry, with the current sha256 of `file` (a path under `models_dir`,
    e.g. plates/plate_reader.onnx), in the manifest of the file's model folder
    (models/plates/manifest.json, where the entry's path is relative to that folder)."""
    root = Path(models_dir) if models_dir else MODELS_DIR
    folder, _, inside = file.partition("/")
    if not inside:
        raise ValueError(f"{file!r} is not in a model folder under {root} (e.g. plates/plate_reader.onnx)")
    path = root / folder / MANIFEST_NAME
    raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"models": []}
    entry = {"name": name, "file": inside, "sha256": sha256_of(root / file), **info}
    models = [m for m in raw.get("models", []) if m.get("name") != name] + [entry]
    raw["models"] = sorted(models, key=lambda m: m["name"])
    path.write_text(json.dumps(raw, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
