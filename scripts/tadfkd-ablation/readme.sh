#!/usr/bin/env bash
# Rebuilds docs/results/tadfkd-ablation/README.md from its head, the records' table and its tail.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=docs/results/tadfkd-ablation
{ cat $D/README.head.md; printf '\n## Runs\n\n'; node scripts/tadfkd-ablation/table.js; cat $D/README.tail.md; } > $D/README.md
