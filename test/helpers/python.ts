/**
 * The optional outside references the interop tests compare against: a Python interpreter with the
 * needed modules (Debian's python3-torch loads only in /usr/bin/python3, which another python3 earlier
 * on PATH may shadow) and onnxruntime-node. Tests skip with a message when one is missing.
 */
import { spawnSync } from 'child_process';

/**
 * The first interpreter that can run `import <modules>`: DFKD_PYTHON when set (the only candidate; set it
 * empty to skip the PyTorch comparisons), else python3, /usr/bin/python3 and python. Undefined if none can.
 */
export function findPython(modules: string): string | undefined {
  const env = process.env.DFKD_PYTHON;
  const candidates = (env !== undefined ? [env] : ['python3', '/usr/bin/python3', 'python']).filter((c) => c.length > 0);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', `import ${modules}`], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return c;
  }
  return undefined;
}

export type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node (a devDependency), or undefined where it is not installed. */
export function loadOnnxRuntime(): Ort | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('onnxruntime-node') as Ort;
  } catch {
    return undefined;
  }
}
