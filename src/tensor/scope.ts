/**
 * Deterministic release of native memory.
 *
 * Every tensor created while a scope is open is recorded in the innermost scope. `tidy(fn)` opens a
 * scope, runs `fn`, and disposes every tensor recorded in it except the ones `fn` returns (found
 * anywhere in returned arrays or plain objects), which move to the enclosing scope. `keep(t)` takes
 * a tensor out of scope tracking (used for parameters, buffers and optimizer state). The garbage
 * collector is only a safety net: each handle's finalizer frees memory that was never disposed.
 */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];

/** Records a newly created tensor in the innermost open scope. */
export function track<T extends Disposable>(t: T): T {
  if (stack.length > 0) stack[stack.length - 1].add(t);
  return t;
}

/** Removes `t` from every open scope so that no tidy() disposes it. Returns `t`. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, out, seen);
  }
}

/**
 * Runs `fn` in a new scope and disposes every tensor it created except those it returns.
 * `fn` must be synchronous (a returned Promise is rejected with an error, as its tensors could not
 * be tracked reliably).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy: the function returned a Promise; tidy only supports synchronous functions');
  }
  const kept = new Set<Disposable>();
  collect(result, kept, new Set());
  for (const t of scope) {
    if (kept.has(t)) {
      if (stack.length > 0) stack[stack.length - 1].add(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/** Disposes every tensor found in `value` (a tensor, or arrays/objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found, new Set());
  for (const t of found) t.dispose();
}

/**
 * Disposes `t` now if the innermost open scope owns it (it was created, or returned by a nested
 * tidy(), inside that scope and not kept); otherwise does nothing. Returns whether it was freed.
 * Lets a loop free an intermediate as soon as it is consumed instead of at the end of the scope,
 * without risking a tensor the scope does not own (an input, a parameter, a kept tensor).
 */
export function release(t: Disposable): boolean {
  const top = stack[stack.length - 1];
  if (top === undefined || !top.has(t)) return false;
  top.delete(t);
  t.dispose();
  return true;
}

/** Number of open scopes (for tests and diagnostics). */
export function scopeDepth(): number {
  return stack.length;
}
