// Runtime settings: threads, seeding and RNG state, CUDA queries, cuDNN flags, build information.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/api/include/torch/cuda.h>
#include <torch/csrc/api/include/torch/version.h>

namespace dfkd {

// ---------------------------------------------------------------- runtime

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setNumThreads", {
    int64_t n = argInt(info, 0, "setNumThreads");
    if (n < 1) throw std::invalid_argument("setNumThreads: thread count must be at least 1, got " + std::to_string(n));
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  })
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  DFKD_GUARD("manualSeed", {
    double s = argNum(info, 0, "manualSeed");
    if (s < 0 || s != static_cast<double>(static_cast<uint64_t>(s))) throw std::invalid_argument("manualSeed: seed must be a non-negative integer");
    at::manual_seed(static_cast<uint64_t>(s));
    return info.Env().Undefined();
  })
}

// The default generator of a device: the CPU one, or a CUDA device's (seeded by manualSeed too).
static at::Generator defaultGeneratorFor(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i < info.Length() && info[i].IsString()) {
    at::Device d = parseDevice(argStr(info, i, op));
    if (d.is_cuda()) {
      if (!d.has_index()) d = at::Device(at::kCUDA, 0);
      return at::globalContext().defaultGenerator(d);
    }
  }
  return at::detail::getDefaultCPUGenerator();
}

// getRngState(device?) -> uint8 CPU tensor of the default generator's state (CPU unless a CUDA
// device is named); setRngState(t, device?).
static Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  DFKD_GUARD("getRngState", {
    auto gen = defaultGeneratorFor(info, 0, "getRngState");
    std::lock_guard<std::mutex> lock(gen.mutex());
    return TensorHandle::Wrap(info.Env(), at::Tensor(gen.get_state()));
  })
}

static Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setRngState", {
    at::Tensor t = argTensor(info, 0, "setRngState").to(at::kCPU);
    auto gen = defaultGeneratorFor(info, 1, "setRngState");
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(t);
    return info.Env().Undefined();
  })
}

// ---------------------------------------------------------------- CUDA (all callable on a CPU-only build)

static Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  DFKD_GUARD("cudaAvailable", { return Napi::Boolean::New(info.Env(), torch::cuda::is_available()); })
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  DFKD_GUARD("cudaDeviceCount", { return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count())); })
}

// synchronize(device?): waits for every queued kernel on a CUDA device (for timing); a no-op
// when no CUDA device is visible or the device is the CPU.
static Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  DFKD_GUARD("synchronize", {
    if (!torch::cuda::is_available()) return info.Env().Undefined();
    int64_t index = -1;
    if (info.Length() > 0 && info[0].IsString()) {
      at::Device d = parseDevice(argStr(info, 0, "synchronize"));
      if (!d.is_cuda()) return info.Env().Undefined();
      if (d.has_index()) index = d.index();
    }
    torch::cuda::synchronize(index);
    return info.Env().Undefined();
  })
}

// setCudnn(benchmark, deterministic): cuDNN autotuning and deterministic algorithms (no effect
// without cuDNN). Defaults are libtorch's: benchmark off, deterministic off.
static Napi::Value SetCudnn(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setCudnn", {
    at::globalContext().setBenchmarkCuDNN(argBool(info, 0, "setCudnn"));
    at::globalContext().setDeterministicCuDNN(argBool(info, 1, "setCudnn"));
    return info.Env().Undefined();
  })
}

static Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("torchVersion", Napi::String::New(info.Env(), TORCH_VERSION));
  o.Set("cuda", Napi::Boolean::New(info.Env(), torch::cuda::is_available()));
  o.Set("cudaDeviceCount", Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count())));
  o.Set("cudnn", Napi::Boolean::New(info.Env(), torch::cuda::cudnn_is_available()));
#ifdef DFKD_WITH_CUDA
  o.Set("builtWithCuda", Napi::Boolean::New(info.Env(), true));
#else
  o.Set("builtWithCuda", Napi::Boolean::New(info.Env(), false));
#endif
  o.Set("numThreads", Napi::Number::New(info.Env(), at::get_num_threads()));
  o.Set("mallocTuned", Napi::Boolean::New(info.Env(), mallocTuned()));
  o.Set("parallelInfo", Napi::String::New(info.Env(), at::get_parallel_info()));
  o.Set("config", Napi::String::New(info.Env(), at::show_config()));
  return o;
}

void registerRuntime(Napi::Env env, Napi::Object exports) {
#define REG(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  REG("setNumThreads", SetNumThreads);
  REG("getNumThreads", GetNumThreads);
  REG("manualSeed", ManualSeed);
  REG("getRngState", GetRngState);
  REG("setRngState", SetRngState);
  REG("cudaAvailable", CudaAvailable);
  REG("cudaDeviceCount", CudaDeviceCount);
  REG("synchronize", Synchronize);
  REG("setCudnn", SetCudnn);
  REG("info", Info);
#undef REG
}

}  // namespace dfkd
