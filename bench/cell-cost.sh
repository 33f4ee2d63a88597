#!/usr/bin/env bash
# What a study cell costs, three ways, one after the other on a quiet machine: the quick study's ResNet-8
# TA-DFKD cell (seeds 0 and 1, cut to ITERATIONS iterations, default 150) run
#   A: --jobs 1 (one cell after the other on 2 engine threads: how `dfkd study` ran when issue 16 was filed)
#   B: --jobs 2 (two cells at once, one engine thread each: the study's command today)
#   C: --jobs 2 with precision 'bf16-forwards' (the ta-dfkd+bf16 variant)
# and writes each study's results.json, its log and a summary (cell-cost.json: wall times and ratios) to
# OUT (default runs/cell-cost). Needs the ResNet-8 teacher directory with its cached anchors as TEACHER_DIR.
# Nothing else may run meanwhile.
#   bash bench/cell-cost.sh TEACHER_DIR [ITERATIONS] [OUT]
set -euo pipefail
teacher=${1:?usage: bash bench/cell-cost.sh TEACHER_DIR [ITERATIONS] [OUT]}
iters=${2:-150}
out=${3:-runs/cell-cost}
ways=(a b c)
for d in "${ways[@]}"; do rm -rf "$out/$d"; mkdir -p "$out/$d/teachers" && cp -r "$teacher" "$out/$d/teachers/"; done
run() { # way method jobs
  local t0 t1
  t0=$(date +%s.%N)
  node bin/dfkd.js study --preset fashion-mnist-quick --teachers resnet8 --methods "$2" --seeds 2 --iterations "$iters" --no-probe --jobs "$3" --out "$out/$1" > "$out/$1.log" 2>&1
  t1=$(date +%s.%N)
  echo "$1 $2 $3 $(echo "$t1 - $t0" | bc)" >> "$out/times.txt"
}
rm -f "$out/times.txt"
run a ta-dfkd 1
run b ta-dfkd 2
run c ta-dfkd+bf16 2
node -e '
const fs = require("fs");
const [out, iters] = process.argv.slice(1);
const rows = fs.readFileSync(`${out}/times.txt`, "utf8").trim().split("\n").map((l) => l.split(" "));
const ways = rows.map(([way, method, jobs, sec]) => {
  const r = JSON.parse(fs.readFileSync(`${out}/${way}/results.json`, "utf8"));
  const cells = r.cells.map((c) => ({ seed: c.seed, finalAccuracy: c.finalAccuracy, cellSec: c.wallTimeSec }));
  return { way, method, jobs: Number(jobs), wallSec: Number(sec), perCellSec: Number(sec) / cells.length, cells };
});
const a = ways[0].wallSec;
for (const w of ways) w.ofA = w.wallSec / a;
const res = { iterations: Number(iters), teacher: "resnet8", seeds: [0, 1], ways, loadavg: require("os").loadavg(), date: new Date().toISOString() };
fs.writeFileSync(`${out}/cell-cost.json`, JSON.stringify(res, null, 2) + "\n");
for (const w of ways) console.log(`${w.way}: ${w.method} --jobs ${w.jobs}: ${w.wallSec.toFixed(1)} s for ${w.cells.length} cells (${w.perCellSec.toFixed(1)} s per cell, ${w.ofA.toFixed(2)}x of a); final ${w.cells.map((c) => (100 * c.finalAccuracy).toFixed(2)).join(" / ")}%`);
' "$out" "$iters"
