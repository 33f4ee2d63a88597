/** `dfkd import` (a PyTorch teacher in) and `dfkd export` (a model out to ONNX). */
import * as path from 'path';
import { Command } from 'commander';
import { importTeacher } from '../interop/import';
import { importOnnxTeacher } from '../interop/onnx-graph/teacher';
import { DfkdError } from '../errors';
import { exportModel, checkExportFormat, EXPORT_FORMATS, ONNX_OPSET } from '../interop/onnx';
import { z } from 'zod';
import { TEACHER_RECORD } from '../train/teacher';
import { parseIntArg, runCommand, pct, typedOptions } from './common';

const ImportFlags = z.object({
  arch: z.string().optional(),
  weights: z.string().optional(),
  onnx: z.string().optional(),
  imageSize: z.number().int().optional(),
  mean: z.array(z.number()).optional(),
  std: z.array(z.number()).optional(),
  dataset: z.string(),
  out: z.string(),
  classes: z.number().int().optional(),
  channels: z.number().int().optional(),
  testAccuracy: z.boolean().optional(),
  dataPath: z.string().optional(),
});
const ExportFlags = z.object({ model: z.string(), format: z.string(), out: z.string(), force: z.boolean().optional(), foldBn: z.boolean().optional() });

export function registerInteropCommands(program: Command): void {
  registerImport(program);
  registerExport(program);
}

function registerImport(program: Command): void {
  program
    .command('import')
    .description('import a teacher as a dfkd teacher directory: a zoo architecture\'s state dict (--arch + --weights), or any CNN exported to ONNX (--onnx); see docs/interop.md')
    .option('--arch <name>', 'zoo architecture the state dict belongs to (see dfkd models)')
    .option('--weights <file>', 'the state dict as .safetensors (see docs/interop.md for the two lines of Python)')
    .option('--onnx <file>', 'an ONNX classifier (opsets 11-17, fixed input size), interpreted as a differentiable teacher; instead of --arch/--weights')
    .requiredOption('--dataset <name>', 'dataset the teacher was trained on: normalisation, class names, test split (see dfkd datasets)')
    .requiredOption('--out <dir>', 'output teacher directory (weights.safetensors or model.onnx, + teacher.json)')
    .option('--image-size <n>', 'with --onnx: input height and width when the model\'s are dynamic', parseIntArg('--image-size'))
    .option('--mean <list>', 'with --onnx: per-channel mean the model expects, e.g. 0.485,0.456,0.406 (default: the model\'s metadata_props, else the dataset\'s)', parseList('--mean'))
    .option('--std <list>', 'with --onnx: per-channel std the model expects (with --mean)', parseList('--std'))
    .option('--classes <n>', 'number of classes (default: the dataset\'s)', parseIntArg('--classes'))
    .option('--channels <n>', 'input channels (default: the dataset\'s)', parseIntArg('--channels'))
    .option('--test-accuracy', 'measure the test accuracy on the dataset\'s test split (the default; recorded as null with a warning when the data cannot be loaded)')
    .option('--no-test-accuracy', 'do not measure the test accuracy (recorded as null)')
    .option('--data-path <dir>', 'dataset location, for the test accuracy')
    .action((raw) =>
      runCommand(() => {
        const o = typedOptions(ImportFlags, raw, 'import');
        if (o.onnx !== undefined) return importOnnx({ ...o, onnx: o.onnx });
        if (o.arch === undefined || o.weights === undefined) {
          throw new DfkdError(`dfkd import needs --arch and --weights (a zoo architecture's state dict) or --onnx (any ONNX classifier); missing: ${[o.arch === undefined ? '--arch' : '', o.weights === undefined ? '--weights' : ''].filter(Boolean).join(', ')}`, 'EUSAGE');
        }
        importZooTeacher({ ...o, arch: o.arch, weights: o.weights });
      }),
    );
}

function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a teacher or distilled student directory to ONNX (BatchNorm in eval form, dynamic batch, normalisation in the metadata)')
    .requiredOption('--model <dir>', 'teacher directory (teacher.json) or distilled run directory (student.json)')
    .option('--format <name>', `output format: ${EXPORT_FORMATS.join(', ')}`, 'onnx')
    .requiredOption('--out <file>', 'output file, e.g. student.onnx')
    .option('--force', 'overwrite --out if it exists (its directory must exist: it is not created)')
    .option('--fold-bn', 'fold each BatchNorm that follows a convolution into it (default: BatchNormalization nodes)')
    .action((raw) =>
      runCommand(() => {
        const o = typedOptions(ExportFlags, raw, 'export');
        checkExportFormat(o.format);
        const r = exportModel({ model: o.model, format: o.format, out: o.out, foldBatchNorm: o.foldBn === true, force: o.force === true });
        const rec = r.record;
        console.log(
          `exported ${rec.arch} from ${o.model} to ${r.out} (${(r.sizeBytes / 1e6).toFixed(2)} MB, ONNX opset ${ONNX_OPSET}, ${r.nodes} nodes, ` +
            `${r.foldedBatchNorms > 0 ? `${r.foldedBatchNorms} BatchNorm(s) folded, ` : ''}${r.batchNormNodes} BatchNormalization node(s))`,
        );
        if (o.foldBn && r.foldedBatchNorms === 0) console.log(`  --fold-bn: no BatchNorm of ${rec.arch} directly follows a convolution (pre-activation blocks), so none was folded`);
        console.log(`  input 'input' [batch, ${rec.inChannels}, ${rec.imageSize}, ${rec.imageSize}] float32: ${r.metadata.normalisation}`);
        console.log(`  output 'logits' [batch, ${rec.numClasses}]; dataset ${rec.dataset}; metadata_props: ${Object.keys(r.metadata).join(', ')}`);
      }),
    );
}

/** `dfkd import --arch A --weights W`: a zoo architecture's state dict as a teacher directory; prints what was imported. */
function importZooTeacher(o: z.infer<typeof ImportFlags> & { arch: string; weights: string }): void {
  const res = importTeacher({
    arch: o.arch,
    weights: o.weights,
    dataset: o.dataset,
    out: o.out,
    numClasses: o.classes,
    inChannels: o.channels,
    testAccuracy: o.testAccuracy !== false,
    dataPath: o.dataPath,
  });
  const r = res.record;
  for (const n of res.notes) console.log(`  ${n}`);
  const acc = r.testAccuracy === null ? 'test accuracy not measured' : `test accuracy ${pct(r.testAccuracy)}`;
  console.log(
    `imported ${r.arch} (${r.inChannels} channel(s), ${r.numClasses} classes, ${r.parameters.toLocaleString('en-US')} parameters) for ${r.dataset}: ${acc} -> ${path.join(res.dir, TEACHER_RECORD)}`,
  );
}

function parseList(name: string): (v: string) => number[] {
  return (v: string) => {
    const out = v.split(',').map((x) => Number(x.trim()));
    if (out.length === 0 || out.some((x) => !Number.isFinite(x))) throw new DfkdError(`${name} must be a comma-separated list of numbers, got '${v}'`, 'EUSAGE');
    return out;
  };
}

function importOnnx(o: z.infer<typeof ImportFlags> & { onnx: string }): void {
  for (const k of ['arch', 'weights'] as const) {
    if (o[k] !== undefined) throw new DfkdError(`--onnx imports the graph with its weights; do not combine it with --${k}`, 'EUSAGE');
  }
  const res = importOnnxTeacher({
    onnx: o.onnx,
    dataset: o.dataset,
    out: o.out,
    dataPath: o.dataPath,
    channels: o.channels,
    imageSize: o.imageSize,
    mean: o.mean,
    std: o.std,
    numClasses: o.classes,
    testAccuracy: o.testAccuracy !== false,
  });
  const r = res.record;
  for (const n of res.notes) console.log(`  ${n}`);
  const acc = r.testAccuracy === null ? 'test accuracy not measured' : `test accuracy ${pct(r.testAccuracy)}`;
  console.log(
    `imported ${r.arch} (ONNX, ${r.inChannels}x${r.imageSize}x${r.imageSize} input, ${r.numClasses} classes, ${r.parameters.toLocaleString('en-US')} parameters, ${r.recipe.batchNorms} BatchNorm) for ${r.dataset}: ${acc} -> ${path.join(res.dir, 'teacher.json')}`,
  );
}
