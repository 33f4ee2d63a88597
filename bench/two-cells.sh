#!/usr/bin/env bash
# Two copies of the quick study's ResNet-8 TA-DFKD cell (seed 0, cut to 60 iterations), run one after the
# other on 2 engine threads (what `dfkd study` does), then at the same time on 1 thread each (what
# `DFKD_NUM_THREADS=1 dfkd worker --concurrency 2`, docs/distributed.md, does with a study's cells). Prints
# the wall time of each way and the cells' lines. Needs the quick study's ResNet-8 teacher directory
# (with its cached anchors) as TEACHER_DIR; writes runs/two-cells/. Nothing else may run meanwhile.
#   bash bench/two-cells.sh TEACHER_DIR
set -euo pipefail
teacher=${1:?usage: bash bench/two-cells.sh TEACHER_DIR (e.g. runs/study-quick-aa/teachers/resnet8-852860418a82318f)}
out=runs/two-cells
for d in seq-a seq-b par-a par-b; do rm -rf "$out/$d"; mkdir -p "$out/$d/teachers" && cp -r "$teacher" "$out/$d/teachers/"; done
cell() { DFKD_NUM_THREADS=$1 node bin/dfkd.js study --preset fashion-mnist-quick --teachers resnet8 --methods ta-dfkd --seeds 1 --iterations 60 --no-probe --out "$out/$2" > "$out/$2.log" 2>&1; }
t0=$(date +%s.%N); cell 2 seq-a; cell 2 seq-b; t1=$(date +%s.%N)
cell 1 par-a & a=$!; cell 1 par-b & b=$!; wait $a $b; t2=$(date +%s.%N)
echo "sequential, 2 threads: $(echo "$t1 - $t0" | bc) s; concurrent, 1 thread each: $(echo "$t2 - $t1" | bc) s"
for d in seq-a seq-b par-a par-b; do echo "$d: $(grep '^\[' "$out/$d.log")"; done
