#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job on the embedded default:
# train (or reuse) a LeNet-5 teacher on Fashion-MNIST and distill it into LeNet-5-half with
# TA-DFKD, without touching the training images. Prints the final student accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-runs/quickstart}
node bin/dfkd.js train-teacher --config configs/teachers/fashion-mnist-lenet5.json --out "$OUT/teacher"
if [ -f "$OUT/distill/summary.json" ] || [ ! -e "$OUT/distill" ]; then
  node bin/dfkd.js distill --teacher "$OUT/teacher" --student lenet5-half --method ta-dfkd --out "$OUT/distill"
else
  node bin/dfkd.js distill --resume "$OUT/distill"
fi
