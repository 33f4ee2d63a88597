/**
 * Probe trust of finished runs, with the probe cached per teacher: `dfkd trust` for one run and
 * `dfkd study` for every cell. The result of a run is written next to it as `probe-trust.json`; a probe
 * set is written to the teacher's directory as `probe-<hash>.safetensors` (the hash covers the probe
 * options and the teacher's weights), so each teacher is inverted once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor';
import { loadTeacher } from '../train/teacher';
import { saveTensors, loadTensors } from '../io/weights';
import { writeJsonAtomic } from '../io/atomic';
import { readJson } from '../io/json';
import { contentHash, nowSeconds } from '../util';
import { DfkdError } from '../errors';
import { loadStudent } from '../io/model-dir';
import { RUN_FILES, runPaths, hasRun } from '../io/run-dir';
import { requireRunRecord } from '../io/records';
import { PROBE_DEFAULTS, ProbeOptions, definedOnly, ProbeSignals, probeSignals, synthesizeProbe } from './probe';

export const PROBE_TRUST_FILE = 'probe-trust.json';

export interface ProbeTrustRecord extends ProbeSignals {
  kind: 'dfkd-probe-trust';
  teacherWeightsSha256: string;
  probe: ProbeOptions;
  probeFile: string;
  computedAt: string;
}

/** A teacher loaded once and shared by the probe synthesis and the scoring of all its runs. */
export type LoadedTeacher = ReturnType<typeof loadTeacher> & { dir: string };

export interface TeacherProbe {
  probe: Tensor;
  file: string;
  options: ProbeOptions;
  seconds: number;
}

/**
 * The probe set of a teacher: loaded from its cache file, or synthesised and cached. The cache lives in
 * the teacher directory; when that cannot be written, in `fallbackDir` (e.g. the run directory). Its name
 * is `<prefix>-<hash>.safetensors` (TA-DFKD's anchors, made the same way, use the prefix 'anchors').
 */
export function teacherProbe(teacher: LoadedTeacher, o: Partial<ProbeOptions> = {}, log: (m: string) => void = () => undefined, fallbackDir?: string, prefix = 'probe'): TeacherProbe {
  const options: ProbeOptions = { ...PROBE_DEFAULTS, ...definedOnly(o) };
  const { model, record, dir: teacherDir } = teacher;
  const name = `${prefix}-${contentHash({ options, weights: record.weightsSha256 }).slice(0, 16)}.safetensors`;
  let file = path.join(teacherDir, name);
  if (!fs.existsSync(file) && fallbackDir && fs.existsSync(path.join(fallbackDir, name))) file = path.join(fallbackDir, name);
  if (fs.existsSync(file)) {
    try {
      const { tensors } = loadTensors(file);
      const probe = tensors.get('probe');
      for (const [k, t] of tensors) if (k !== 'probe') t.dispose();
      if (probe) return { probe, file, options, seconds: 0 };
    } catch (e) {
      log(`probe cache ${file} unreadable (${(e as Error).message}); synthesising it again`);
    }
  }
  log(`synthesising ${prefix === 'probe' ? 'a probe set' : `the ${prefix}`} of ${options.n} images for teacher ${teacherDir} (${options.steps} inversion steps per batch)`);
  const t0 = nowSeconds();
  const probe = synthesizeProbe(model, { channels: record.inChannels, imageSize: record.imageSize, numClasses: record.numClasses }, options);
  const save = (f: string): void => saveTensors(f, new Map([['probe', probe]]), { kind: 'dfkd-probe', options: JSON.stringify(options), teacherWeightsSha256: record.weightsSha256 });
  file = saveWithFallback(file, fallbackDir && path.join(fallbackDir, name), save, log);
  return { probe, file, options, seconds: nowSeconds() - t0 };
}

/** Writes with `save` to `file`, or to `fallback` (saying so) when `file` cannot be written; the file written. */
function saveWithFallback(file: string, fallback: string | undefined, save: (f: string) => void, log: (m: string) => void): string {
  try {
    save(file);
    return file;
  } catch (e) {
    if (!fallback || !(e instanceof DfkdError)) throw e;
    save(fallback);
    log(`cannot write the probe cache in the teacher directory (${e.code}: ${e.message}); cached in the run directory instead: '${fallback}'`);
    return fallback;
  }
}

/**
 * Probe trust of one finished run (a directory with student.json). Reuses `probe-trust.json` when it
 * was computed with the same probe options and teacher weights.
 */
export function runProbeTrust(runDir: string, loaded: LoadedTeacher, probe: TeacherProbe): ProbeTrustRecord {
  const out = path.join(runDir, PROBE_TRUST_FILE);
  const { model: teacher, record, dir: teacherDir } = loaded;
  if (fs.existsSync(out)) {
    const prev = readJson(out, 'probe trust record', 'ECORRUPT', 'delete it to compute it again') as ProbeTrustRecord;
    if (prev.teacherWeightsSha256 === record.weightsSha256 && JSON.stringify(prev.probe) === JSON.stringify(probe.options)) return prev;
  }
  const { model: student, record: sRec } = loadStudent(runDir);
  try {
    if (sRec.numClasses !== record.numClasses) {
      throw new DfkdError(`run '${runDir}' has a ${sRec.numClasses}-class student but teacher '${teacherDir}' has ${record.numClasses} classes`, 'ESHAPE');
    }
    const s = probeSignals(teacher, student, probe.probe, record.numClasses);
    const rec: ProbeTrustRecord = {
      kind: 'dfkd-probe-trust',
      ...s,
      teacherWeightsSha256: record.weightsSha256,
      probe: probe.options,
      probeFile: path.resolve(probe.file),
      computedAt: new Date().toISOString(),
    };
    writeJsonAtomic(out, rec);
    return rec;
  } finally {
    student.dispose();
  }
}

/** Loads a teacher, runs `fn` with it, and frees it. */
export function withTeacher<T>(teacherDir: string, fn: (t: LoadedTeacher) => T): T {
  const t = { ...loadTeacher(teacherDir), dir: teacherDir };
  try {
    return fn(t);
  } finally {
    t.model.dispose();
  }
}

/**
 * Probe trust for many runs grouped by teacher (a study): one probe per teacher, then every run of
 * it. `runs` maps a teacher directory to the run directories of its students.
 */
export function probeTrustForRuns(runs: Map<string, string[]>, o: Partial<ProbeOptions>, log: (teacherDir: string, m: string) => void = () => undefined): void {
  for (const [teacherDir, runDirs] of runs) {
    if (runDirs.length === 0) continue;
    withTeacher(teacherDir, (teacher) => {
      const probe = teacherProbe(teacher, o, (m) => log(teacherDir, m));
      try {
        for (const r of runDirs) runProbeTrust(r, teacher, probe);
      } finally {
        probe.probe.dispose();
      }
    });
  }
}

/**
 * `dfkd trust` as a library call: the probe trust of a finished run, with the teacher recorded in the
 * run (or `o.teacher`); the probe is cached in the teacher directory.
 */
export function probeTrustOfRun(runDir: string, o: { teacher?: string } & Partial<ProbeOptions> = {}, log: (m: string) => void = () => undefined): { record: ProbeTrustRecord; file: string; probeFile: string } {
  if (!fs.existsSync(runPaths(runDir).studentRecord)) throw new DfkdError(`'${runDir}' is not a finished distillation run (no ${RUN_FILES.studentRecord})`, 'ENOENT');
  let teacherDir = o.teacher;
  if (!teacherDir) {
    if (!hasRun(runDir)) throw new DfkdError(`'${runDir}' has no ${RUN_FILES.config} naming its teacher; pass --teacher`, 'ENOENT');
    const rec = readJson(runPaths(runDir).config, 'run record', 'ERECORD');
    requireRunRecord(rec, runPaths(runDir).config);
    teacherDir = (rec as { teacher: { dir: string } }).teacher.dir;
  }
  return withTeacher(teacherDir, (teacher) => {
    const probe = teacherProbe(teacher, { n: o.n, steps: o.steps, jitter: o.jitter }, log, runDir);
    try {
      return { record: runProbeTrust(runDir, teacher, probe), file: path.join(runDir, PROBE_TRUST_FILE), probeFile: probe.file };
    } finally {
      probe.probe.dispose();
    }
  });
}
