/**
 * The record of one finished ablation run: docs/results/tadfkd-ablation/<id>.json with the command,
 * the effective config, seed, teacher, the accuracy curve (plus the data-free diagnostics logged at
 * each evaluation: selection rate, BN terms, coverage, diversity), final accuracy and wall time.
 */
const fs = require('fs');
const path = require('path');

function writeRecord(root, r, dir, args) {
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const history = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const bnLayers = (l) => Object.keys(l).filter((k) => /^bn_l\d+$/.test(k)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).map((k) => l[k]);
  const rec = {
    id: r.id,
    note: r.note ?? '',
    command: `dfkd ${args.join(' ')}`,
    configOverrides: r.config ?? {},
    config: cfg.config,
    configHash: summary.configHash,
    seed: summary.seed,
    teacher: { id: r.teacher, arch: summary.teacher.arch, testAccuracy: summary.teacher.testAccuracy, weightsSha256: summary.teacher.weightsSha256 },
    student: summary.student.arch,
    iterations: summary.iterations,
    finalAccuracy: summary.finalAccuracy,
    relativeAccuracy: summary.relativeAccuracy,
    lastKMean: summary.lastKMean,
    wallTimeSec: summary.wallTimeSec,
    wallTimeNote: 'on the shared, loaded 2-core machine: not a benchmark',
    curve: history.map((h) => ({
      iteration: h.iteration,
      testAccuracy: h.testAccuracy,
      selectionRate: h.selectionRate,
      loss_g: h.losses.loss_g,
      bn: h.losses.bn,
      bnLayers: bnLayers(h.losses),
      adv: h.losses.adv,
      loss_s: h.losses.loss_s,
      coverage: h.signals?.coverage,
      diversity: h.signals?.diversity,
      confidence: h.signals?.confidence,
      agreement: h.signals?.agreement,
      collapse: h.collapse,
      time: h.time,
    })),
    finishedAt: summary.finishedAt,
  };
  const out = path.join(root, 'docs', 'results', 'tadfkd-ablation', `${r.id}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(rec, null, 2) + '\n');
  const samples = path.join(dir, 'samples');
  const pngs = fs.existsSync(samples) ? fs.readdirSync(samples).filter((f) => f.endsWith('.png')).sort() : [];
  if (pngs.length) fs.copyFileSync(path.join(samples, pngs[pngs.length - 1]), out.replace(/\.json$/, '.samples.png'));
}

module.exports = { writeRecord };
