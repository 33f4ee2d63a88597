/**
 * End-to-end check of the engine: a LeNet-style convnet written directly with F ops trains with
 * hand-written SGD + momentum (under noGrad) to near-zero loss on a small seeded synthetic problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, tensor, zeros, rand, randn, randperm, tidy, noGrad, manualSeed, dispose } from '../src/tensor';

const N = 256;
const C = 4;
const S = 16;

/** 4 classes of 16x16 images: class c has its 8x8 quadrant c (row-major) brightened by 0.5 on top of N(0, 0.8) noise. */
function makeData(): { x: Tensor; y: Tensor } {
  return tidy(() => {
    const labels = Array.from({ length: N }, (_, i) => i % C);
    const bright = new Float32Array(N * S * S);
    labels.forEach((c, n) => {
      const r0 = c < 2 ? 0 : S / 2;
      const c0 = c % 2 === 0 ? 0 : S / 2;
      for (let r = r0; r < r0 + S / 2; r++) for (let q = c0; q < c0 + S / 2; q++) bright[n * S * S + r * S + q] = 0.5;
    });
    const x = tensor(bright, [N, 1, S, S]).add(randn([N, 1, S, S]).mul(0.8));
    return { x, y: tensor(labels, undefined, 'int64') };
  });
}

/** PyTorch's default init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and biases. */
function param(shape: number[], fanIn: number): Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return tidy(() => rand(shape).mul(2 * b).sub(b)).requiresGrad_();
}

test('LeNet-style convnet reaches near-zero training loss with SGD + momentum', (t) => {
  manualSeed(1234);
  const t0 = Date.now();
  const { x, y } = makeData();
  const p = {
    c1w: param([6, 1, 5, 5], 25),
    c1b: param([6], 25),
    c2w: param([12, 6, 3, 3], 54),
    c2b: param([12], 54),
    fw: param([C, 12 * 4 * 4], 192),
    fb: param([C], 192),
  };
  const params = Object.values(p);
  const velocity = params.map((q) => zeros(q.shape));
  const net = (xb: Tensor): Tensor => {
    let h = F.maxPool2d(F.conv2d(xb, p.c1w, p.c1b, { padding: 2 }).relu(), 2); // [B,6,8,8]
    h = F.maxPool2d(F.conv2d(h, p.c2w, p.c2b, { padding: 1 }).relu(), 2); // [B,12,4,4]
    return F.linear(h.flatten(1), p.fw, p.fb);
  };
  const fullLoss = (): { loss: number; acc: number } =>
    tidy(() =>
      noGrad(() => {
        const logits = net(x);
        return { loss: F.crossEntropy(logits, y).item(), acc: logits.argmax(1).eq(y).float().mean().item() };
      }),
    );

  const lr = 0.05;
  const momentum = 0.9;
  const batch = 32;
  const maxEpochs = 40;
  const initial = fullLoss();
  let final = initial;
  let epochs = 0;
  let steps = 0;
  for (let epoch = 1; epoch <= maxEpochs; epoch++) {
    tidy(() => {
      const perm = randperm(N);
      for (let s = 0; s < N; s += batch) {
        tidy(() => {
          const idx = perm.narrow(0, s, batch);
          const loss = F.crossEntropy(net(x.indexSelect(0, idx)), y.indexSelect(0, idx));
          loss.backward();
          noGrad(() => {
            params.forEach((q, i) => {
              const v = velocity[i];
              v.mul_(momentum).add_(q.grad!); // v = m v + g
              q.sub_(v, lr); // w -= lr v
              q.zeroGrad();
            });
          });
        });
        steps++;
      }
    });
    epochs = epoch;
    final = fullLoss();
    if (final.loss < 0.01) break;
  }
  const ms = Date.now() - t0;
  const msg = `LeNet-style: loss ${initial.loss.toFixed(4)} -> ${final.loss.toFixed(5)}, accuracy ${(100 * initial.acc).toFixed(1)}% -> ${(100 * final.acc).toFixed(1)}% after ${epochs} epochs (${steps} steps) in ${ms} ms`;
  console.log(msg);
  t.diagnostic(msg);
  assert.ok(initial.loss > 1, `initial loss should be near ln 4 = 1.386, got ${initial.loss}`);
  assert.ok(final.loss < 0.05, `training loss after ${epochs} epochs: expected < 0.05, got ${final.loss}`);
  assert.equal(final.acc, 1, `training accuracy: expected 100%, got ${(100 * final.acc).toFixed(2)}%`);
  for (const [name, q] of Object.entries(p)) {
    const a = q.toFloat32Array();
    assert.ok(a.every(Number.isFinite), `parameter ${name} has non-finite values`);
  }
  dispose([x, y, params, velocity]);
});
