#!/usr/bin/env bash
# What two 1-thread streams would give on this machine's cores, against one 2-thread stream: an upper bound
# for running a TA-DFKD iteration's independent work (the next student step's draws and selection, which
# do not depend on the student) beside the student's step, each on one core. Not a dfkd feature: it runs
# the dfkd side of the iteration benchmark (no PyTorch side, no evaluation pass) three ways, one after the
# other, on an otherwise quiet machine:
#   A. one process, 2 intra-op threads (what dfkd does today);
#   B. one process, 1 thread;
#   C. two processes, 1 thread each, at the same time (the same iterations, separate work directories).
# Throughput of C against A = 2 * median(A) / median(C): above 1, two streams would do more work per second.
#   bash bench/two-streams.sh [TEACHERS] [OUT_DIR]     (default lenet5,resnet8,vgg5 and runs/two-streams)
# Teachers and anchors come from the iteration benchmark's cache (runs/bench-iteration/teachers; made by
# `npm run bench:iteration` on first use). Needs `npx tsc -p .` first.
set -euo pipefail
teachers=${1:-lenet5,resnet8,vgg5}
out=${2:-runs/two-streams}
cache=runs/bench-iteration/teachers
[ -d "$cache" ] || { echo "two-streams.sh: no $cache: run npm run bench:iteration once first" >&2; exit 2; }
mkdir -p "$out"
for w in a b1 c1 c2; do mkdir -p "$out/work-$w" && ln -sfn "$(realpath "$cache")" "$out/work-$w/teachers"; done
side() { # threads work-name json
  node dist/bench/iteration.js --teachers "$teachers" --no-torch --no-eval --iterations 10 --warmup 3 \
    --threads "$1" --work "$out/work-$2" --out "$out/$3.json" > "$out/$3.log" 2>&1
}
echo "A: one process, 2 threads" >&2; side 2 a A
echo "B: one process, 1 thread" >&2; side 1 b1 B
echo "C: two processes, 1 thread each, concurrently" >&2
side 1 c1 C1 & p1=$!
side 1 c2 C2 & p2=$!
wait $p1 $p2
node -e '
const [dir, list] = process.argv.slice(1);
const r = (f) => Object.fromEntries(require(require("path").resolve(dir, f + ".json")).teachers.map((t) => [t.arch, t.dfkd.medianSec]));
const A = r("A"), B = r("B"), C1 = r("C1"), C2 = r("C2");
const rows = list.split(",").map((a) => {
  const c = (C1[a] + C2[a]) / 2;
  return { teacher: a, twoThreadsSec: A[a], oneThreadSec: B[a], twoStreamsSecEach: c, speedupOf2Threads: B[a] / A[a], throughputOf2StreamsVsA: (2 * A[a]) / c };
});
console.table(rows);
require("fs").writeFileSync(require("path").join(dir, "two-streams.json"), JSON.stringify({ kind: "dfkd-two-streams", date: new Date().toISOString(), command: "bash bench/two-streams.sh " + list + " " + dir, rows }, null, 2));
' "$out" "$teachers"
