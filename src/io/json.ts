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
