/**
 * Loads the compiled libtorch binding (build/Release/dfkd_native.node) and describes its surface.
 * Only src/tensor talks to this module; everything else uses the typed Tensor API.
 */
import * as path from 'path';
import * as fs from 'fs';

/**
 * A tensor on the native side is a plain number (an id >= 2^40 into the addon's registry); the
 * registry owns the at::Tensor until `native.dispose(id)`.
 */
export type NativeHandle = number;

export type { NumericArray } from './binding';
import { checkBinding, type NativeBinding } from './binding';

/** The addon's op table, typed (src/tensor/binding.ts) and checked against the addon when it loads. */
export type NativeModule = NativeBinding;

function locate(): string {
  const candidates = [
    process.env.DFKD_NATIVE_PATH,
    path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'dfkd_native.node'),
    path.resolve(__dirname, '..', '..', 'build', 'Release', 'dfkd_native.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(
    `dfkd: the native engine is not built (looked for ${candidates.join(', ')}). ` +
      `Install libtorch (apt-get install -y --no-install-recommends libtorch-dev libopenblas0-openmp) and run 'npm run build:native'.`,
  );
}

// libgomp reads its settings when libtorch is loaded, so they must be in the environment before
// the require below. Idle OpenMP workers sleep instead of spinning: on a shared or oversubscribed
// machine spinning workers made small ops 10-30x slower (a LeNet forward went from 7 ms to 136 ms
// with two other jobs running). Set OMP_WAIT_POLICY=ACTIVE to get libgomp's default back.
if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';

const file = locate();
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const native: NativeModule = checkBinding(require(file) as Record<string, unknown>, file);
