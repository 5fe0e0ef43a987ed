#!/usr/bin/env bash
# Train the plate reader (fast-plate-ocr CCT, TensorFlow backend) and export it to ONNX.
# Training deps live in their own venv:
#   python3.11 -m venv .venv-train && .venv-train/bin/pip install -r models/plates/requirements-train-reader.txt
# Usage: bash models/plates/train_reader.sh [EPOCHS] [START_WEIGHTS]
#   e.g. continue the shipped reader on a fresh 72k set: CITYOPS_READER_DATA=.cache/plates/reader5 \
#        CITYOPS_READER_SEED=4000000 CITYOPS_READER_COUNT=72000 CITYOPS_READER_LR=0.001 \
#        bash models/plates/train_reader.sh 4 models/plates/checkpoints/plate_reader.weights.h5
# (START_WEIGHTS, a .keras or .weights.h5 file, continues from earlier weights instead of
#  random ones; the committed checkpoint holds the shipped reader's, and this script writes the
#  new best weights there, so the next machine continues where this one stopped.
#  CITYOPS_READER_LR sets the peak learning rate, default 0.002: session 4 used 0.0015.)
# The data is drawn with the fonts of video/plates/render.py TRAINING_FONT_PACKAGES installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
EPOCHS="${1:-5}"
START=()
[ -n "${2:-}" ] && START=(--weights-path "$2")
THREADS="${CITYOPS_TRAIN_THREADS:-2}"
export KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS="$THREADS" TF_NUM_INTEROP_THREADS=1
# CITYOPS_READER_DATA / CITYOPS_READER_SEED pick a fresh crop set for continued training.
DATA="${CITYOPS_READER_DATA:-.cache/plates/reader}"
COUNT="${CITYOPS_READER_COUNT:-24000}"
[ -f "$DATA/train.csv" ] || .venv/bin/python models/plates/make_reader_data.py --out "$DATA" \
  --train "$COUNT" --val 2000 --train-seed "${CITYOPS_READER_SEED:-0}"
# Crops with an occluder (make_reader_data.py --occluded) list their hidden slots in a third
# column; this reader has no "hidden" output, so it is not taught to guess those glyphs:
# such crops are left out of its annotations.
for SPLIT in train val; do
  .venv/bin/python -c "
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8')))
keep = [r[:2] for r in rows[1:] if len(r) < 3 or not r[2]]
with open(sys.argv[2], 'w', newline='', encoding='utf-8') as f:
    csv.writer(f).writerows([rows[0][:2], *keep])
" "$DATA/$SPLIT.csv" "$DATA/${SPLIT}_visible.csv"
done
.venv-train/bin/fast-plate-ocr train \
  --model-config-file models/plates/reader_model_config.yaml \
  --plate-config-file models/plates/reader_plate_config.yaml \
  --annotations "$DATA/train_visible.csv" --val-annotations "$DATA/val_visible.csv" \
  --augmentation-path models/plates/reader_augmentation.yaml \
  --epochs "$EPOCHS" --lr "${CITYOPS_READER_LR:-0.002}" --batch-size 64 --workers 1 --early-stopping-patience 20 \
  --output-dir .cache/plates/reader_model --seed 0 "${START[@]}"
RUN=$(ls -td .cache/plates/reader_model/*/ | head -1)
mkdir -p .cache/plates/reader_export
.venv-train/bin/fast-plate-ocr export --model "$RUN/best.keras" --format onnx \
  --plate-config-file models/plates/reader_plate_config.yaml --save-dir .cache/plates/reader_export
cp .cache/plates/reader_export/best.onnx models/plates/plate_reader.onnx
# The weights alone: the loaded model carries its optimizer, whose state (3x the weights)
# save_weights would store too; a continued run starts its own optimizer anyway.
.venv-train/bin/python -c "
import sys, h5py
from fast_plate_ocr.train.model.config import load_plate_config_from_yaml
from fast_plate_ocr.train.utilities.utils import load_keras_model
load_keras_model(sys.argv[1], load_plate_config_from_yaml(sys.argv[2])).save_weights(sys.argv[3] + '.full.weights.h5')
with h5py.File(sys.argv[3] + '.full.weights.h5') as src, h5py.File(sys.argv[3], 'w') as out:
    out.attrs.update(src.attrs)
    for key in src:
        if key != 'optimizer':
            src.copy(key, out)
" "$RUN/best.keras" models/plates/reader_plate_config.yaml models/plates/checkpoints/plate_reader.weights.h5
rm -f models/plates/checkpoints/plate_reader.weights.h5.full.weights.h5
echo "reader exported to models/plates/plate_reader.onnx (weights: models/plates/checkpoints); record it: python models/plates/record_models.py"
