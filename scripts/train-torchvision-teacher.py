#!/usr/bin/env python3
"""Train a torchvision classifier on Fashion-MNIST 32x32 in plain PyTorch and export it to ONNX.

This is the "bring your own teacher" record of issue 17: the model is torchvision's own
resnet18 / mobilenet_v2 (num_classes=10) with its first convolution replaced by a 1-channel one,
trained here and handed to dfkd only as an ONNX file (`dfkd import --onnx`).

Data preparation matches dfkd's Fashion-MNIST: the 28x28 images are zero-padded to 32x32 (2 pixels
each side), scaled to [0, 1] and normalised with mean 0.286 / std 0.353. The ONNX metadata carries
that normalisation. Test accuracy is measured once, after the fixed number of epochs (the test set
selects nothing).

Debian's python3-torch only loads in /usr/bin/python3:
  /usr/bin/python3 scripts/train-torchvision-teacher.py --arch resnet18 --epochs 1 --max-steps 300 --threads 1 --out runs/tv-resnet18
(scripts/onnx-teacher-record.sh runs it, then the dfkd import and distillation.)
Writes OUT/model.onnx and OUT/pytorch-record.json (accuracy, seed, wall time, command).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision

MEAN, STD = 0.286, 0.353


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(root, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))  # 28x28 -> 32x32 with zeros, as dfkd does
    x = (x.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def build(arch):
    if arch == "resnet18":
        m = torchvision.models.resnet18(num_classes=10)
        m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    elif arch == "mobilenet_v2":
        m = torchvision.models.mobilenet_v2(num_classes=10)
        m.features[0][0] = nn.Conv2d(1, 32, kernel_size=3, stride=2, padding=1, bias=False)
    else:
        raise SystemExit(f"--arch must be resnet18 or mobilenet_v2, got {arch!r}")
    return m


def accuracy(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many SGD steps (0: all epochs); the LR schedule spans them")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: on a shared, loaded machine OpenMP threads mostly spin)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    xtr, ytr = load_split(a.data, "train")
    xte, yte = load_split(a.data, "test")
    model = build(a.arch)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = a.epochs * ((len(xtr) + a.batch - 1) // a.batch)
    if a.max_steps > 0:
        steps = min(steps, a.max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(a.seed)
    log = open(os.path.join(a.out, "train-log.jsonl"), "w")
    step = 0
    for epoch in range(a.epochs):
        if step >= steps:
            break
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), a.batch):
            if step >= steps:
                break
            idx = perm[i:i + a.batch]
            xb, yb = xtr[idx], ytr[idx]
            # augmentation: random horizontal flip (clothes are left-right symmetric)
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 10 == 0:
                rec = {"epoch": epoch, "step": step, "of": steps, "loss": round(loss.item(), 4), "elapsed_s": round(time.time() - t0, 1)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
    train_s = time.time() - t0
    test_acc = accuracy(model, xte, yte)
    model.eval()
    onnx_path = os.path.join(a.out, "model.onnx")
    torch.save(model.state_dict(), os.path.join(a.out, "state_dict.pt"))
    # training=PRESERVE keeps the BatchNormalization nodes (in inference form, since the model is in
    # eval mode). The default (EVAL) folds every BatchNorm into the convolution before it, and the
    # BN-statistics prior of TA-DFKD would have nothing to match.
    torch.onnx.export(
        model, torch.zeros(1, 1, 32, 32), onnx_path, opset_version=13, training=torch.onnx.TrainingMode.PRESERVE,
        input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    import onnx  # python3-onnx: only to attach the normalisation metadata (the keys dfkd's own export writes)

    m = onnx.load(onnx_path)
    for k, v in {"mean": json.dumps([MEAN]), "std": json.dumps([STD]), "dataset": "fashion-mnist"}.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, onnx_path)
    record = {
        "arch": f"torchvision.models.{a.arch}(num_classes=10), first conv 1-channel",
        "dataset": "fashion-mnist (28x28 zero-padded to 32x32, mean 0.286, std 0.353)",
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "seed": a.seed, "epochs": a.epochs, "steps": steps, "train_images_seen": min(steps * a.batch, a.epochs * len(xtr)), "batch": a.batch, "lr": a.lr, "threads": a.threads,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "pytorch_test_accuracy": test_acc,
        "train_wall_s": round(train_s, 1), "total_wall_s": round(time.time() - t0, 1),
        "onnx": onnx_path, "opset": 13,
    }
    with open(os.path.join(a.out, "pytorch-record.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
