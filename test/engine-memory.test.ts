/** Deterministic memory release: tidy/keep/dispose semantics and a memory-flatness training loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as childProcess from 'child_process';
import * as path from 'path';
import { Module, Sequential } from '../src/nn';
import { Tensor, F, tensor, zeros, ones, randn, randint, tidy, keep, dispose, release, scopeDepth, noGrad, manualSeed, setNumThreads, getNumThreads, memoryStats, emptyCpuCache } from '../src/tensor';

function alive(t: Tensor, what: string): void {
  assert.equal(t.isDisposed, false, `${what}: expected alive, but it was disposed`);
}
function dead(t: Tensor, what: string): void {
  assert.equal(t.isDisposed, true, `${what}: expected disposed, but it is alive`);
}

test('tidy disposes intermediates and keeps the returned tensor', () => {
  let a!: Tensor;
  let b!: Tensor;
  const r = tidy(() => {
    a = ones([3]);
    b = a.add(1);
    return b.mul(2);
  });
  dead(a, 'intermediate a');
  dead(b, 'intermediate b');
  alive(r, 'returned tensor');
  assert.deepEqual(Array.from(r.toFloat32Array()), [4, 4, 4], 'returned values');
  assert.equal(scopeDepth(), 0, `scope depth after tidy: expected 0, got ${scopeDepth()}`);
});

test('tidy leaves tensors created outside it alone', () => {
  const outside = ones([2]);
  const r = tidy(() => outside.add(outside));
  alive(outside, 'tensor created before tidy');
  alive(r, 'result');
});

test('nested tidy: the inner result moves to the outer scope and is disposed there unless returned', () => {
  let x!: Tensor;
  let y!: Tensor;
  let w!: Tensor;
  const z = tidy(() => {
    y = tidy(() => {
      x = ones([2]);
      return x.add(1);
    });
    dead(x, 'inner intermediate right after the inner tidy');
    alive(y, 'inner result inside the outer tidy');
    assert.equal(scopeDepth(), 1, `scope depth inside the outer tidy: expected 1, got ${scopeDepth()}`);
    w = y.mul(3);
    return w.add(0);
  });
  dead(y, 'inner result not returned by the outer tidy');
  dead(w, 'outer intermediate');
  alive(z, 'outer result');
  assert.deepEqual(Array.from(z.toFloat32Array()), [6, 6], 'outer result values');
  const passThrough = tidy(() => tidy(() => ones([1]).add(4)));
  alive(passThrough, 'a result returned through two tidy levels');
});

test('tidy keeps tensors found in returned arrays, objects and Maps', () => {
  let dropped!: Tensor;
  const r = tidy(() => {
    dropped = zeros([1]);
    const m = new Map<string, Tensor>([['m', ones([1])]]);
    return { a: ones([1]), list: [ones([2]), [ones([3])]], nested: { deep: { t: ones([4]) } }, m, n: 5, s: 'x' };
  });
  dead(dropped, 'tensor not in the result');
  alive(r.a, 'object property');
  alive(r.list[0] as Tensor, 'array element');
  alive((r.list[1] as Tensor[])[0], 'nested array element');
  alive(r.nested.deep.t, 'deeply nested property');
  alive(r.m.get('m')!, 'Map value');
  assert.equal(r.n, 5);
  const arr = tidy(() => [ones([1]), ones([1])]);
  arr.forEach((t, i) => alive(t, `returned array element ${i}`));
  dispose(r);
  dead(r.a, 'after dispose(result)');
  dead((r.list[1] as Tensor[])[0], 'nested after dispose(result)');
  dead(r.m.get('m')!, 'Map value after dispose(result)');
});

test('an exception inside tidy still disposes everything and propagates', () => {
  let a!: Tensor;
  let b!: Tensor;
  assert.throws(
    () =>
      tidy(() => {
        a = ones([2]);
        b = tidy(() => a.add(1));
        zeros([2, 3]).matmul(zeros([4, 5])); // throws
        return b;
      }),
    /matmul/,
  );
  dead(a, 'tensor created before the exception');
  dead(b, 'inner tidy result when the outer tidy throws');
  assert.equal(scopeDepth(), 0, `scope depth after an exception: expected 0, got ${scopeDepth()}`);
  let c!: Tensor;
  assert.throws(() => tidy(() => { c = ones([1]); throw new RangeError('custom'); }), RangeError);
  dead(c, 'tensor created before a JS exception');
});

test('keep() takes a tensor out of every open scope', () => {
  let k1!: Tensor;
  let k2!: Tensor;
  let tmp!: Tensor;
  tidy(() => {
    k1 = ones([2]).keep();
    tidy(() => {
      k2 = keep(ones([3]));
      tmp = k2.add(1);
    });
  });
  alive(k1, 'kept in the outer tidy');
  alive(k2, 'kept in the inner tidy (survives the outer one too)');
  dead(tmp, 'non-kept tensor');
  assert.deepEqual(Array.from(k2.toFloat32Array()), [1, 1, 1], 'kept values are intact');
  k1.dispose();
  k2.dispose();
  dead(k1, 'kept tensor after explicit dispose');
});

test('release() frees only what the innermost scope owns', () => {
  const outside = ones([2]);
  let inner!: Tensor;
  let keptOne!: Tensor;
  let nested!: Tensor;
  tidy(() => {
    inner = outside.add(1);
    keptOne = ones([2]).keep();
    nested = tidy(() => outside.mul(3));
    assert.equal(release(outside), false, 'a tensor created before the scope is not released');
    assert.equal(release(keptOne), false, 'a kept tensor is not released');
    assert.equal(release(inner), true, 'a tensor created in the scope is released');
    assert.equal(release(nested), true, "a nested tidy's result belongs to the enclosing scope");
    dead(inner, 'released tensor');
    dead(nested, 'released nested result');
    assert.equal(release(inner), false, 'releasing twice is a no-op');
  });
  alive(outside, 'outside tensor');
  alive(keptOne, 'kept tensor');
  assert.equal(release(outside), false, 'no open scope: nothing is released');
  keptOne.dispose();
  outside.dispose();
});

/** A layer that makes a few intermediates, like a conv block, and records live tensors at entry. */
class Chatty extends Module {
  static seen: number[] = [];
  forward(x: Tensor): Tensor {
    Chatty.seen.push(memoryStats().liveTensors);
    return x.mul(2).add(1).relu().sub(0.5);
  }
}

test('Sequential frees each layer\'s intermediates as it goes; hooks turn that off; results and grads are unchanged', () => {
  const depth = 12;
  const x = randn([4, 3], 'float64').requiresGrad_();
  const run = (hooked: boolean): { live: number[]; y: number[]; g: number[]; seenByHook: number } => {
    const seq = new Sequential(...Array.from({ length: depth }, () => new Chatty()));
    let seenByHook = 0;
    const handle = hooked ? seq.layers[5].registerForwardHook((_m, input, output) => { seenByHook = input.size + output.size; }) : undefined;
    Chatty.seen = [];
    x.zeroGrad();
    const y = tidy(() => {
      const out = seq.call(x);
      out.sum().backward();
      return out.toFloat64Array();
    });
    handle?.remove();
    const g = Array.from(x.grad!.toFloat64Array());
    return { live: [...Chatty.seen], y: Array.from(y), g, seenByHook };
  };
  const chained = run(false);
  const plain = run(true);
  // Freed as it goes: the live count at each layer's entry does not grow with depth.
  const growth = chained.live[depth - 1] - chained.live[1];
  assert.ok(growth <= 1, `live tensors at layer entry grew by ${growth} over ${depth} layers: ${chained.live.join(',')}`);
  // With a hook, every intermediate stays until the scope ends (the hook may hold them).
  const plainGrowth = plain.live[depth - 1] - plain.live[1];
  assert.ok(plainGrowth >= 3 * (depth - 2), `with a hook, expected intermediates to accumulate, growth ${plainGrowth}: ${plain.live.join(',')}`);
  assert.equal(plain.seenByHook, 24, 'the hook saw its input and output');
  assert.deepEqual(chained.y, plain.y, 'same output either way');
  assert.deepEqual(chained.g, plain.g, 'same gradient either way');
  x.dispose();
});

test('parameters kept outside tidy: grads and in-place updates survive per-step tidy', () => {
  const w = randn([3, 2], 'float64').requiresGrad_();
  const w0 = Array.from(w.toFloat64Array());
  tidy(() => {
    const loss = tensor([[1, 2, 3]], undefined, 'float64').matmul(w).sum();
    loss.backward();
    noGrad(() => w.sub_(w.grad!, 0.1));
  });
  alive(w, 'parameter');
  const g = w.grad;
  assert.ok(g !== undefined && !g.isDisposed, 'the accumulated gradient survives tidy (the getter handle was disposed, not the grad)');
  assert.deepEqual(Array.from(g.toFloat64Array()), [1, 1, 2, 2, 3, 3], 'gradient values');
  const w1 = Array.from(w.toFloat64Array());
  w1.forEach((v, i) => assert.ok(Math.abs(v - (w0[i] - 0.1 * [1, 1, 2, 2, 3, 3][i])) < 1e-12, `w[${i}] after the SGD step: expected ${w0[i] - 0.1 * [1, 1, 2, 2, 3, 3][i]}, got ${v}`));
});

/** Lets the event loop turn: Node runs N-API wrapper finalizers (the native half of every disposed handle) only then. */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));
const mb = (b: number) => (b / 2 ** 20).toFixed(1);

interface LoopReport {
  rssAt300: number;
  rssEnd: number;
  heapAt300: number;
  heapEnd: number;
  firstLoss: number;
  lastLoss: number;
  ms: number;
}

/**
 * ~3000 SGD steps of a 2-layer MLP (32 -> 64 -> 10, batch 64) written with F.linear, one tidy per step,
 * parameters updated in place under noGrad. `yieldEvery` > 0 awaits the event loop every that many steps
 * (as the distillation loop does after every iteration); 0 runs the loop fully synchronously.
 */
async function mlpLoop(steps: number, yieldEvery: number): Promise<LoopReport> {
  // Tiny ops: one intra-op thread keeps the runtime stable on a busy 2-core machine (OpenMP spin-waits otherwise).
  const threads = getNumThreads();
  setNumThreads(1);
  try {
    return await mlpLoopBody(steps, yieldEvery);
  } finally {
    setNumThreads(threads);
  }
}

async function mlpLoopBody(steps: number, yieldEvery: number): Promise<LoopReport> {
  manualSeed(0);
  const nIn = 32;
  const nHid = 64;
  const nOut = 10;
  const batch = 64;
  const X = randn([1024, nIn]).keep();
  const teacher = randn([nIn, nOut]);
  const Y = X.matmul(teacher).argmax(1).keep(); // labels from a random linear teacher
  teacher.dispose();
  const params = [randn([nHid, nIn]).mul(1 / Math.sqrt(nIn)), zeros([nHid]), randn([nOut, nHid]).mul(1 / Math.sqrt(nHid)), zeros([nOut])].map((p) =>
    p.requiresGrad_(),
  );
  const [w1, b1, w2, b2] = params;
  const r: LoopReport = { rssAt300: 0, rssEnd: 0, heapAt300: 0, heapEnd: 0, firstLoss: 0, lastLoss: 0, ms: 0 };
  const t0 = Date.now();
  for (let step = 0; step < steps; step++) {
    tidy(() => {
      const idx = randint(0, 1024, [batch]);
      const logits = F.linear(F.linear(X.indexSelect(0, idx), w1, b1).relu(), w2, b2);
      const loss = F.crossEntropy(logits, Y.indexSelect(0, idx));
      loss.backward();
      noGrad(() => {
        for (const p of params) {
          p.sub_(p.grad!, 0.1);
          p.zeroGrad();
        }
      });
      if (step === 0) r.firstLoss = loss.item();
      if (step === steps - 1) r.lastLoss = loss.item();
    });
    if (yieldEvery > 0 && step % yieldEvery === yieldEvery - 1) await yieldToEventLoop();
    if (step === 300) {
      r.rssAt300 = process.memoryUsage().rss;
      r.heapAt300 = process.memoryUsage().heapUsed;
    }
  }
  r.ms = Date.now() - t0;
  r.rssEnd = process.memoryUsage().rss;
  r.heapEnd = process.memoryUsage().heapUsed;
  assert.equal(scopeDepth(), 0, 'all scopes closed');
  for (const p of params) alive(p, 'parameter after training');
  X.dispose();
  Y.dispose();
  params.forEach((p) => p.dispose());
  return r;
}

function describeLoop(name: string, steps: number, r: LoopReport): string {
  const growth = r.rssEnd - r.rssAt300;
  return (
    `${name}: rss at step 300 ${mb(r.rssAt300)} MB, at step ${steps} ${mb(r.rssEnd)} MB, growth ${mb(growth)} MB ` +
    `(${((100 * growth) / r.rssAt300).toFixed(2)}%); heapUsed ${mb(r.heapAt300)} -> ${mb(r.heapEnd)} MB; ` +
    `loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; ${steps} steps in ${r.ms} ms`
  );
}

function assertFlat(r: LoopReport): void {
  const growth = r.rssEnd - r.rssAt300;
  assert.ok(r.lastLoss < r.firstLoss, `the MLP should learn something: loss ${r.firstLoss} -> ${r.lastLoss}`);
  assert.ok(growth < 0.1 * r.rssAt300, `rss grew by ${mb(growth)} MB (${((100 * growth) / r.rssAt300).toFixed(2)}%), expected < 10% of ${mb(r.rssAt300)} MB`);
  assert.ok(growth < 30 * 2 ** 20, `rss grew by ${mb(growth)} MB, expected < 30 MB`);
}

test('memory stays flat over 3000 small training steps under per-step tidy (event loop turning every step)', async (t) => {
  const steps = 3000;
  const r = await mlpLoop(steps, 1);
  const msg = describeLoop('memory flatness', steps, r);
  console.log(msg);
  t.diagnostic(msg);
  assertFlat(r);
});

// Tensors are plain numeric ids into the addon's registry (no N-API wrapper objects, no finalizers),
// so a loop that never yields to the event loop must stay flat too.
test('memory stays flat in a fully synchronous loop (never yielding to the event loop)', async (t) => {
  const steps = 3000;
  const r = await mlpLoop(steps, 0);
  const msg = describeLoop('synchronous loop', steps, r);
  console.log(msg);
  t.diagnostic(msg);
  await yieldToEventLoop();
  assertFlat(r);
});

test('disposed large tensors are reused: rss plateaus over 60 x (2 x 32 MB) allocations', async (t) => {
  const iter = () => tidy(() => zeros([8 * 2 ** 20]).add(1).sum().item()); // two 32 MB tensors live at once
  for (let i = 0; i < 20; i++) {
    iter();
    await yieldToEventLoop();
  }
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 40; i++) {
    iter();
    await yieldToEventLoop();
  }
  const after = process.memoryUsage().rss;
  const msg = `large alloc/free: rss after 20 warm-up iterations ${mb(before)} MB, after 40 more ${mb(after)} MB (each allocates and frees 2 x 32 MB)`;
  console.log(msg);
  t.diagnostic(msg);
  // A tensor leaked per iteration would add >= 32 MB each time (1.28 GB over 40 iterations). The engine keeps
  // freed heap for reuse (see tuneMalloc in native/src/addon.cc), so allow a bounded rise toward its plateau.
  assert.ok(after - before < 320 * 2 ** 20, `rss grew by ${mb(after - before)} MB over 40 iterations after warm-up, expected < 320 MB (a plateau, not 32 MB per iteration)`);
});

test('the CPU allocator cache reuses buffers across varying batch sizes, stays bounded and can be emptied', () => {
  emptyCpuCache(); // start from an empty cache (earlier tests leave idle blocks)
  const before = memoryStats().cpuCache;
  assert.ok(before, 'the caching allocator is installed by default');
  assert.equal(before.idleBytes, 0);
  // Batches of 64..127 rows of a 100 KiB row: quarter-octave classes make them share a few blocks.
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 200; i++) {
    tidy(() => {
      const n = 64 + Math.floor(rand() * 64);
      randn([n, 25600]).mul(2).relu().sum().item();
    });
  }
  const after = memoryStats().cpuCache!;
  const misses = after.misses - before.misses;
  const hits = after.hits - before.hits;
  assert.ok(misses < 40, `expected most of 600 large allocations to hit the cache, got ${misses} misses and ${hits} hits`);
  assert.ok(after.idleBytes <= after.capBytes, 'idle bytes stay under the cap');
  // Three live 127-row buffers of 12.4 MiB at most, rounded up by at most 25%, in a few classes: well under 200 MiB idle.
  assert.ok(after.idleBytes < 200 * 2 ** 20, `idle cache ${after.idleBytes} bytes`);
  emptyCpuCache();
  assert.equal(memoryStats().cpuCache!.idleBytes, 0);
});

test('DFKD_MALLOC=system and DFKD_CPU_CACHE_MB=0 turn the caching allocator off', () => {
  for (const env of [{ DFKD_MALLOC: 'system' }, { DFKD_CPU_CACHE_MB: '0' }]) {
    const out = childProcess.execFileSync(
      process.execPath,
      ['-e', `const t = require(${JSON.stringify(path.resolve(__dirname, '..', 'src', 'tensor'))}); const x = t.randn([1000]); x.sum().item(); console.log(JSON.stringify(t.memoryStats().cpuCache));`],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    assert.equal(out.trim(), 'null', JSON.stringify(env));
  }
});
