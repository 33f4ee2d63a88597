#!/usr/bin/env node
/**
 * Prints the Markdown table of the ablation records in docs/results/tadfkd-ablation/*.json (for the
 * README there): one row per run with its curve (test accuracy at each evaluation).
 *   node scripts/tadfkd-ablation/table.js
 */
const fs = require('fs');
const path = require('path');
const dir = path.resolve(__dirname, '..', '..', 'docs', 'results', 'tadfkd-ablation');
const recs = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
  .filter((r) => r.kind !== 'dfkd-cell-records' && r.configOverrides); // study-cell records and study results have their own tables in the tail
const order = JSON.parse(fs.readFileSync(path.join(__dirname, 'runs.json'), 'utf8')).runs.map((r) => r.id);
recs.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
const pct = (x) => (100 * x).toFixed(2);
/** The selection rate of an evaluation; none without selection (selection.enabled false). */
const rate = (p) => (p.selectionRate == null ? 'none' : p.selectionRate.toFixed(2));
console.log('| run | teacher (acc) | options | iterations | final | % of teacher | last-k mean | curve (test acc % at each evaluation) | selection rate (first → last) | wall (s, loaded machine) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of recs) {
  const c = r.curve;
  // The run's own overrides, without the evaluation / checkpoint / sample periods of the frame.
  const { eval: _e, checkpointEvery: _c, sampleEvery: _s, ...own } = r.configOverrides;
  const opts = Object.keys(own).length === 0 ? 'none (default)' : '`' + JSON.stringify(own) + '`';
  console.log(
    `| ${r.id} | ${r.teacher.arch} (${pct(r.teacher.testAccuracy)}) | ${opts} | ${r.iterations} | **${pct(r.finalAccuracy)}** | ${pct(r.relativeAccuracy)} | ${pct(r.lastKMean)} | ` +
      `${c.map((p) => `${p.iteration}: ${(100 * p.testAccuracy).toFixed(1)}`).join(', ')} | ${rate(c[0])} → ${rate(c[c.length - 1])} | ${Math.round(r.wallTimeSec)} |`,
  );
}
