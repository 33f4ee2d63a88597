#!/usr/bin/env node
/**
 * Records of finished study cells (experiment variants run with `dfkd study --methods ...`), beside the
 * same teacher and seed in a committed study: one JSON with each cell's final accuracy, its share of the
 * teacher's, the committed cell's final accuracy, the accuracy curve, the anchors' target hit, the config
 * overrides that differ from the default (tadfkd, studentLoss, temperature), the wall time and the config
 * hash. Reads the cells' summary.json, config.json and log.jsonl; test accuracy only evaluates.
 *   node scripts/tadfkd-ablation/cell-records.js OUT.json BASELINE_RESULTS.json STUDY_DIR...
 */
const fs = require('fs');
const path = require('path');

const [out, baselineFile, ...studies] = process.argv.slice(2);
if (!out || !baselineFile || studies.length === 0) {
  console.error('usage: cell-records.js OUT.json BASELINE_RESULTS.json STUDY_DIR...');
  process.exit(2);
}
const baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8'));
const baseCell = (teacherId, seed) => baseline.cells.find((c) => c.teacherId === teacherId && c.methodId === 'ta-dfkd' && c.seed === seed);

const records = [];
for (const study of studies) {
  const cells = path.join(study, 'cells');
  for (const teacherId of fs.readdirSync(cells).sort()) {
    for (const variant of fs.readdirSync(path.join(cells, teacherId)).sort()) {
      for (const seedDir of fs.readdirSync(path.join(cells, teacherId, variant)).sort()) {
        const dir = path.join(cells, teacherId, variant, seedDir);
        if (!fs.existsSync(path.join(dir, 'summary.json'))) continue; // unfinished
        const sum = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
        const { config } = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
        const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        const base = baseCell(teacherId, sum.seed);
        records.push({
          study,
          teacherId,
          variant,
          seed: sum.seed,
          teacherAccuracy: sum.teacher.testAccuracy,
          finalAccuracy: sum.finalAccuracy,
          relativeAccuracy: sum.relativeAccuracy,
          committedFinalAccuracy: base ? base.finalAccuracy : null,
          change: base ? sum.finalAccuracy - base.finalAccuracy : null,
          anchorsTargetHit: log.find((l) => l.losses && l.losses.anchors_target_hit !== undefined)?.losses.anchors_target_hit ?? null,
          curve: log.filter((l) => l.testAccuracy !== undefined).map((l) => ({ iteration: l.iteration, accuracy: l.testAccuracy })),
          config: { tadfkd: config.tadfkd, studentLoss: config.studentLoss, temperature: config.temperature },
          wallTimeSec: sum.wallTimeSec,
          configHash: sum.configHash,
        });
      }
    }
  }
}
fs.writeFileSync(out, JSON.stringify({ kind: 'dfkd-cell-records', baseline: baselineFile, command: `node scripts/tadfkd-ablation/cell-records.js ${process.argv.slice(2).join(' ')}`, records }, null, 2) + '\n');
for (const r of records) {
  const d = r.change === null ? '' : ` (committed ${(100 * r.committedFinalAccuracy).toFixed(2)}, ${r.change >= 0 ? '+' : ''}${(100 * r.change).toFixed(2)})`;
  console.log(`${r.teacherId} ${r.variant} seed ${r.seed}: ${(100 * r.finalAccuracy).toFixed(2)}%${d}`);
}
