/** `dfkd train-teacher`, `dfkd eval`, `dfkd models`, `dfkd datasets`. */
import * as path from 'path';
import * as fs from 'fs';
import { Command, InvalidArgumentError } from 'commander';
import { trainTeacher, TeacherRecord, TEACHER_RECORD } from '../train/teacher';
import { evaluateModelDir } from '../train/eval-model';
import { listModels, buildModel } from '../models';
import { listDatasets } from '../data/registry';
import { writeJsonAtomic } from '../io/atomic';
import { createProgress, fmt } from './progress';
import { parseIntArg, parseNumArg, readJsonFile, runCommand, pct, DEVICE_HELP } from './common';
import { resolveDevice } from '../tensor';
import { z } from 'zod';
import { typedOptions } from './common';

const TrainTeacherFlags = z.object({
  config: z.string().optional(),
  dataset: z.string().optional(),
  arch: z.string().optional(),
  seed: z.number().int().optional(),
  epochs: z.number().int().optional(),
  batchSize: z.number().int().optional(),
  lr: z.number().optional(),
  labelSmoothing: z.number().optional(),
  dataPath: z.string().optional(),
  device: z.string(),
  out: z.string(),
});
const EvalFlags = z.object({ model: z.string(), dataset: z.string().optional(), dataPath: z.string().optional(), split: z.enum(['train', 'test']), json: z.string().optional(), device: z.string() });

export function registerTeacherCommands(program: Command): void {
  registerTrainTeacher(program);
  registerEval(program);
  registerListings(program);
}

function registerTrainTeacher(program: Command): void {
  program
    .command('train-teacher')
    .description('train a teacher classifier on a real dataset (writes weights.safetensors + teacher.json)')
    .option('--config <file>', 'JSON recipe (fields as the options below); options given on the command line override it')
    .option('--dataset <name>', 'dataset (see dfkd datasets)')
    .option('--arch <name>', 'architecture (see dfkd models)')
    .option('--seed <n>', 'random seed', parseIntArg('--seed'))
    .option('--epochs <n>', 'training epochs', parseIntArg('--epochs'))
    .option('--batch-size <n>', 'batch size', parseIntArg('--batch-size'))
    .option('--lr <x>', 'SGD learning rate (cosine schedule)', parseNumArg('--lr'))
    .option('--label-smoothing <x>', 'label smoothing', parseNumArg('--label-smoothing'))
    .option('--data-path <dir>', 'dataset location (default: the dataset\'s standard location)')
    .option('--device <name>', DEVICE_HELP, 'cpu')
    .requiredOption('--out <dir>', 'output directory')
    .action((raw) =>
      runCommand(() => {
        const o = typedOptions(TrainTeacherFlags, raw, 'train-teacher');
        resolveDevice(o.device);
        const base = o.config ? (readJsonFile(o.config, 'teacher recipe') as Record<string, unknown>) : {};
        const recipe: Record<string, unknown> = { ...base };
        const map: [string, string][] = [['dataset', 'dataset'], ['arch', 'arch'], ['seed', 'seed'], ['epochs', 'epochs'], ['batchSize', 'batchSize'], ['lr', 'lr'], ['labelSmoothing', 'labelSmoothing']];
        for (const [opt, key] of map) if (o[opt as keyof typeof o] !== undefined) recipe[key] = o[opt as keyof typeof o];
        let bar: ReturnType<typeof createProgress> | undefined;
        const rec = trainTeacher(recipe, {
          out: o.out,
          dataPath: o.dataPath,
          device: o.device,
          onProgress: (p) => {
            if (!bar) bar = createProgress('train-teacher', p.epochs * p.stepsPerEpoch, ['epoch', 'loss']);
            bar.update((p.epoch - 1) * p.stepsPerEpoch + p.step, { epoch: `${p.epoch}/${p.epochs}`, loss: fmt(p.loss) });
          },
          onEpoch: (e, loss, test) => {
            bar?.stop();
            bar = undefined;
            process.stderr.write(`epoch ${e}: train loss ${fmt(loss, 4)}, test accuracy ${pct(test.accuracy)}\n`);
          },
        });
        bar?.stop();
        printTeacher(rec, o.out);
      }),
    );
}

function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model directory (teacher or distilled student) on a real test set')
    .requiredOption('--model <dir>', 'directory with teacher.json or summary.json')
    .option('--dataset <name>', 'dataset (default: the one recorded with the model)')
    .option('--data-path <dir>', 'dataset location')
    .option('--split <split>', 'train or test', parseSplit, 'test')
    .option('--json <file>', 'also write the full result (per-class accuracy, confusion matrix) as JSON')
    .option('--device <name>', DEVICE_HELP, 'cpu')
    .action((raw) =>
      runCommand(() => {
        const o = typedOptions(EvalFlags, raw, 'eval');
        const r = evaluateModelDir({ model: o.model, dataset: o.dataset, dataPath: o.dataPath, split: o.split, device: o.device });
        console.log(`model ${o.model} (${r.record.arch}) on ${r.dataset} ${o.split} (${r.n} images): accuracy ${pct(r.accuracy)}, ECE ${fmt(r.ece, 4)}, mean confidence ${fmt(r.meanConfidence, 4)}`);
        console.log('per-class accuracy:');
        r.perClassAccuracy.forEach((a, k) => console.log(`  ${String(k).padStart(3)} ${(r.info.classNames[k] ?? '').padEnd(12)} ${pct(a)}`));
        console.log('confusion matrix (rows: true class, columns: predicted):');
        for (const row of r.confusion) console.log('  ' + row.map((v) => String(v).padStart(5)).join(''));
        if (o.json) {
          const { record: _r, info: _i, dataset, split: _s, ...result } = r;
          writeJsonAtomic(o.json, { model: o.model, dataset, split: o.split, ...result });
        }
      }),
    );
}

function registerListings(program: Command): void {
  program
    .command('models')
    .description('list the architectures of the model zoo')
    .action(() =>
      runCommand(() => {
        for (const m of listModels()) {
          if (m.kind !== 'classifier') {
            console.log(`${m.name.padEnd(12)} ${m.description}`);
            continue;
          }
          const net = buildModel(m.name, { inChannels: 3, numClasses: 10, imageSize: 32 });
          console.log(`${m.name.padEnd(12)} ${String(net.numParameters().toLocaleString('en-US')).padStart(12)} params (3x32x32, 10 classes)  ${m.description}`);
          net.dispose();
        }
      }),
    );

  program
    .command('datasets')
    .description('list the datasets dfkd can read and where it looks for them')
    .action(() =>
      runCommand(() => {
        for (const d of listDatasets()) {
          const where = d.defaultPath ? `${d.defaultPath}${fs.existsSync(d.defaultPath) ? '' : ' (not installed)'}` : 'path required (--data-path)';
          console.log(`${d.name.padEnd(14)} ${String(d.classes || '?').padStart(3)} classes, ${d.channels}x${d.size}x${d.size} input  ${where}\n${' '.repeat(15)}${d.description}`);
        }
      }),
    );
}

function parseSplit(v: string): 'train' | 'test' {
  if (v !== 'train' && v !== 'test') throw new InvalidArgumentError(`--split must be 'train' or 'test', got '${v}'`);
  return v;
}

export function printTeacher(rec: TeacherRecord, dir: string): void {
  console.log(
    `teacher ${rec.arch} on ${rec.dataset} (seed ${rec.recipe.seed}, ${rec.recipe.epochs} epochs): test accuracy ${pct(rec.testAccuracy)}, ` +
      `${rec.parameters.toLocaleString('en-US')} parameters, ${rec.wallTimeSec.toFixed(1)} s -> ${path.join(dir, TEACHER_RECORD)}`,
  );
}
