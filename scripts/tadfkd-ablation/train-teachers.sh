#!/usr/bin/env bash
# Issue 18 ablation teachers (seed 0): ResNet-8 and VGG-5 with the quick study recipe (2 epochs; see
# src/study/presets.ts), LeNet-5 with configs/teachers/fashion-mnist-lenet5.json. Skips trained ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs/tadfkd-ablation/teachers
for a in resnet8 vgg5 lenet5; do
  T=runs/tadfkd-ablation/teachers/$a
  [ -f "$T/teacher.json" ] && continue
  R=scripts/tadfkd-ablation/teachers/$a.json
  [ "$a" = lenet5 ] && R=configs/teachers/fashion-mnist-lenet5.json
  node bin/dfkd.js train-teacher --config "$R" --out "$T" > "runs/tadfkd-ablation/teachers/$a.log" 2>&1
done
