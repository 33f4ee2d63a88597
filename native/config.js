#!/usr/bin/env node
// Resolves where libtorch lives for binding.gyp. Debian's libtorch-dev is the default;
// set DFKD_LIBTORCH (or `npm config set dfkd_libtorch ...`) to the `torch` folder of a
// PyTorch installation (or any libtorch distribution with include/ and lib/) to build
// against it, e.g. a CUDA-enabled one (docs/gpu.md). The ABI flag is read from its
// share/cmake/Torch/TorchConfig.cmake; DFKD_CXX11_ABI=0|1 overrides it.
'use strict';
const fs = require('fs');
const path = require('path');

const root = process.env.DFKD_LIBTORCH || process.env.npm_config_dfkd_libtorch || '';

function debian() {
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return {
    include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
    libdir: `/usr/lib/${arch}`,
    cuda: false,
    abi: '1',
  };
}

function custom(dir) {
  if (!fs.existsSync(path.join(dir, 'include', 'ATen', 'ATen.h'))) {
    console.error(`DFKD_LIBTORCH=${dir}: no include/ATen/ATen.h there; point it at the folder holding include/ and lib/ (for PyTorch: python3 -c "import torch,os;print(os.path.dirname(torch.__file__))")`);
    process.exit(1);
  }
  const libdir = path.join(dir, 'lib');
  const cuda = fs.existsSync(path.join(libdir, 'libtorch_cuda.so'));
  return {
    include: [path.join(dir, 'include'), path.join(dir, 'include', 'torch', 'csrc', 'api', 'include')],
    libdir,
    cuda,
    abi: process.env.DFKD_CXX11_ABI || abiOf(dir) || '1',
  };
}

// The C++11 ABI flag libtorch was built with, as its CMake config records it
// (set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0|1")); undefined when the file is absent.
// PyTorch wheels before 2.7 (pip) use 0, most others 1; a mismatch fails at link or load time
// with undefined std::__cxx11 symbols.
function abiOf(dir) {
  try {
    const text = fs.readFileSync(path.join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), 'utf8');
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(text);
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

const cfg = root ? custom(path.resolve(root)) : debian();
const what = process.argv[2];
if (what === 'include') console.log(cfg.include.join(' '));
else if (what === 'libdir') console.log(cfg.libdir);
else if (what === 'libs') console.log(['-ltorch', '-ltorch_cpu', '-lc10'].concat(cfg.cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []).join(' '));
else if (what === 'ldflags') console.log(`-L${cfg.libdir} -Wl,-rpath,${cfg.libdir}` + (cfg.cuda ? ' -Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed' : ''));
else if (what === 'defines') console.log(`_GLIBCXX_USE_CXX11_ABI=${cfg.abi}` + (cfg.cuda ? ' DFKD_WITH_CUDA=1' : ''));
else { console.log(JSON.stringify(cfg)); }
