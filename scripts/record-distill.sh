#!/usr/bin/env bash
# Runs `npm run bench:distill` for one teacher architecture and keeps its outputs as records in
# docs/results/: NAME.json (the benchmark's JSON: command, accuracy, wall time, config hash, versions),
# NAME.log.jsonl, NAME.summary.json and NAME.samples.png (the last sample grid) of the run.
#   bash scripts/record-distill.sh [ARCH (lenet5)] [DATASET (fashion-mnist)] [STUDENT (lenet5-half)]
# NAME is distill-DATASET-ta-dfkd-seed0 for LeNet-5 and distill-DATASET-ARCH-ta-dfkd-seed0 otherwise, with
# -to-STUDENT after ARCH for a student other than lenet5-half.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-lenet5}
ds=${2:-fashion-mnist}
student=${3:-lenet5-half}
name="distill-$ds$([ "$arch" = lenet5 ] || echo "-$arch")$([ "$student" = lenet5-half ] || echo "-to-$student")-ta-dfkd-seed0"
npx tsc -p . >/dev/null
node dist/bench/distill.js --dataset "$ds" --teacher-arch "$arch" --student "$student" > "docs/results/$name.json"
run=$(node -e "process.stdout.write(require('./docs/results/$name.json').runDir)")
cp "$run/log.jsonl" "docs/results/$name.log.jsonl"
cp "$run/summary.json" "docs/results/$name.summary.json"
cp "$(ls "$run"/samples/*.png | sort | tail -1)" "docs/results/$name.samples.png"
node -e "const r=require('./docs/results/$name.json'); console.log('$name: final', r.finalAccuracy, 'teacher', r.teacher.testAccuracy, 'wall', Math.round(r.distillWallTimeSec), 's, pass', r.pass)"
