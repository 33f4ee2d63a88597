#!/usr/bin/env python3
"""One TA-DFKD iteration in plain PyTorch, timed by phase: the reference for `npm run bench:iteration`.

The same iteration as dfkd's (src/distill/methods/ta-dfkd.ts, method.ts, selection.ts, gmm.ts,
run.ts) with the same architectures (src/models), config and starting weights:

  student step x studentSteps:
    draw generator batches (no grad, generator in train mode) sized from the running selection rate
    (max(8, min(2B, ceil(want / max(rate, 0.05) * 1.1)))), score each with the teacher
    (-log max softmax), keep the GMM's clean component, until B samples (at most maxDraws draws);
    targets = the teacher logits of the kept samples (`--targets reuse`, the default) or a second
    teacher forward on them (`--targets recompute`); with tadfkd.replay in the config (the default),
    only the share `fresh` of the batch is drawn this way and the rest is sampled uniformly from a
    ring of earlier kept samples and their logits, which the fresh ones then join; with tadfkd.mixup
    (the default) the batch's last share mixed, with the teacher's logits on the mixes; L1 on logits; SGD step.
  generator step x generatorSteps:
    x = G(z); teacher forward with BN-statistics hooks (registered for this forward only);
    selection on its logits; L_G = w_adv (1 - JS(S(x_sel), T(x_sel))) + w_bn L_BN + w_tv TV(x) + w_l2 ||x||;
    backward through student, teacher and generator; Adam step.

The GMM is numpy (float64) with sklearn's settings (2 components, max_iter 10, tol 1e-2, reg_covar
5e-4), initialised like dfkd's gmm.ts (deterministic 1-D 2-means from min and max). No per-iteration
weight check (dfkd's trainer has one; the official code has none).

Usage (normally started by bench/iteration.ts):
  /usr/bin/python3 bench/torch_iteration.py --arch resnet8 --teacher-weights T.safetensors \
      --student-init S.safetensors --generator-init G.safetensors --config CFG.json \
      --warmup 3 --iterations 10 --threads 2 --seed 0
Prints one JSON object on stdout. Needs torch and numpy (Debian: python3-torch).
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PHASES = [
    'gen_forward_draws', 'teacher_select', 'selection', 'gmm_fit', 'draw_other', 'teacher_targets',
    'student_forward', 'student_backward', 'student_opt_step', 'student_step_other',
    'gstep_gen_forward', 'gstep_teacher_bn', 'gstep_select', 'gstep_student_forward', 'gstep_losses',
    'gstep_backward', 'gstep_adam', 'check_weights',
]
COUNTS = ['gen_nograd', 'gen_train', 'teacher_nograd', 'teacher_inputgrad', 'student_train', 'student_inputgrad']
MEAN, STD = 0.286, 0.353  # Fashion-MNIST (src/data/registry.ts)


# ------------------------------------------------------------------------------ models (src/models)
class LeNet5(nn.Module):
    def __init__(self, widths=(6, 16, 120, 84), c=1, k=10):
        super().__init__()
        c1, c2, c3, f1 = widths
        self.features = nn.Sequential(
            nn.Conv2d(c, c1, 5), nn.BatchNorm2d(c1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.BatchNorm2d(c2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 5), nn.BatchNorm2d(c3), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Linear(c3, f1), nn.ReLU(inplace=True), nn.Linear(f1, k))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)  # in place, as torchvision's BasicBlock
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResNet8(nn.Module):
    """He et al.'s CIFAR ResNet-8 (1 block per stage, widths 16/32/64, projection shortcuts)."""

    def __init__(self, c=1, k=10):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(BasicBlock(16, 16, 1))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2))
        self.linear = nn.Linear(64, k)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


class VGG5(nn.Module):
    def __init__(self, c=1, k=10):
        super().__init__()
        layers = []
        for v in [16, 'M', 32, 'M', 64, 'M', 128, 'M']:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, k)

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


class Generator(nn.Module):
    """The DAFL generator of src/models/generator.ts (Sigmoid output, no trailing BatchNorm)."""

    def __init__(self, nz, width, image_size, channels):
        super().__init__()
        self.s = image_size // 4
        self.width = width
        self.l1 = nn.Sequential(nn.Linear(nz, width * self.s * self.s))
        self.conv_blocks0 = nn.Sequential(nn.BatchNorm2d(width))
        self.conv_blocks1 = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width, 0.8), nn.LeakyReLU(0.2, inplace=True))
        self.conv_blocks2 = nn.Sequential(
            nn.Conv2d(width, width // 2, 3, 1, 1), nn.BatchNorm2d(width // 2, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width // 2, channels, 3, 1, 1), nn.Sigmoid())

    def forward(self, z):
        img = self.conv_blocks0(self.l1(z).view(z.shape[0], self.width, self.s, self.s))
        img = self.conv_blocks1(F.interpolate(img, scale_factor=2))
        return self.conv_blocks2(F.interpolate(img, scale_factor=2))


TEACHERS = {'lenet5': LeNet5, 'resnet8': ResNet8, 'vgg5': VGG5}
# Each teacher's last Linear layer (dfkd's featureLayer), whose output is the logits.
HEADS = {'lenet5': lambda m: m.classifier[2], 'resnet8': lambda m: m.linear, 'vgg5': lambda m: m.classifier}


def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        a, b = h['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt[h['dtype']]).reshape(h['shape']).copy())
    return out


def load_into(model, path):
    state = load_safetensors(path)
    model.load_state_dict(state, strict=True)
    return model


# ------------------------------------------------------------------- GMM selection (src/distill/gmm.ts)
def _kmeans_resp(x):
    lo, hi = x.min(), x.max()
    c0, c1 = lo, hi
    label = np.zeros(x.shape[0], dtype=bool)
    for it in range(1000):
        new = np.abs(x - c1) < np.abs(x - c0)
        changed = it == 0 or bool((new != label).any())
        label = new
        nc0 = x[~label].mean()
        nc1 = x[label].mean()
        if not changed and nc0 == c0 and nc1 == c1:
            break
        c0, c1 = nc0, nc1
    r1 = label.astype(np.float64)
    return 1.0 - r1, r1


def _mstep(x, r0, r1, reg):
    eps = 10 * np.finfo(np.float64).eps
    nk0, nk1 = r0.sum() + eps, r1.sum() + eps
    m0, m1 = (r0 @ x) / nk0, (r1 @ x) / nk1
    v0 = (r0 @ ((x - m0) ** 2)) / nk0 + reg
    v1 = (r1 @ ((x - m1) ** 2)) / nk1 + reg
    tot = nk0 + nk1
    return np.array([m0, m1]), np.array([v0, v1]), np.array([nk0 / tot, nk1 / tot])


def _log_prob(x, means, variances, weights):
    # [n, 2] weighted log densities
    return np.log(weights) - 0.5 * (math.log(2 * math.pi) + np.log(variances) + (x[:, None] - means) ** 2 / variances)


def select_clean(losses, threshold=0.5, max_iter=10, tol=1e-2, reg=5e-4, min_samples=4):
    """Indices of the samples in the low-loss component (dfkd's selectClean); and the kept rate."""
    n = losses.shape[0]
    finite = np.isfinite(losses)
    idx = np.nonzero(finite)[0]
    z = losses[idx]
    if idx.shape[0] < min_samples or not z.max() > z.min():
        return idx, (idx.shape[0] / n if n else 1.0)
    lo, hi = z.min(), z.max()
    z = np.clip((z - lo) / (hi - lo), 0.0, 1.0)
    r0, r1 = _kmeans_resp(z)
    means, variances, weights = _mstep(z, r0, r1, reg)
    lower = -np.inf
    for _ in range(max_iter):
        prev = lower
        lp = _log_prob(z, means, variances, weights)
        norm = np.logaddexp(lp[:, 0], lp[:, 1])
        lower = norm.mean()
        resp = np.exp(lp - norm[:, None])
        means, variances, weights = _mstep(z, resp[:, 0], resp[:, 1], reg)
        if abs(lower - prev) < tol:
            break
    low = 1 if means[1] < means[0] else 0
    lp = _log_prob(z, means, variances, weights)
    post = np.exp(lp[:, low] - np.logaddexp(lp[:, 0], lp[:, 1]))
    post = np.nan_to_num(post, nan=0.0)
    keep = idx[post > threshold]
    return keep, keep.shape[0] / n


# ---------------------------------------------------------------------------------- the iteration
class Ring:
    """tadfkd.replay with the ring policy: kept samples and their teacher logits, preallocated on first use."""

    def __init__(self, capacity, fresh):
        self.capacity, self.fresh = capacity, fresh
        self.x = self.t = None
        self.count = self.next = 0

    def add(self, x, t):
        if self.x is None:
            self.x = torch.empty((self.capacity,) + tuple(x.shape[1:]))
            self.t = torch.empty((self.capacity,) + tuple(t.shape[1:]))
        done, n = 0, x.shape[0]
        while done < n:
            k = min(n - done, self.capacity - self.next)
            self.x[self.next:self.next + k].copy_(x[done:done + k])
            self.t[self.next:self.next + k].copy_(t[done:done + k])
            done += k
            self.next = (self.next + k) % self.capacity
            self.count = min(self.capacity, self.count + k)

    def sample(self, m):
        idx = torch.randint(0, self.count, (m,))
        return self.x.index_select(0, idx), self.t.index_select(0, idx)


class Bench:
    def __init__(self, a, cfg):
        self.cfg = cfg
        self.B = cfg['batchSize']
        g = cfg['generator']
        self.nz = g['nz']
        self.teacher = load_into(TEACHERS[a.arch](), a.teacher_weights).eval()
        self.teacher.requires_grad_(False)
        self.head = HEADS[a.arch](self.teacher)
        self.student = load_into(LeNet5((3, 8, 60, 42)), a.student_init).train()
        self.gen = load_into(Generator(g['nz'], g['width'], 28, 1), a.generator_init).train()
        if a.memory_format == 'channels-last':  # dfkd's memoryFormat: teacher and generator weights in NHWC
            self.teacher.to(memory_format=torch.channels_last)
            self.gen.to(memory_format=torch.channels_last)
        s = cfg['student']
        self.opt_s = torch.optim.SGD(self.student.parameters(), lr=s['lr'], momentum=s['momentum'], weight_decay=s['weightDecay'])
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=g['lr'], betas=(g['beta1'], g['beta2']))
        self.bns = [m for m in self.teacher.modules() if isinstance(m, nn.BatchNorm2d)]
        self.reuse = a.targets == 'reuse'
        # dfkd's precision 'bf16-forwards': the no-grad forwards that make student batches under bfloat16
        # autocast, their results as float32 (src/distill/precision.ts).
        self.precision = a.precision or cfg.get('precision') or 'float32'
        self.expected_rate = 1.0
        self.rates = []
        self.t = dict.fromkeys(PHASES, 0.0)
        self.c = dict.fromkeys(COUNTS, 0)
        self.draws = 0
        r = (cfg.get('tadfkd') or {}).get('replay')
        if r and r.get('policy', 'ring') != 'ring':
            raise SystemExit(f"torch_iteration.py: tadfkd.replay.policy {r['policy']!r} is not implemented here (ring only)")
        self.replay = Ring(r['size'], r['fresh']) if r else None
        self.mixup = (cfg.get('tadfkd') or {}).get('mixup') or 0
        an = (cfg.get('tadfkd') or {}).get('anchors')
        if an and not a.anchors:
            raise SystemExit('torch_iteration.py: the config has tadfkd.anchors; pass the anchor images dfkd made with --anchors FILE')
        self.anchor_share = an['share'] if an else 0
        self.anchor_aug = an.get('augment', {'crop': 2, 'flip': True}) if an else False
        if an:
            self.anchors = load_safetensors(a.anchors)['anchors']
            with torch.no_grad():
                self.anchor_t = self.teacher(self.anchors)  # dfkd's AnchorSet keeps the teacher's logits, made once
            self.black = -MEAN / STD  # a black pixel, normalised: the crop's padding

    def fwd(self, f):
        """f() (a no-grad forward that makes a student batch) in the run's precision, as float32."""
        if self.precision != 'bf16-forwards':
            return f()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return f().float()

    def logits(self, x):
        """The teacher's logits for the student, as dfkd's teacherLogitsIn: with bf16-forwards the teacher
        under autocast up to its last Linear, whose input is taken to float32 and the layer applied in float32."""
        if self.precision != 'bf16-forwards':
            return self.teacher(x)
        feats = []
        h = self.head.register_forward_hook(lambda _m, inp, _out: feats.append(inp[0]))
        try:
            with torch.autocast('cpu', dtype=torch.bfloat16):
                self.teacher(x)
        finally:
            h.remove()
        return F.linear(feats[0].float(), self.head.weight, self.head.bias)

    def _tick(self, phase, t0):
        t1 = time.perf_counter()
        self.t[phase] += t1 - t0
        return t1

    def generate(self, n):
        x01 = F.pad(self.gen(torch.randn(n, self.nz)), (2, 2, 2, 2))
        return x01, (x01 - MEAN) / STD

    def select(self, logits):
        with torch.no_grad():
            scores = (-logits.detach().log_softmax(1).max(1)[0]).double().numpy()
        t0 = time.perf_counter()
        keep, rate = select_clean(scores, self.cfg['selection']['threshold'])
        gmm = time.perf_counter() - t0
        self.rates.append(rate)
        return torch.from_numpy(keep), rate, gmm

    def student_batch(self):
        """The student's batch as dfkd's TA-DFKD studentBatch: with tadfkd.anchors a share of anchor rows
        first (with_anchors), then with tadfkd.replay a share `fresh` drawn clean and the rest sampled
        uniformly from a ring of earlier kept samples and their logits; mixup on the batch's last rows."""
        n = self.B
        n_anchor = min(n - 1, max(1, math.floor(n * self.anchor_share + 0.5))) if self.anchor_share else 0
        rest = n - n_anchor
        if self.replay is None:
            x, t, draws = self.draw_clean(rest)
            if t is None:
                return x, t, draws
            return self.mix_tail(*self.with_anchors(x, t, n_anchor)) + (draws,)
        n_fresh = min(rest, max(1, math.floor(n * self.replay.fresh + 0.5)))  # JavaScript's Math.round
        from_buffer = rest - n_fresh if self.replay.count >= rest - n_fresh else 0
        x, t, draws = self.draw_clean(n_fresh if from_buffer > 0 else rest)
        if t is None:
            return x, t, draws
        t0 = time.perf_counter()
        with torch.no_grad():
            fresh = (x, t)
            if from_buffer > 0:
                old = self.replay.sample(from_buffer)
                x, t = torch.cat([x, old[0]], 0), torch.cat([t, old[1]], 0)
        self._tick('draw_other', t0)
        x, t = self.with_anchors(x, t, n_anchor)
        with torch.no_grad():
            self.replay.add(*fresh)  # after the replayed rows are drawn, as dfkd
        return self.mix_tail(x, t) + (draws,)

    def with_anchors(self, x, t, m):
        """tadfkd.anchors as dfkd's anchorRows: m anchors drawn with replacement, with anchors.augment a
        crop (black padding, one offset per row) + flip view and the teacher's logits on it, put first."""
        if not m:
            return x, t
        t0 = time.perf_counter()
        with torch.no_grad():
            idx = torch.randint(0, self.anchors.shape[0], (m,))
            xa, ta = self.anchors.index_select(0, idx), self.anchor_t.index_select(0, idx)
            aug = self.anchor_aug
            if aug:
                p = aug.get('crop', 0)
                if p:
                    h, w = xa.shape[2], xa.shape[3]
                    padded = F.pad(xa - self.black, (p, p, p, p)) + self.black
                    off = torch.randint(0, 2 * p + 1, (m, 2))
                    xa = torch.cat([padded[i:i + 1, :, off[i, 0]:off[i, 0] + h, off[i, 1]:off[i, 1] + w] for i in range(m)], 0)
                if aug.get('flip'):
                    xa = torch.where(torch.randint(0, 2, (m, 1, 1, 1)) == 1, xa.flip(3), xa)
            t0 = self._tick('draw_other', t0)
            if aug and self.reuse:
                ta = self.logits(xa)
                self.c['teacher_nograd'] += m
                self._tick('teacher_select', t0)
            return torch.cat([xa, x], 0), torch.cat([ta, t], 0)

    def mix_tail(self, x, t):
        """tadfkd.mixup as dfkd's mixupTail: the last m rows become lam * x_i + (1 - lam) * x_j (x_j a random
        row, lam uniform per row) and, when the targets are reused, their logits the teacher's on the mixes."""
        if not self.mixup:
            return x, t
        t0 = time.perf_counter()
        with torch.no_grad():
            n = x.shape[0]
            m = max(1, math.floor(n * self.mixup + 0.5))
            partner = x.index_select(0, torch.randint(0, n, (m,)))
            lam = torch.rand(m, 1, 1, 1)
            mixed = x[n - m:] * lam + partner * (1 - lam)
            x = mixed if m == n else torch.cat([x[:n - m], mixed], 0)
            t0 = self._tick('draw_other', t0)
            if self.reuse:
                tm = self.logits(mixed)
                self.c['teacher_nograd'] += m
                t = tm if m == n else torch.cat([t[:n - m], tm], 0)
                self._tick('teacher_select', t0)
        return x, t

    def draw_clean(self, n):
        sel = self.cfg['selection']
        xs, ts, have, draws = [], [], 0, 0
        with torch.no_grad():
            while have < n and draws < sel['maxDraws']:
                want = n - have
                size = max(8, min(2 * n, math.ceil(want / max(self.expected_rate, 0.05) * 1.1)))
                t0 = time.perf_counter()
                x = self.fwd(lambda: self.generate(size)[1])
                t0 = self._tick('gen_forward_draws', t0)
                t = self.logits(x)
                t0 = self._tick('teacher_select', t0)
                idx, rate, gmm = self.select(t)
                self.t['gmm_fit'] += gmm
                t0 = self._tick('selection', t0)
                self.t['selection'] -= gmm
                self.c['gen_nograd'] += size
                self.c['teacher_nograd'] += size
                self.expected_rate = 0.8 * self.expected_rate + 0.2 * rate
                draws += 1
                if idx.shape[0] == 0:
                    continue
                xs.append(x.index_select(0, idx))
                ts.append(t.index_select(0, idx))
                have += idx.shape[0]
                self._tick('draw_other', t0)
            t0 = time.perf_counter()
            if have == 0:
                x = self.fwd(lambda: self.generate(n)[1])
                self.c['gen_nograd'] += n
                return x, None, draws
            x = xs[0] if len(xs) == 1 else torch.cat(xs, 0)
            t = ts[0] if len(ts) == 1 else torch.cat(ts, 0)
            if have > n:
                x, t = x[:n], t[:n]
            self._tick('draw_other', t0)
        return x, t, draws

    def student_step(self):
        t0 = time.perf_counter()
        self.student.train()
        self._tick('student_step_other', t0)
        x, t, draws = self.student_batch()
        self.draws += draws
        t0 = time.perf_counter()
        if t is None or not self.reuse:
            with torch.no_grad():
                t = self.logits(x)
            self.c['teacher_nograd'] += x.shape[0]
            t0 = self._tick('teacher_targets', t0)
        loss = F.l1_loss(self.student(x), t)
        self.c['student_train'] += x.shape[0]
        t0 = self._tick('student_forward', t0)
        self.opt_s.zero_grad(set_to_none=True)
        loss.backward()
        t0 = self._tick('student_backward', t0)
        self.opt_s.step()
        self._tick('student_opt_step', t0)

    def generator_step(self):
        w = self.cfg['weights']
        t0 = time.perf_counter()
        self.student.eval()
        self.student.requires_grad_(False)
        t0 = self._tick('gstep_backward', t0)
        x01, x = self.generate(self.B)
        self.c['gen_train'] += self.B
        t0 = self._tick('gstep_gen_forward', t0)
        terms = []

        def hook(m, inp, _out):
            v = inp[0]
            terms.append(torch.norm(v.mean([0, 2, 3]) - m.running_mean, 2) + torch.norm(v.var([0, 2, 3], unbiased=False) - m.running_var, 2))

        handles = [bn.register_forward_hook(hook) for bn in self.bns]
        t = self.teacher(x)
        for h in handles:
            h.remove()
        bn_loss = sum(terms[1:], terms[0])
        self.c['teacher_inputgrad'] += self.B
        t0 = self._tick('gstep_teacher_bn', t0)
        idx, _, _ = self.select(t)
        t0 = self._tick('gstep_select', t0)
        xs, ts = (x.index_select(0, idx), t.index_select(0, idx)) if idx.shape[0] > 0 else (x, t)
        t0 = self._tick('gstep_losses', t0)
        s = self.student(xs)
        self.c['student_inputgrad'] += xs.shape[0]
        t0 = self._tick('gstep_student_forward', t0)
        loss = js_adversarial(s, ts, self.cfg['advTemperature']) * w['adv'] + bn_loss * w['bn']
        loss = loss + total_variation(x) * w['tv'] + torch.norm(x) * w['l2']
        t0 = self._tick('gstep_losses', t0)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        loss.item()
        t0 = self._tick('gstep_backward', t0)
        self.opt_g.step()
        t0 = self._tick('gstep_adam', t0)
        self.student.requires_grad_(True)
        self.student.train()
        self._tick('gstep_backward', t0)

    def iteration(self):
        for _ in range(self.cfg['studentSteps']):
            self.student_step()
        for _ in range(self.cfg['generatorSteps']):
            self.generator_step()

    def reset(self):
        self.t = dict.fromkeys(PHASES, 0.0)
        self.c = dict.fromkeys(COUNTS, 0)
        self.draws = 0
        self.rates = []


def js_adversarial(s, t, temp):
    p = F.softmax(s / temp, 1)
    q = F.softmax(t / temp, 1)
    m = ((p + q) * 0.5).clamp(0.01, 0.99)
    js = 0.5 * F.kl_div(p.clamp(0.01, 0.99).log(), m, reduction='mean') + 0.5 * F.kl_div(q.clamp(0.01, 0.99).log(), m, reduction='mean')
    return 1 - js.clamp(0, 1)


def total_variation(x):
    d1 = x[:, :, :, :-1] - x[:, :, :, 1:]
    d2 = x[:, :, :-1, :] - x[:, :, 1:, :]
    d3 = x[:, :, 1:, :-1] - x[:, :, :-1, 1:]
    d4 = x[:, :, :-1, :-1] - x[:, :, 1:, 1:]
    return torch.norm(d1) + torch.norm(d2) + torch.norm(d3) + torch.norm(d4)


def sgemm_peak(n=1024, runs=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = math.inf
    for i in range(runs + 2):
        t0 = time.perf_counter()
        torch.mm(a, b)
        el = time.perf_counter() - t0
        if i >= 2:
            best = min(best, el)
    return {'n': n, 'gflops': 2 * n ** 3 / best / 1e9, 'bestMs': best * 1000}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', required=True, choices=sorted(TEACHERS))
    ap.add_argument('--teacher-weights', required=True)
    ap.add_argument('--student-init', required=True)
    ap.add_argument('--generator-init', required=True)
    ap.add_argument('--config', required=True, help='the resolved dfkd distill config (JSON file)')
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--iterations', type=int, default=10)
    ap.add_argument('--threads', type=int, default=0, help='intra-op threads (0: leave torch default)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--targets', choices=['reuse', 'recompute'], default='reuse')
    ap.add_argument('--memory-format', choices=['contiguous', 'channels-last'], default='contiguous')
    ap.add_argument('--precision', choices=['float32', 'bf16-forwards'], help="no-grad forwards' precision (default: the config's precision, else float32)")
    ap.add_argument('--no-sgemm', action='store_true')
    ap.add_argument('--anchors', help="tadfkd.anchors: the anchor images dfkd made (safetensors, key 'anchors')")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    with open(a.config) as f:
        cfg = json.load(f)
    torch.manual_seed(a.seed)
    b = Bench(a, cfg)
    for _ in range(a.warmup):
        b.iteration()
    times, phases, counts, draws, rates = [], dict.fromkeys(PHASES, 0.0), dict.fromkeys(COUNTS, 0), 0, []
    for _ in range(a.iterations):
        b.reset()
        t0 = time.perf_counter()
        b.iteration()
        times.append(time.perf_counter() - t0)
        for k in PHASES:
            phases[k] += b.t[k]
        for k in COUNTS:
            counts[k] += b.c[k]
        draws += b.draws
        rates.extend(b.rates)
    n = a.iterations
    out = {
        'iterationSec': times,
        'medianSec': float(np.median(times)),
        'phases': {k: v / n for k, v in phases.items()},
        'samples': {k: v / n for k, v in counts.items()},
        'drawsPerStudentStep': draws / (n * cfg['studentSteps']),
        'selectionRate': float(np.mean(rates)) if rates else float('nan'),
        'targets': a.targets,
        'memoryFormat': a.memory_format,
        'precision': b.precision,
        'threads': torch.get_num_threads(),
        'torch': torch.__version__,
        'numpy': np.__version__,
        'mkldnn': torch.backends.mkldnn.is_available(),
    }
    if not a.no_sgemm:
        out['sgemm'] = sgemm_peak()
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
