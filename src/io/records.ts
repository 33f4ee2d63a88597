/**
 * Checks of the JSON records dfkd reads back (teacher.json, student.json, a run's config.json) and
 * of the weights file a model record names (issue 15): a missing or mistyped field, or a weights file
 * outside the model directory, is one message naming the file and the field instead of a TypeError.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';

/** 'count' is a positive integer (classes, channels, image size). */
export type FieldKind = 'string' | 'count' | 'object';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function fieldOk(v: unknown, kind: FieldKind): boolean {
  if (kind === 'string') return typeof v === 'string' && v.length > 0;
  if (kind === 'count') return Number.isInteger(v) && (v as number) > 0;
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KIND_TEXT: Record<FieldKind, string> = { string: 'a non-empty string', count: 'a positive integer', object: 'an object' };

/**
 * Throws a DfkdError (code 'ERECORD') naming `what`, `file` and the first missing or mistyped field.
 * Field names may be dotted ('teacher.dir'). `hint` says what to do.
 */
export function requireFields(rec: unknown, file: string, what: string, fields: Record<string, FieldKind>, hint = ''): void {
  const tail = hint ? `; ${hint}` : '';
  if (!fieldOk(rec, 'object')) throw new DfkdError(`${what} '${file}' must hold a JSON object, got ${describe(rec)}${tail}`, 'ERECORD');
  for (const [name, kind] of Object.entries(fields)) {
    let v: unknown = rec;
    for (const part of name.split('.')) v = fieldOk(v, 'object') ? (v as Record<string, unknown>)[part] : undefined;
    if (v === undefined) throw new DfkdError(`${what} '${file}': field '${name}' is missing${tail}`, 'ERECORD');
    if (!fieldOk(v, kind)) throw new DfkdError(`${what} '${file}': field '${name}' must be ${KIND_TEXT[kind]}, got ${describe(v)}${tail}`, 'ERECORD');
  }
}

/** The fields of a run's config.json that `--resume` and `dfkd trust` read. */
export function requireRunRecord(rec: unknown, file: string): void {
  requireFields(rec, file, 'run record', { 'teacher.dir': 'string', student: 'string', config: 'object', 'config.method': 'string' }, 'it is not the config.json of a dfkd distill run');
}

/** Opt-in for a model record's weightsFile outside its directory (documented in docs/reliability.md). */
export const EXTERNAL_WEIGHTS_ENV = 'DFKD_ALLOW_EXTERNAL_WEIGHTS';

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * The path of the weights file a model record names. It must lie inside the model directory (after
 * resolving '..' and symbolic links) unless DFKD_ALLOW_EXTERNAL_WEIGHTS=1 is set.
 */
export function weightsPath(dir: string, weightsFile: string, recordFile: string): string {
  const file = path.join(dir, weightsFile);
  if (process.env[EXTERNAL_WEIGHTS_ENV] === '1') return file;
  const rel = path.relative(realOrResolved(dir), realOrResolved(file));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new DfkdError(
      `model record '${recordFile}': weightsFile '${weightsFile}' points outside the model directory '${dir}'; ` +
        `keep the weights in the model directory, or set ${EXTERNAL_WEIGHTS_ENV}=1 to allow a weights file elsewhere`,
      'EWEIGHTSPATH',
    );
  }
  return file;
}
