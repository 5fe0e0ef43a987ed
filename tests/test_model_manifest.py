"""Every model file the product runs is in the manifest beside it (models/plates/manifest.json)
with how it was made, on what data, what it scored, and its sha256 (the refusal of an altered
file: tests/test_plates.py)."""

from __future__ import annotations

from video.model_files import MODELS_DIR, load_manifest, sha256_of

WEIGHT_FILES = ("*.onnx", "*.h5", "*.keras", "*.pt")
"""Models the product runs and checkpoints training continues from: both must be accounted for."""
PROVENANCE = ("what", "source", "training_command", "license", "data", "data_generator", "metrics")


def test_every_model_and_checkpoint_file_has_a_manifest_entry_with_provenance_metrics_and_its_sha256() -> None:
    entries = {entry.file: entry for entry in load_manifest().values()}
    onnx_files = sorted(p.relative_to(MODELS_DIR).as_posix() for pattern in WEIGHT_FILES
                        for p in MODELS_DIR.rglob(pattern))
    assert onnx_files, "no model files under models/"
    for file in onnx_files:
        assert (MODELS_DIR / file.split("/")[0] / "manifest.json").is_file(), f"no manifest beside models/{file}"
        assert file in entries, f"models/{file} is not in its folder's manifest.json"
        entry = entries[file]
        assert entry.sha256 == sha256_of(MODELS_DIR / file), f"models/{file} differs from its manifest sha256"
        missing = [key for key in PROVENANCE if not entry.info.get(key)]
        assert not missing, f"models/{file}: manifest lacks {missing}"

