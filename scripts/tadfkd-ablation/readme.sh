#!/usr/bin/env bash
# Rebuilds docs/results/tadfkd-ablation/README.md from its head, the records' table and its tail.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=docs/results/tadfkd-ablation
# Written to a temporary file first: a failing table.js must not leave a truncated README behind.
{ cat $D/README.head.md; printf '\n## Runs\n\n'; node scripts/tadfkd-ablation/table.js; cat $D/README.tail.md; } > $D/README.md.tmp
mv $D/README.md.tmp $D/README.md
