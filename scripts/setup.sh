#!/usr/bin/env bash
# Installs everything dfkd needs on a fresh Debian 12 machine (run as root): libtorch and OpenBLAS,
# the Fashion-MNIST dataset, PyTorch, torchvision and onnx for Python (used only by the interop and
# ONNX-teacher tests and scripts/train-torchvision-teacher.py), redis-server (used
# only by the distributed-study test), then the npm
# dependencies, the native addon (built by npm's install step) and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    libtorch-dev libopenblas0-openmp dataset-fashion-mnist python3-torch python3-torchvision python3-onnx redis-server g++ make python3 >/dev/null
fi
# onnxruntime-node (a test dependency) ships its CPU library; its install script would try to download CUDA libraries.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npx tsc -p .
