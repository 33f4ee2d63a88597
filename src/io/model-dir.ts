/**
 * Model directories: a teacher (teacher.json + weights, trained by `dfkd train-teacher` or imported by
 * `dfkd import`) or a finished distillation run (student.json + student.safetensors). One loader for
 * all of them, used by `dfkd eval`, `dfkd export`, `dfkd trust` and the probe.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import type { Device } from '../tensor';
import { buildModel } from '../models';
import type { Classifier } from '../models/registry';
import { loadTeacher, TEACHER_RECORD } from '../train/teacher';
import { loadModule, saveModule, sha256File } from './weights';
import { writeJsonAtomic } from './atomic';
import { readJson } from './json';
import { RUN_FILES } from './run-dir';
import { requireFields, weightsPath } from './records';

/** What any model directory records about its model: enough to build it and check a dataset against it. */
export interface ModelRecord {
  arch: string;
  dataset: string;
  numClasses: number;
  inChannels: number;
  imageSize: number;
}

/** student.json of a finished run. */
export interface StudentRecord extends ModelRecord {
  kind?: 'dfkd-student';
  weightsFile: string;
  weightsSha256?: string;
}

export function isTeacherDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, TEACHER_RECORD));
}

/** Loads a distilled student from its run directory, onto `device` (default CPU). */
export function loadStudent(dir: string, device?: Device): { model: Classifier; record: StudentRecord } {
  const recFile = path.join(dir, RUN_FILES.studentRecord);
  if (!fs.existsSync(recFile)) throw new DfkdError(`'${dir}' holds neither a teacher (${TEACHER_RECORD}) nor a finished student (${RUN_FILES.studentRecord})`, 'ENOMODEL');
  const rec = readJson(recFile, 'student record', 'ERECORD') as StudentRecord;
  requireFields(rec, recFile, 'student record', { arch: 'string', dataset: 'string', numClasses: 'count', inChannels: 'count', weightsFile: 'string' });
  const wfile = weightsPath(dir, rec.weightsFile, recFile);
  if (rec.weightsSha256 && fs.existsSync(wfile) && sha256File(wfile) !== rec.weightsSha256) {
    throw new DfkdError(`student weights '${wfile}' do not match the SHA-256 in ${recFile} (file changed or corrupted)`, 'ECORRUPT');
  }
  const model = buildModel(rec.arch, rec);
  loadModule(wfile, model);
  if (device && device !== 'cpu') model.to(device);
  model.eval();
  return { model, record: rec };
}

/** Loads any model directory (teacher, imported teacher, distilled student), onto `device` (default CPU). */
export function loadModelDir(dir: string, device?: Device): { model: Classifier; record: ModelRecord } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new DfkdError(`model directory '${dir}' does not exist`, 'ENOENT');
  const { model, record } = isTeacherDir(dir) ? loadTeacher(dir, device) : loadStudent(dir, device);
  return { model, record: { arch: record.arch, dataset: record.dataset, numClasses: record.numClasses, inChannels: record.inChannels, imageSize: record.imageSize ?? 32 } };
}

/** Writes a finished run's student (PyTorch names) and its record into `dir`. */
export function saveStudent(dir: string, model: Classifier, rec: ModelRecord, meta: { method: string }): StudentRecord {
  const wfile = path.join(dir, RUN_FILES.studentWeights);
  saveModule(wfile, model, { arch: rec.arch, dataset: rec.dataset, method: meta.method, format: 'pt' });
  const record: StudentRecord = {
    kind: 'dfkd-student',
    arch: rec.arch,
    dataset: rec.dataset,
    numClasses: rec.numClasses,
    inChannels: rec.inChannels,
    imageSize: rec.imageSize,
    weightsFile: RUN_FILES.studentWeights,
    weightsSha256: sha256File(wfile),
  };
  writeJsonAtomic(path.join(dir, RUN_FILES.studentRecord), record);
  return record;
}
