/** Small shared helpers: canonical hashing, timing. */
import * as crypto from 'crypto';

/** JSON with object keys sorted at every level (stable across runs and machines). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return val;
  });
}

/** Short content hash of a JSON-able value (16 hex chars of SHA-256 of its canonical JSON). */
export function contentHash(v: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

export function nowSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
