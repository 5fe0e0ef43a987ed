"""Train the YOLO plate detector from scratch on synthetic scenes and export it to ONNX.

Offline by construction: ultralytics is told not to touch the network, its config dir and
fonts live under .cache/, and pretrained=False.

    python models/plates/train_detector.py --data .cache/plates/detector/plates.yaml --epochs 30

To continue the shipped detector: --init models/plates/checkpoints/plate_detector.pt. The run's
best.pt is copied there after export, so the next machine continues where this one stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / ".cache" / "ultralytics"
CHECKPOINT = ROOT / "models" / "plates" / "checkpoints" / "plate_detector.pt"


def offline_env() -> None:
    """Everything ultralytics would fetch at start-up, provided locally."""
    CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ["YOLO_CONFIG_DIR"] = str(CONFIG_DIR)
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = CONFIG_DIR / name
        if not target.exists():
            shutil.copy(dejavu, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/plates/detector/plates.yaml")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hours", type=float, default=None,
                        help="wall-clock budget; ultralytics fits the schedule into it")
    parser.add_argument("--name", default="plate_det")
    parser.add_argument("--model", type=Path, default=ROOT / "models/plates/yolo11p-plates.yaml",
                        help="architecture yaml (yolo11n at half width by default)")
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from these weights (a best.pt of an earlier run here)")
    parser.add_argument("--lr0", type=float, default=0.002)
    parser.add_argument("--warmup-epochs", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=ROOT / "models/plates/plate_detector.onnx")
    parser.add_argument("--export-only", type=Path, default=None, metavar="WEIGHTS",
                        help="skip training: export these weights (e.g. .cache/runs/plate_det/weights/best.pt)")
    args = parser.parse_args()
    offline_env()
    from ultralytics import YOLO, settings

    if args.export_only:
        export(YOLO, args.export_only, args.out)
        return

    settings.update({"sync": False, "datasets_dir": str(ROOT / ".cache" / "plates")})
    # --init continues from weights trained here before (same lineage: never downloaded).
    # ultralytics drops a loaded checkpoint's weights when pretrained=False (engine/model.py:
    # `weights = None if pretrained is False`), so --init passes True: the weights are the
    # local .pt, nothing is fetched.
    model = YOLO(str(args.init)) if args.init else YOLO(str(args.model))
    model.train(
        data=str(args.data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
        time=args.hours, pretrained=bool(args.init), amp=False, device="cpu", workers=2, seed=0, deterministic=False,
        project=str(ROOT / ".cache" / "runs"), name=args.name, exist_ok=True, plots=False,
        single_cls=True, scale=0.3, mosaic=1.0, close_mosaic=3, fliplr=0.0, degrees=3.0,
        translate=0.1, hsv_h=0.02, patience=100, cos_lr=True, verbose=False,
        optimizer="AdamW", lr0=args.lr0, warmup_epochs=args.warmup_epochs,
    )
    best = ROOT / ".cache" / "runs" / args.name / "weights" / "best.pt"
    export(YOLO, best, args.out)
    shutil.copy(best, CHECKPOINT)
    print(f"weights kept in {CHECKPOINT}: record both with python models/plates/record_models.py")


def export(yolo: type, weights: Path, out: Path) -> None:
    """ONNX with dynamic height/width: the video path looks at a quarter-scale frame first,
    then at half scale only around what it found (video/plates/detector.py); 384x640 is the
    size it was checked at and the one a fixed-size runtime would use."""
    exported = yolo(str(weights)).export(format="onnx", imgsz=[384, 640], opset=17, simplify=True,
                                         dynamic=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(exported, out)
    print(f"detector exported to {out}")


if __name__ == "__main__":
    main()
