/** `dfkd train-teacher`, `dfkd eval`, `dfkd models`, `dfkd datasets`. */
import * as path from 'path';
import * as fs from 'fs';
import { Command, InvalidArgumentError } from 'commander';
import { trainTeacher, loadTeacher, TeacherRecord } from '../train/teacher';
import { evaluate } from '../train/evaluate';
import { listModels, buildModel } from '../models';
import { listDatasets, loadDataset, checkClassCount, imageFolderChannels, datasetInfoForModel } from '../data/registry';
import { toTensors, disposeTensors } from '../data/tensors';
import { writeJsonAtomic } from '../io/atomic';
import { DfkdError } from '../errors';
import { createProgress, fmt } from './progress';
import { parseIntArg, parseNumArg, readJsonFile, runCommand, pct, DEVICE_HELP } from './common';
import { Device, resolveDevice } from '../tensor';

export function registerTeacherCommands(program: Command): void {
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
    .action((o) =>
      runCommand(() => {
        resolveDevice(o.device);
        const base = o.config ? (readJsonFile(o.config, 'teacher recipe') as Record<string, unknown>) : {};
        const recipe: Record<string, unknown> = { ...base };
        const map: [string, string][] = [['dataset', 'dataset'], ['arch', 'arch'], ['seed', 'seed'], ['epochs', 'epochs'], ['batchSize', 'batchSize'], ['lr', 'lr'], ['labelSmoothing', 'labelSmoothing']];
        for (const [opt, key] of map) if (o[opt] !== undefined) recipe[key] = o[opt];
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

  program
    .command('eval')
    .description('evaluate a model directory (teacher or distilled student) on a real test set')
    .requiredOption('--model <dir>', 'directory with teacher.json or summary.json')
    .option('--dataset <name>', 'dataset (default: the one recorded with the model)')
    .option('--data-path <dir>', 'dataset location')
    .option('--split <split>', 'train or test', parseSplit, 'test')
    .option('--json <file>', 'also write the full result (per-class accuracy, confusion matrix) as JSON')
    .option('--device <name>', DEVICE_HELP, 'cpu')
    .action((o) =>
      runCommand(() => {
        const device = resolveDevice(o.device);
        const { model, record } = loadAnyModel(o.model, device);
        const dsName = o.dataset ?? record.dataset;
        const info = datasetInfoForModel(dsName, record.inChannels);
        const raw = loadDataset(dsName, o.split, { path: o.dataPath, channels: imageFolderChannels(record.inChannels) });
        if (raw.channels !== record.inChannels || raw.height !== record.imageSize) {
          model.dispose();
          throw new DfkdError(`dataset '${dsName}' gives ${raw.channels}x${raw.height}x${raw.width} images but the model expects ${record.inChannels}x${record.imageSize}x${record.imageSize}`, 'ESHAPE');
        }
        try {
          checkClassCount(record, `model '${o.model}'`, dsName, info.classes, raw.labels);
        } catch (e) {
          model.dispose();
          throw e;
        }
        const data = toTensors(raw, info);
        try {
          const r = evaluate(model, data, record.numClasses);
          console.log(`model ${o.model} (${record.arch}) on ${dsName} ${o.split} (${r.n} images): accuracy ${pct(r.accuracy)}, ECE ${fmt(r.ece, 4)}, mean confidence ${fmt(r.meanConfidence, 4)}`);
          console.log('per-class accuracy:');
          r.perClassAccuracy.forEach((a, k) => console.log(`  ${String(k).padStart(3)} ${(info.classNames[k] ?? '').padEnd(12)} ${pct(a)}`));
          console.log('confusion matrix (rows: true class, columns: predicted):');
          for (const row of r.confusion) console.log('  ' + row.map((v) => String(v).padStart(5)).join(''));
          if (o.json) writeJsonAtomic(o.json, { model: o.model, dataset: dsName, split: o.split, ...r });
        } finally {
          disposeTensors(data);
          model.dispose();
        }
      }),
    );

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
      `${rec.parameters.toLocaleString('en-US')} parameters, ${rec.wallTimeSec.toFixed(1)} s -> ${path.join(dir, 'teacher.json')}`,
  );
}

interface ModelRecordLike {
  arch: string;
  dataset: string;
  numClasses: number;
  inChannels: number;
  imageSize: number;
}

/** Loads a teacher directory, or a distilled student run directory (summary.json + student.safetensors). */
export function loadAnyModel(dir: string, device?: Device): { model: ReturnType<typeof buildModel>; record: ModelRecordLike } {
  if (fs.existsSync(path.join(dir, 'teacher.json'))) {
    const { model, record } = loadTeacher(dir, device);
    return { model, record };
  }
  // Distilled students are loaded by the distill module (registered lazily to avoid a cycle).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { loadStudent } = require('../distill/run') as typeof import('../distill/run');
  return loadStudent(dir, device);
}
