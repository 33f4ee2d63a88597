#!/usr/bin/env bash
# The ONNX-teacher record (issue 17, docs/results/onnx-teacher-fashion-mnist-resnet18.json):
#   1. torchvision resnet18(num_classes=10), first conv 1-channel, trained on Fashion-MNIST 32x32 in
#      plain PyTorch and exported to ONNX (scripts/train-torchvision-teacher.py; skipped when
#      $OUT/model.onnx exists);
#   2. dfkd import --onnx (the teacher's accuracy measured again, in dfkd);
#   3. dfkd distill with TA-DFKD into lenet5-half (Fashion-MNIST preset, $ITERS iterations, seed 0);
#   4. the JSON record assembled from the three steps' own records (nothing typed by hand).
# Usage: bash scripts/onnx-teacher-record.sh   (OUT, ITERS, STEPS, NICE, THREADS may be set in the environment)
# NICE (default 0): on a machine shared with other jobs at normal priority, a niced job gets almost
# no CPU (at nice 10 the training got about 5% of one core under a load average of 11).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/tv-resnet18}
ITERS=${ITERS:-160}
STEPS=${STEPS:-300}
NICE=${NICE:-0}
# libtorch threads for the distillation: 1 on a loaded shared machine (2 threads spend their time spinning)
THREADS=${THREADS:-1}
RECORD=${RECORD:-docs/results/onnx-teacher-fashion-mnist-resnet18.json}
PY=python3
$PY -c 'import torch, torchvision, onnx' 2>/dev/null || PY=/usr/bin/python3

TRAIN_CMD="nice -n $NICE $PY scripts/train-torchvision-teacher.py --arch resnet18 --epochs 1 --max-steps $STEPS --seed 0 --threads 1 --out $OUT"
IMPORT_CMD="node bin/dfkd.js import --onnx $OUT/model.onnx --dataset fashion-mnist --out $OUT/teacher"
DISTILL_CMD="env DFKD_NUM_THREADS=$THREADS nice -n $NICE node bin/dfkd.js distill --teacher $OUT/teacher --student lenet5-half --method ta-dfkd --seed 0 --iterations $ITERS --out $OUT/distill-ta-dfkd"

now() { date +%s.%N; }
[ -f "$OUT/model.onnx" ] || $TRAIN_CMD
t0=$(now)
[ -f "$OUT/teacher/teacher.json" ] || $IMPORT_CMD
t1=$(now)
[ -f "$OUT/distill-ta-dfkd/summary.json" ] || DFKD_QUIET=1 $DISTILL_CMD
t2=$(now)

OUT="$OUT" TRAIN_CMD="$TRAIN_CMD" IMPORT_CMD="$IMPORT_CMD" DISTILL_CMD="$DISTILL_CMD" T0="$t0" T1="$t1" T2="$t2" node -e '
const fs = require("fs");
const e = process.env;
const read = (f) => JSON.parse(fs.readFileSync(e.OUT + "/" + f, "utf8"));
const py = read("pytorch-record.json");
const t = read("teacher/teacher.json");
const s = read("distill-ta-dfkd/summary.json");
const rec = {
  what: "issue 17: a torchvision teacher trained in PyTorch, imported through ONNX, distilled with TA-DFKD",
  commands: { train: e.TRAIN_CMD, import: e.IMPORT_CMD, distill: e.DISTILL_CMD, record: "bash scripts/onnx-teacher-record.sh" },
  teacher: {
    arch: py.arch, dataset: py.dataset, seed: py.seed, sgdSteps: py.steps, trainImagesSeen: py.train_images_seen, batch: py.batch, lr: py.lr,
    torch: py.torch, torchvision: py.torchvision,
    testAccuracyPyTorch: py.pytorch_test_accuracy, trainWallTimeSec: py.train_wall_s,
    testAccuracyDfkd: t.testAccuracy, onnxOpset: t.recipe.opset, onnxNodes: t.recipe.nodes, operators: t.recipe.operators,
    batchNorms: t.recipe.batchNorms, parameters: t.parameters, normalisation: t.recipe.normalisation,
    importWallTimeSec: t.wallTimeSec, onnxSha256: t.recipe.sourceSha256,
  },
  distill: {
    method: s.method, student: s.student.arch, studentParameters: s.student.parameters, seed: s.seed, iterations: s.iterations, configHash: s.configHash,
    finalAccuracy: s.finalAccuracy, lastKMean: s.lastKMean, lastK: s.lastK, relativeAccuracy: s.relativeAccuracy,
    bestOverTraining: s.bestOverTraining, wallTimeSec: s.wallTimeSec, collapseWarnings: (s.collapseWarnings || []).length,
  },
  stepWallTimeSec: { import: +(e.T1 - e.T0).toFixed(1), distill: +(e.T2 - e.T1).toFixed(1) },
  machine: "shared 2-core machine under heavy load from other jobs (load average about 10): wall times are not benchmarks",
  versions: t.versions,
  date: new Date().toISOString(),
};
process.stdout.write(JSON.stringify(rec, null, 2) + "\n");
' > "$RECORD"
echo "wrote $RECORD"
