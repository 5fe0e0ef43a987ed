"""Write the plate models' entries (sha256, provenance, metrics) into models/plates/manifest.json.

    python models/plates/record_models.py [--metrics-file models/plates/metrics.json]

Run after retraining a model on purpose: the runtime refuses files whose sha256 differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.plates.synth import GENERATOR_VERSION  # noqa: E402
from video.model_files import record_model  # noqa: E402

DATA9 = ("make_reader_data.py --out .cache/plates/reader9tf --train 60000 --val 2000 "
         "--train-seed 8000000 --typeface 0.6 --occluded 0.3 --trimmed 0.3 && make_reader_data.py "
         "--out .cache/plates/reader10var --train 48000 --val 2000 --train-seed 9000000 --typeface "
         "0.7 --occluded 0.2 --trimmed 0.3 && python models/plates/merge_reader_data.py --out "
         ".cache/plates/reader9_10 .cache/plates/reader10var .cache/plates/reader9tf")
"""Session 9's crop sets: 60% and 70% of the plates in the plates' own look (--typeface)."""
DATA9_DATA = ("108000 crops (seeds 8000000-8059999 and 9000000-9047999) of which 60% and 70% "
              "are drawn in the plates' own look (make_reader_data.py --typeface: plate-like "
              "fonts, the bar-shaped 1, the motorcycle plate, the police dot after the province) "
              "and 30% and 20% carry an occluder (hidden glyphs left unlabelled, crops with one "
              "left out of the CCT's training), with TRAINING_FONT_PACKAGES installed; val: "
              "reader10var's 2000 (seeds from 10000000)")
DATA10 = ("make_reader_data.py --out .cache/plates/reader11small --train 36000 --val 2000 "
          "--train-seed 2000000 --typeface 0.6 --occluded 0.2 --trimmed 0.3 --widths 48 120 && "
          "make_reader_data.py --out .cache/plates/reader12 --train 44000 --val 2000 --train-seed "
          "2100000 --typeface 0.5 --occluded 0.2 --trimmed 0.3")
"""Session 10's crop sets: small plates (48-120 px, where the province glyph fails) and a
fresh set of every size, half of each in the plates' own look."""
DATA10_DATA = ("80000 crops (seeds 2000000-2035999, plates 48-120 px wide, and 2100000-2143999, "
               "48-330 px) of which 60% and 50% are in the plates' own look and 20% carry an "
               "occluder, with TRAINING_FONT_PACKAGES installed; val: reader12's 2000 (seeds "
               "from 10000000)")
TORCH_CPU = ("(session 9: .venv/bin/pip install torch==2.13.0 onnx==1.23.2, the CPU wheel, is "
             "all the two torch CNNs need) ")

ENTRIES = {
    "plate_detector": {
        "file": "plates/plate_detector.onnx",
        "what": "YOLO11 plate detector, yolo11n at half width (models/plates/yolo11p-plates.yaml, "
                "0.81M parameters), 1 class; input 1x3xHxW RGB/255 letterboxed (dynamic axes, "
                "multiples of 32; 384x640 is the size checked and the default), output "
                "1x5xN (cx, cy, w, h, score); still images are looked at twice, letterboxed and "
                "at twice that scale (PlateDetector.detect_two_scales, since session 10)",
        "source": "trained here from scratch (ultralytics 8.4.190, pretrained=False, 320 px, "
                  "batch 16, AdamW lr 0.002, 6 epochs in a 0.9 h budget of 2 shared cores, "
                  "mAP50 0.78), then (session 4) continued from those weights (--init, AdamW "
                  "lr 0.0007, no warmup, cosine) for 14 epochs of ~2.3 min each, stopped once "
                  "val mAP50 plateaued at 0.87-0.89; the weights are that run's best.pt "
                  "(epoch 11 by ultralytics' fitness: mAP50 0.873, mAP50-95 0.519). Exported "
                  "with ultralytics to ONNX opset 17 with dynamic axes "
                  "(python models/plates/train_detector.py --export-only BEST.pt)",
        "training_command": "python models/plates/make_detector_data.py --train 2400 --val 200 && "
                            "python models/plates/train_detector.py --hours 0.9 && "
                            "python models/plates/train_detector.py --init "
                            ".cache/runs/plate_det/weights/best.pt --warmup-epochs 0 --lr0 0.0007 "
                            "--epochs 30 --hours 0.8 --name plate_det3 (stopped after 14 epochs)",
        "license": "AGPL-3.0 (ultralytics architecture/training code); weights trained here",
        "data": "2400 train + 200 val synthetic 1280x720/1920x1080 scenes with 1-4 plates each, "
                "written by models/plates/make_detector_data.py (the first step of the training "
                "command) into .cache/plates/detector; not committed: regenerated from seeds",
    },
    "plate_detector_checkpoint": {
        "file": "plates/checkpoints/plate_detector.pt",
        "what": "ultralytics checkpoint of plate_detector (the same network before ONNX export): "
                "not run by the product; what train_detector.py --init continues from",
        "source": "session 5: rebuilt from the committed plates/plate_detector.onnx by "
                  "models/plates/recover_detector_pt.py (the .cache runs were lost with the "
                  "machine; the rebuilt model gives the ONNX model's scores to 1e-6 on 48 "
                  "synthetic scenes)",
        "training_command": "python models/plates/make_detector_data.py --out .cache/plates/det_probe "
                            "--train 0 --val 48 && python models/plates/recover_detector_pt.py "
                            "--images .cache/plates/det_probe/val/images --out "
                            "models/plates/checkpoints/plate_detector.pt",
        "license": "AGPL-3.0 (ultralytics architecture/training code); weights trained here",
        "data": "as plate_detector",
    },
    "plate_reader": {
        "file": "plates/plate_reader.onnx",
        "what": "fast-plate-ocr CCT reader (models/plates/reader_model_config.yaml), 48x128 "
                "grayscale uint8 in, 8 slots x 73 classes out",
        "source": "trained here from scratch with fast-plate-ocr's training CLI (keras 3, "
                  "TensorFlow backend) on synthetic padded crops; exported with its export CLI",
        "training_command": "bash models/plates/train_reader.sh 5; then continued from the "
                            "previous best weights: bash models/plates/train_reader.sh N START.keras "
                            "(24000 synthetic crops, 2000 val, lr 0.002 cosine, batch 64). Stages "
                            "run: 5 epochs from scratch with fast-plate-ocr's default augmentation "
                            "(val plate acc 0.16), 1 epoch at lr 0.0008 (0.23), then with the light "
                            "augmentation models/plates/reader_augmentation.yaml 2 epochs (0.42) "
                            "and 4 epochs (0.55); then (session 3) on a fresh 48000-crop set "
                            "(CITYOPS_READER_DATA=.cache/plates/reader2 CITYOPS_READER_SEED=1000000 "
                            "CITYOPS_READER_COUNT=48000) 1 epoch (0.58) and 3 epochs (0.66); "
                            "then (session 4) on a fresh 72000-crop set at lr 0.0015 "
                            "(CITYOPS_READER_DATA=.cache/plates/reader4 CITYOPS_READER_SEED=3000000 "
                            "CITYOPS_READER_COUNT=72000 CITYOPS_READER_LR=0.0015) "
                            "4 epochs: 0.68, 0.70, 0.73, 0.73; ~5.5 h of 2 CPU cores in all; "
                            "then (session 9) 1 epoch (18 min) on 108000 fresh crops, 60% of them "
                            "in the plates' own look: " + DATA9 + " && CITYOPS_READER_DATA="
                            ".cache/plates/reader9_10 CITYOPS_READER_LR=0.001 bash "
                            "models/plates/train_reader.sh 1 "
                            "models/plates/checkpoints/plate_reader.weights.h5 (val plate acc "
                            "0.683 on reader10var's val crops, 70% of them in that look); then "
                            "(session 10) 1 epoch (~15 min) on 80000 fresh crops, 36000 of them "
                            "small plates: " + DATA10 + " && python models/plates/merge_reader_data.py "
                            "--out .cache/plates/reader11_12 .cache/plates/reader12 "
                            ".cache/plates/reader11small && CITYOPS_READER_DATA=.cache/plates/reader11_12 "
                            "CITYOPS_READER_LR=0.0008 bash models/plates/train_reader.sh 1 "
                            "models/plates/checkpoints/plate_reader.weights.h5 (val plate acc 0.705 "
                            "on reader12's val crops in full sight)",
        "license": "weights trained here; fast-plate-ocr is MIT",
        "data": "24000 (seeds 0-23999), 48000 (seeds 1000000-1047999) and 72000 (seeds "
                "3000000-3071999) train + 2000 val "
                "(seeds from 10000000) synthetic padded plate crops of all six kinds, written "
                "by models/plates/make_reader_data.py (train_reader.sh runs it when missing) into "
                ".cache/plates/reader, reader2 and reader4; not committed: regenerated from seeds; "
                "session 9: " + DATA9_DATA + "; session 10: " + DATA10_DATA,
    },
    "plate_reader_checkpoint": {
        "file": "plates/checkpoints/plate_reader.weights.h5",
        "what": "Keras weights of plate_reader (the same network before ONNX export): not run by "
                "the product; what train_reader.sh continues from (START_WEIGHTS)",
        "source": "session 5: rebuilt from the committed plates/plate_reader.onnx by "
                  "models/plates/recover_reader_keras.py (earlier checkpoints were under .cache/, "
                  "lost with the machine; the rebuilt model gives the ONNX model's outputs to "
                  "6e-6 on 512 val crops); train_reader.sh writes each new best here",
        "training_command": ".venv-train/bin/python models/plates/recover_reader_keras.py "
                            "--val .cache/plates/reader5/val.csv --out "
                            "models/plates/checkpoints/plate_reader.weights.h5; since then "
                            "bash models/plates/train_reader.sh (see plate_reader)",
        "license": "weights trained here; fast-plate-ocr is MIT",
        "data": "as plate_reader",
    },
    "plate_reader_candidate_s5": {
        "file": "plates/checkpoints/candidates/plate_reader_s5.weights.h5",
        "what": "Keras weights of a plate_reader trained further in session 5: NOT shipped "
                "(more exact reads, but more confident wrong ones; docs/ACCURACY.md)",
        "source": "plate_reader_checkpoint trained 3 epochs on a fresh 72000-crop set at lr "
                  "0.001 (fast-plate-ocr val plate acc 0.725, 0.741, 0.749)",
        "training_command": "CITYOPS_READER_DATA=.cache/plates/reader5 CITYOPS_READER_SEED=4000000 "
                            "CITYOPS_READER_COUNT=72000 CITYOPS_READER_LR=0.001 bash "
                            "models/plates/train_reader.sh 4 "
                            "models/plates/checkpoints/plate_reader.weights.h5 (stopped after 3 "
                            "of 4 epochs; its best.keras saved as weights)",
        "license": "weights trained here; fast-plate-ocr is MIT",
        "data": "72000 train crops (seeds 4000000-4071999) + 2000 val (seeds from 10000000), "
                "make_reader_data.py with TRAINING_FONT_PACKAGES installed",
    },
    "plate_province": {
        "file": "plates/plate_province.onnx",
        "what": "province reader: a 6-conv CNN (models/plates/train_province.py build_model, "
                "0.51M parameters) that reads a plate's first glyph (31 provinces + 使); input "
                "1x1x64x96 gray/255 = the left 60% of the crop (video/plates/province.py), "
                "output 32 logits; the runtime combines its softmax with plate_reader's slot 0 "
                "(geometric mean, PlateReader._with_province)",
        "source": "trained here from scratch with torch (AdamW, one-cycle lr 0.003, batch 128, "
                  "augmentation: box span/offset, exposure, blur), exported to ONNX opset 17 by "
                  "the same script",
        "training_command": ".venv/bin/pip install -r requirements-train.txt && "
                            ".venv/bin/python models/plates/train_province.py --data "
                            ".cache/plates/reader5 --epochs 6; then (session 9) " + TORCH_CPU + DATA9
                            + " && .venv/bin/python models/plates/train_province.py --data "
                            ".cache/plates/reader9_10 --init models/plates/checkpoints/plate_province.pt "
                            "--epochs 2 --lr 0.0015; then (session 10) " + DATA10 + " && "
                            ".venv/bin/python models/plates/train_province.py --data "
                            ".cache/plates/reader12 .cache/plates/reader11small --init "
                            "models/plates/checkpoints/plate_province.pt --epochs 2 --lr 0.001",
        "license": "weights and code written here",
        "data": "the plate_reader_candidate_s5 crops: 72000 train (seeds 4000000-4071999) + "
                "2000 val (seeds from 10000000), make_reader_data.py with "
                "TRAINING_FONT_PACKAGES installed; session 9: " + DATA9_DATA
                + "; session 10: " + DATA10_DATA + " (crops whose first glyph is hidden left out)",
    },
    "plate_province_checkpoint": {
        "file": "plates/checkpoints/plate_province.pt",
        "what": "torch state dict of plate_province (before export): not run by the product; "
                "what train_province.py --init continues from",
        "source": "written by train_province.py at its best val epoch",
        "training_command": "as plate_province",
        "license": "weights and code written here",
        "data": "as plate_province",
    },
    "plate_slots": {
        "file": "plates/plate_slots.onnx",
        "what": "slot reader: a 6-conv CNN with one attention map and one classifier per slot "
                "(models/plates/train_slot_reader.py build_model, 0.51M parameters) that reads "
                "every glyph of a plate; input 1x1x64x160 gray/255 = the whole crop "
                "(video/plates/slot_reader.py), output 8 slots x 73 logits over plate_reader's "
                "alphabet, and (since session 8) a second output, 1 logit: an object hides a "
                "glyph of this plate; the runtime combines its softmax with plate_reader's slot "
                "by slot (geometric mean, PlateReader._read_crops) and reads no string from a "
                "plate it says is hidden (MAX_HIDDEN)",
        "source": "trained here from scratch with torch (AdamW, one-cycle lr 0.003, batch 128, "
                  "augmentation: margins cut or added, exposure, blur), exported to ONNX opset "
                  "17 by the same script",
        "training_command": ".venv/bin/pip install -r requirements-train.txt && "
                            ".venv/bin/python models/plates/train_slot_reader.py --data "
                            ".cache/plates/reader5 --epochs 7 (session 7); then (session 8) "
                            "make_reader_data.py --out .cache/plates/reader6 --train 72000 --val "
                            "2000 --train-seed 5000000 && make_reader_data.py --out "
                            ".cache/plates/reader7occ --train 30000 --val 2000 --train-seed "
                            "6000000 --occluded 0.5 && train_slot_reader.py --data "
                            ".cache/plates/reader6 .cache/plates/reader7occ --init "
                            "models/plates/checkpoints/plate_slots.pt --epochs 3 --lr 0.0015 "
                            "&& make_reader_data.py --out .cache/plates/reader8trim --train "
                            "24000 --val 2000 --train-seed 7000000 --occluded 0.5 --trimmed 0.5 "
                            "&& train_slot_reader.py --data .cache/plates/reader6 "
                            ".cache/plates/reader7occ .cache/plates/reader8trim --limit 24000 "
                            "--init models/plates/checkpoints/plate_slots.pt --epochs 2 --lr 0.001; "
                            "then (session 9) " + TORCH_CPU + DATA9 + " && "
                            ".venv/bin/python models/plates/train_slot_reader.py --data "
                            ".cache/plates/reader9tf --init models/plates/checkpoints/plate_slots.pt "
                            "--epochs 3 --lr 0.0015 && .venv/bin/python "
                            "models/plates/train_slot_reader.py --data .cache/plates/reader9_10 "
                            "--init models/plates/checkpoints/plate_slots.pt --epochs 1 --lr 0.0008; "
                            "then (session 10) " + DATA10 + " && .venv/bin/python "
                            "models/plates/train_slot_reader.py --data .cache/plates/reader12 "
                            ".cache/plates/reader11small --init models/plates/checkpoints/plate_slots.pt "
                            "--epochs 2 --lr 0.001",
        "license": "weights and code written here",
        "data": "make_reader_data.py crops with TRAINING_FONT_PACKAGES installed: session 7, "
                "72000 train (seeds 4000000-4071999, the plate_reader_candidate_s5 crops); "
                "session 8, 72000 fresh (seeds 5000000-5071999) + 30000 (seeds 6000000-6029999) "
                "of which half have an occluder over one end of the plate (12832 hide a glyph: "
                "those glyphs unlabelled, the plate labelled hidden); then 24000 of each of "
                "those two sets and of 24000 more occluded crops (seeds 7000000-7023999), half "
                "of whose hidden plates have their box cut where the occluder starts; val 2000 (seeds from "
                "10000000), the same crops as before, and the same with occluders for the "
                "hidden output; session 9: " + DATA9_DATA + "; session 10: " + DATA10_DATA,
    },
    "plate_slots_checkpoint": {
        "file": "plates/checkpoints/plate_slots.pt",
        "what": "torch state dict of plate_slots (before export): not run by the product; "
                "what train_slot_reader.py --init continues from",
        "source": "written by train_slot_reader.py at its best val epoch",
        "training_command": "as plate_slots",
        "license": "weights and code written here",
        "data": "as plate_slots",
    },
    "plate_line": {
        "file": "plates/plate_line.onnx",
        "what": "line reader: PP-OCRv6's small text recogniser (PaddleOCR, as shipped in the "
                "rapidocr 3.10.0 wheel, PP-OCRv6_rec_small.onnx, sha256 6f327246b50388f3...) with its last backbone stage, "
                "its neck and a new CTC head over blank + the 72 plate glyphs fine-tuned here; "
                "input Bx3x48xW BGR line ((x/255-0.5)/0.5, W a multiple of 32; a double-row "
                "plate's two rows laid side by side, video/plates/line_reader.line_image), "
                "output BxW/8x73 softmax; the runtime joins its glyphs with our readers' slots "
                "(recognizer.with_line) where it reads as many glyphs as they do",
        "source": "fine-tuned here: the recogniser's layers up to its last backbone stage frozen "
                  "as PaddleOCR trained them on real text (their output computed once per crop "
                  "on onnxruntime), the rest (1.8M parameters) trained with CTC, AdamW one-cycle "
                  "lr 5e-4, batch 32, with torch and onnx2torch (.venv-det); the head starts "
                  "from PP-OCR's own rows for those glyphs; exported to ONNX opset 17 in one "
                  "file (front + tail, checked against torch at widths 160 and 320). Session 12: "
                  "4 epochs on reader12 + reader13 (val 0.8365); session 13: continued from that "
                  "checkpoint (--init) for 2 epochs at lr 3e-4 on reader11small (small plates) + "
                  "reader9_10 (the plates' own look), val 0.824 then 0.8365; shipped as epoch 2 "
                  "because it reads more real crops (17/18 alone, raw_real_reads.py; 15/18 before) "
                  "at the same synthetic whole-path figures (threshold range 515/778, 0 wrong)",
        "training_command": DATA10.split(" && ")[1] + " && make_reader_data.py --out "
                            ".cache/plates/reader13 --train 50000 --val 2000 --train-seed 2200000 "
                            "--typeface 0.5 --occluded 0.2 --trimmed 0.3 --second-pass 0.6 && "
                            ".venv-det/bin/pip install onnx2torch==1.5.15 onnxruntime==1.31.1 && "
                            ".venv-det/bin/python models/plates/train_line_reader.py --data "
                            ".cache/plates/reader12 .cache/plates/reader13 --val .cache/plates/val5std "
                            "--limit 25000 --epochs 4 --out models/plates/plate_line.onnx && "
                            + DATA10.split(" && ")[0] + " && " + DATA9 + " && "
                            ".venv-det/bin/python models/plates/train_line_reader.py --data "
                            ".cache/plates/reader11small .cache/plates/reader9_10 --val "
                            ".cache/plates/val5std --limit 25000 --epochs 2 --lr 3e-4 --init "
                            "models/plates/checkpoints/plate_line.pt --work .cache/plates/line_reader2 "
                            "--out models/plates/plate_line.onnx",
        "license": "Apache-2.0 (PaddleOCR's PP-OCRv6 weights, via rapidocr, Apache-2.0); "
                   "fine-tuned weights trained here",
        "data": "from reader12 (seeds from 2100000) and reader13 (seeds from 2200000, 60% "
                "through the imaging chain twice, plates-synth-3), the first 25000 crops of each "
                "without a hidden glyph; then (session 13) the first 25000 of reader11small "
                "(plates 48-120 px, seeds from 2000000) and of reader9_10 (seeds 8000000 and "
                "9000000 on, the plates' own look), likewise; val: val5std's 2000 "
                "(make_reader_data.py --out .cache/plates/val5std --train 0 --val 2000, seeds "
                "from 10000000)",
        "data_generator": "plates-synth-3",
    },
    "plate_line_checkpoint": {
        "file": "plates/checkpoints/plate_line.pt",
        "what": "torch state dict of plate_line's trained part (train_line_reader.LineModel: "
                "last backbone stage, neck, head) before export: not run by the product; what "
                "train_line_reader.py --init continues from",
        "source": "written by train_line_reader.py at its best val epoch (session 13: "
                  ".cache/plates/line_reader2/line_model.pt of the run that made plate_line.onnx)",
        "training_command": "as plate_line",
        "license": "Apache-2.0 (PaddleOCR's PP-OCRv6 weights, via rapidocr, Apache-2.0); "
                   "fine-tuned weights trained here",
        "data": "as plate_line",
        "data_generator": "plates-synth-3",
    },
    "plate_reader_config": {
        "file": "plates/reader_plate_config.yaml",
        "what": "fast-plate-ocr plate config of plate_reader (alphabet, input size)",
        "source": "written here",
        "training_command": "(hand-written; used by bash models/plates/train_reader.sh)",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-file", type=Path, default=ROOT / "models/plates/metrics.json")
    args = parser.parse_args()
    metrics = json.loads(args.metrics_file.read_text()) if args.metrics_file.exists() else {}
    for name, entry in ENTRIES.items():
        info = {k: v for k, v in entry.items() if k != "file"}
        info.setdefault("data_generator", GENERATOR_VERSION if name.startswith("plate_line")
                        else "plates-synth-2")  # the models before session 12 saw version 2
        of = name.removesuffix("_checkpoint")  # a checkpoint scores what its model scores
        if of in metrics:
            info["metrics"] = metrics[of]
        record_model(name, entry["file"], info)
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
