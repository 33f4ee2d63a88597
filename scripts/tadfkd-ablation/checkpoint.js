/**
 * The generator of a TA-DFKD run at its latest checkpoint, for the diagnostic scripts
 * (feature-spread.js, synthetic-classes.js). `rec` is the run teacher's record, `info` its dataset's.
 * Returns the synthesizer with the generator's weights loaded (the caller sets train or eval mode),
 * `pick(prefix)` for the checkpoint's other modules (for example 'student.') and the iteration.
 */
const path = require('path');
const fs = require('fs');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { Normalizer, GeneratorSynthesizer } = require(`${D}/distill/synthesizer`);
const { loadLatestCheckpoint } = require(`${D}/distill/checkpoint`);

function runGenerator(runDir, rec, info) {
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  const g = run.config.generator;
  const synth = new GeneratorSynthesizer(
    { nz: g.nz, width: g.width, imageSize: rec.imageSize, contentSize: g.matchPadding ? info.contentSize : undefined, channels: rec.inChannels, lr: g.lr, betas: [g.beta1, g.beta2] },
    new Normalizer(info.mean, info.std),
  );
  const ckpt = loadLatestCheckpoint(runDir);
  if (!ckpt) throw new Error(`${runDir}: no checkpoint (finished runs delete theirs)`);
  const pick = (prefix) => new Map([...ckpt.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  synth.generator.loadStateDict(pick('synth.generator.'));
  return { synth, pick, iteration: ckpt.iteration, run };
}

module.exports = { runGenerator };
