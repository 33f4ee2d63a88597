/** Reading the JSON files dfkd writes (records, state, results) and the ones users give it (configs). */
import * as fs from 'fs';
import { DfkdError } from '../errors';

/**
 * Reads and parses a JSON file. Every failure is a DfkdError that names `what` and the file: a file
 * that cannot be read (code 'ENOENT'), or text that is not JSON (code `code`; `hint`, when given,
 * says what to do about it).
 */
export function readJson(file: string, what: string, code: string, hint?: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DfkdError(`cannot read ${what} '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'ENOENT');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DfkdError(`${what} '${file}' is not valid JSON (${(e as Error).message})${hint ? `; ${hint}` : ''}`, code);
  }
}

/** Nesting deeper than this is refused in user JSON (dfkd's configs nest 3 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Checks user-given JSON (configs, recipes) before it is merged: nesting at most MAX_JSON_DEPTH levels
 * (deeper input overflowed the stack of the recursive merge) and no '__proto__' key, which a plain
 * object assignment would silently drop. Iterative, so any depth is checked safely.
 */
export function checkJsonShape(value: unknown, what: string): void {
  const stack: { v: unknown; at: string; depth: number }[] = [{ v: value, at: '(root)', depth: 0 }];
  while (stack.length > 0) {
    const { v, at, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw new DfkdError(`${what}: nested more than ${MAX_JSON_DEPTH} levels deep (at ${at.slice(0, 80)}${at.length > 80 ? '...' : ''})`, 'ECONFIG');
    for (const k of Object.keys(v)) {
      const child = at === '(root)' ? k : `${at}.${k}`;
      if (k === '__proto__') throw new DfkdError(`${what}: key '__proto__' (at ${child}) is not allowed`, 'ECONFIG');
      stack.push({ v: (v as Record<string, unknown>)[k], at: child, depth: depth + 1 });
    }
  }
}
