#!/usr/bin/env bash
# Runs `npm run bench:distill` for one teacher architecture and keeps its outputs as records in
# docs/results/: NAME.json (the benchmark's JSON: command, accuracy, wall time, config hash, versions),
# NAME.log.jsonl, NAME.summary.json and NAME.samples.png (the last sample grid) of the run.
#   bash scripts/record-distill.sh [ARCH (lenet5)] [DATASET (fashion-mnist)]
# NAME is distill-DATASET-ta-dfkd-seed0 for LeNet-5 and distill-DATASET-ARCH-ta-dfkd-seed0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-lenet5}
ds=${2:-fashion-mnist}
name="distill-$ds$([ "$arch" = lenet5 ] || echo "-$arch")-ta-dfkd-seed0"
npx tsc -p . >/dev/null
node dist/bench/distill.js --dataset "$ds" --teacher-arch "$arch" > "docs/results/$name.json"
run=$(node -e "process.stdout.write(require('./docs/results/$name.json').runDir)")
cp "$run/log.jsonl" "docs/results/$name.log.jsonl"
cp "$run/summary.json" "docs/results/$name.summary.json"
cp "$(ls "$run"/samples/*.png | sort | tail -1)" "docs/results/$name.samples.png"
node -e "const r=require('./docs/results/$name.json'); console.log('$name: final', r.finalAccuracy, 'teacher', r.teacher.testAccuracy, 'wall', Math.round(r.distillWallTimeSec), 's, pass', r.pass)"
