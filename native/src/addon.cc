// dfkd native binding: registers the functions of each part (as sharp's src/sharp.cc does).
//   registry.cc   tensor handles, memory settings and accounting      args.cc      argument conversion
//   creation.cc   factories and data transfer                         autograd.cc  metadata and autograd
//   runtime.cc    threads, RNG, CUDA, build info                      ops.cc       tensor ops
// The TypeScript layer (src/tensor) owns validation and the public API; src/tensor/binding.ts types
// this table and checks it when the addon loads.
#include "common.h"

namespace dfkd {

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  registerRegistry(env, exports);
  registerCreation(env, exports);
  registerAutograd(env, exports);
  registerRuntime(env, exports);
  registerOps(env, exports);
  return exports;
}

}  // namespace dfkd

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return dfkd::InitAll(env, exports); }
NODE_API_MODULE(dfkd_native, Init)
