// dfkd native binding: tensor handles, creation, data transfer, autograd and runtime settings.
// Ops live in ops.cc. The TypeScript layer (src/tensor) owns validation and the public API.
#include "common.h"
#include "cpu_allocator.h"

#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/api/include/torch/cuda.h>
#include <torch/csrc/api/include/torch/version.h>

#include <ATen/ScalarOps.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <mutex>
#include <unordered_map>
#include <sstream>

namespace dfkd {

// Freed tensor memory is kept in the process heap instead of being returned to the OS. On VMs
// where a fresh page fault is expensive (memory ballooning / free-page reporting, as on this
// project's machines) returning and re-faulting every activation made elementwise ops 10-100x
// slower; PyTorch users get the same effect from jemalloc or MALLOC_* settings. RSS then stays at
// the peak working set, which is flat in a training loop. DFKD_MALLOC=system keeps glibc defaults.
static bool tuneMalloc() {
  const char* mode = std::getenv("DFKD_MALLOC");
  if (mode && std::string(mode) == "system") return false;
  // Blocks below 32 MiB (glibc's maximum mmap threshold) come from the heap and are reused there;
  // larger ones are mmapped and returned at once, so they cannot fragment the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);         // keep up to 512 MiB of freed heap for reuse
  mallopt(M_TOP_PAD, 16 << 20);                 // grow the heap in 16 MiB steps
  return true;
}
static const bool kMallocTuned = tuneMalloc();

// Tensor buffers go through dfkd's caching allocator (native/src/cpu_allocator.h), installed when the
// addon loads, before it creates any tensor.
static CachingCPUAllocator* const kCpuCache = CachingCPUAllocator::install();

// External-memory accounting. V8 is told about tensor memory held by JS handles so that the
// garbage collector (the safety net for handles nobody disposed) feels their weight. But V8 starts a
// full mark-compact whenever external memory grows by 64 MB over its level at the last one, and a
// training step under tidy() allocates and disposes far more than that, so reporting every handle
// cost one full GC per step (~5-10% of a ResNet-8 step; bench/engine.ts). Only the bytes held by
// live handles beyond a slack (DFKD_GC_SLACK_MB, default 1024) are reported: the per-step working
// set of well-behaved code stays invisible, a leak still builds up GC pressure.
static int64_t gLiveBytes = 0;      // bytes of the tensors held by live handles (main thread only)
static int64_t gReportedBytes = 0;  // what V8 has been told
static const int64_t kGcSlackBytes = [] {
  const char* env = std::getenv("DFKD_GC_SLACK_MB");
  return (env && *env ? static_cast<int64_t>(std::strtoll(env, nullptr, 10)) : int64_t(1024)) << 20;
}();

static void syncExternalMemory(Napi::Env env) {
  int64_t want = gLiveBytes > kGcSlackBytes ? gLiveBytes - kGcSlackBytes : 0;
  if (want != gReportedBytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, want - gReportedBytes);
    gReportedBytes = want;
  }
}

static int64_t tensorBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

namespace {
struct Entry {
  at::Tensor t;
  int64_t bytes;
};
constexpr double kHandleBase = 1099511627776.0;  // 2^40: ids are far above any dimension or index
std::unordered_map<uint64_t, Entry> gTensors;
uint64_t gNextId = 1;
}  // namespace

Napi::Value TensorHandle::Wrap(Napi::Env env, at::Tensor t) {
  const uint64_t id = gNextId++;
  const int64_t bytes = tensorBytes(t);
  gTensors.emplace(id, Entry{std::move(t), bytes});
  gLiveBytes += bytes;
  syncExternalMemory(env);
  return Napi::Number::New(env, kHandleBase + static_cast<double>(id));
}

bool TensorHandle::IsHandle(const Napi::Value& v) {
  return v.IsNumber() && v.As<Napi::Number>().DoubleValue() >= kHandleBase;
}

static uint64_t idOf(const Napi::Value& v) {
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue() - kHandleBase);
}

at::Tensor& TensorHandle::Get(Napi::Env env, const Napi::Value& v, const char* what) {
  auto it = gTensors.find(idOf(v));
  if (it == gTensors.end()) throw Napi::Error::New(env, std::string(what) + ": tensor has been disposed");
  return it->second.t;
}

bool TensorHandle::Release(Napi::Env env, const Napi::Value& v) {
  auto it = gTensors.find(idOf(v));
  if (it == gTensors.end()) return false;
  gLiveBytes -= it->second.bytes;
  gTensors.erase(it);
  syncExternalMemory(env);
  return true;
}

size_t TensorHandle::LiveCount() { return gTensors.size(); }
int64_t TensorHandle::LiveBytes() { return gLiveBytes; }

// dispose(handle): frees the tensor now; returns false when it was already disposed.
static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !TensorHandle::IsHandle(info[0])) throw Napi::TypeError::New(info.Env(), "dispose: argument 0 must be a tensor handle");
  return Napi::Boolean::New(info.Env(), TensorHandle::Release(info.Env(), info[0]));
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !TensorHandle::IsHandle(info[0])) throw Napi::TypeError::New(info.Env(), "isDisposed: argument 0 must be a tensor handle");
  return Napi::Boolean::New(info.Env(), gTensors.find(idOf(info[0])) == gTensors.end());
}

// memoryStats() -> { liveTensors, liveBytes, cpuCache }: what the registry holds right now, and the
// CPU allocator's cache (null when DFKD_MALLOC=system / DFKD_CPU_CACHE_MB=0 turned it off).
static Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("liveTensors", Napi::Number::New(env, static_cast<double>(TensorHandle::LiveCount())));
  o.Set("liveBytes", Napi::Number::New(env, static_cast<double>(TensorHandle::LiveBytes())));
  if (kCpuCache) {
    CpuCacheStats s = kCpuCache->stats();
    auto c = Napi::Object::New(env);
    c.Set("capBytes", Napi::Number::New(env, static_cast<double>(s.capBytes)));
    c.Set("idleBytes", Napi::Number::New(env, static_cast<double>(s.idleBytes)));
    c.Set("liveBytes", Napi::Number::New(env, static_cast<double>(s.liveBytes)));
    c.Set("hits", Napi::Number::New(env, static_cast<double>(s.hits)));
    c.Set("misses", Napi::Number::New(env, static_cast<double>(s.misses)));
    c.Set("released", Napi::Number::New(env, static_cast<double>(s.released)));
    o.Set("cpuCache", c);
  } else {
    o.Set("cpuCache", env.Null());
  }
  return o;
}

// emptyCpuCache(): returns every idle cached buffer to the OS.
static Napi::Value EmptyCpuCache(const Napi::CallbackInfo& info) {
  if (kCpuCache) kCpuCache->emptyCache();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- argument helpers

static std::string argName(size_t i) { return "argument " + std::to_string(i); }

at::Tensor& argTensor(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !TensorHandle::IsHandle(info[i])) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a tensor");
  }
  return TensorHandle::Get(info.Env(), info[i], op);
}

c10::optional<at::Tensor> argOptTensor(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return argTensor(info, i, op);
}

std::vector<at::Tensor> argTensorList(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of tensors");
  }
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!TensorHandle::IsHandle(v)) {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": element " + std::to_string(k) + " of " + argName(i) + " is not a tensor");
    }
    out.push_back(TensorHandle::Get(info.Env(), v, op));
  }
  return out;
}

std::vector<int64_t> argInts(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of integers");
  }
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must hold integers, got " + std::to_string(d));
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

int64_t argInt(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an integer");
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double argNum(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

c10::optional<double> argOptNum(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return argNum(info, i, op);
}

bool argBool(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

std::string argStr(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

at::ScalarType parseDtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  throw std::invalid_argument("unknown dtype '" + s + "' (expected float32, float64, int64, int32, uint8 or bool)");
}

std::string dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

at::Device parseDevice(const std::string& s) {
  at::Device d(s);
  if (d.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("device '" + s + "' requested but this dfkd build has no CUDA (built against a CPU-only libtorch, or no GPU is visible); rebuild with DFKD_LIBTORCH pointing at a CUDA-enabled libtorch");
  }
  if (d.is_cuda() && d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count())) {
    throw std::invalid_argument("device '" + s + "' requested but only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) are visible");
  }
  return d;
}

at::Tensor argTensorOrScalar(const Napi::CallbackInfo& info, size_t i, const char* op, const at::Tensor& like) {
  // Scalars arrive boxed as a one-element array ([2.5]): a bare number is a tensor handle.
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array box = info[i].As<Napi::Array>();
    Napi::Value inner = box.Length() == 1 ? box.Get(0u) : Napi::Value();
    if (box.Length() != 1 || !inner.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": argument " + std::to_string(i) + " must be a tensor or a number");
    // A "wrapped number" takes part in type promotion like a Python scalar: float32 * 2.5 stays
    // float32, but int64 * 0.5 becomes float (a 0-d tensor of `like`'s dtype truncated 0.5 to 0).
    double v = inner.As<Napi::Number>().DoubleValue();
    bool integral = std::isfinite(v) && v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0;
    c10::Scalar s = integral ? c10::Scalar(static_cast<int64_t>(v)) : c10::Scalar(v);
    return at::native::wrapped_scalar_tensor(s, like.device());
  }
  return argTensor(info, i, op);
}

static std::string shapeString(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t k = 0; k < s.size(); ++k) o << (k ? "," : "") << s[k];
  o << "]";
  return o.str();
}

std::string describeFailure(const Napi::CallbackInfo& info, const char* op, const std::string& what) {
  std::ostringstream o;
  o << op << ": " << what;
  std::vector<std::string> shapes;
  for (size_t i = 0; i < info.Length(); ++i) {
    if (TensorHandle::IsHandle(info[i])) {
      auto it = gTensors.find(idOf(info[i]));
      if (it == gTensors.end()) {
        shapes.push_back("<disposed>");
        continue;
      }
      const at::Tensor& t = it->second.t;
      // The device is named only off the CPU, so CPU messages stay as they were.
      shapes.push_back(shapeString(t.sizes()) + " " + dtypeName(t.scalar_type()) + (t.device().is_cpu() ? "" : " " + t.device().str()));
    }
  }
  if (!shapes.empty()) {
    o << " (input shapes: ";
    for (size_t k = 0; k < shapes.size(); ++k) o << (k ? ", " : "") << shapes[k];
    o << ")";
  }
  return o.str();
}

// ---------------------------------------------------------------- creation and data transfer

static at::TensorOptions optionsFrom(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t deviceIdx, const char* op) {
  at::TensorOptions o = at::TensorOptions().dtype(at::kFloat);
  if (dtypeIdx < info.Length() && info[dtypeIdx].IsString()) o = o.dtype(parseDtype(argStr(info, dtypeIdx, op)));
  if (deviceIdx < info.Length() && info[deviceIdx].IsString()) o = o.device(parseDevice(argStr(info, deviceIdx, op)));
  return o;
}

// fromArray(typedArray, shape, dtype?, device?)
static Napi::Value FromArray(const Napi::CallbackInfo& info) {
  DFKD_GUARD("fromArray", {
    if (info.Length() < 2 || !info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "fromArray: argument 0 must be a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    auto shape = argInts(info, 1, "fromArray");
    at::ScalarType src;
    switch (ta.TypedArrayType()) {
      case napi_float32_array: src = at::kFloat; break;
      case napi_float64_array: src = at::kDouble; break;
      case napi_int32_array: src = at::kInt; break;
      case napi_bigint64_array: src = at::kLong; break;
      case napi_uint8_array: src = at::kByte; break;
      default: throw Napi::TypeError::New(info.Env(), "fromArray: unsupported typed array (use Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array)");
    }
    int64_t n = 1;
    for (auto d : shape) {
      if (d < 0) throw Napi::RangeError::New(info.Env(), "fromArray: negative dimension in shape");
      n *= d;
    }
    if (n != static_cast<int64_t>(ta.ElementLength())) {
      throw Napi::RangeError::New(info.Env(), "fromArray: shape " + shapeString(shape) + " holds " + std::to_string(n) +
                                                  " elements but the array has " + std::to_string(ta.ElementLength()));
    }
    auto buf = ta.ArrayBuffer();
    uint8_t* ptr = static_cast<uint8_t*>(buf.Data()) + ta.ByteOffset();
    // The JS data is copied into a CPU tensor first (data_ptr of a CPU tensor), then converted and
    // moved to the target device; never memcpy into device memory.
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(src).device(at::kCPU));
    if (n > 0) std::memcpy(t.data_ptr(), ptr, static_cast<size_t>(n) * t.element_size());
    at::TensorOptions target = optionsFrom(info, 2, 3, "fromArray");
    if (info.Length() > 2 && info[2].IsString()) t = t.to(target.dtype().toScalarType());
    if (info.Length() > 3 && info[3].IsString()) t = t.to(target.device());
    return TensorHandle::Wrap(info.Env(), t);
  })
}

// toArray(t): a copy of the data (copied to the CPU first, so any device works) as a typed array (float32 -> Float32Array, float64 -> Float64Array,
// int32 -> Int32Array, int64 -> BigInt64Array, uint8/bool -> Uint8Array).
static Napi::Value ToArray(const Napi::CallbackInfo& info) {
  DFKD_GUARD("toArray", {
    at::Tensor t = argTensor(info, 0, "toArray").detach().to(at::kCPU).contiguous();
    if (t.scalar_type() == at::kBool) t = t.to(at::kByte);
    size_t n = static_cast<size_t>(t.numel());
    size_t bytes = n * t.element_size();
    auto ab = Napi::ArrayBuffer::New(info.Env(), bytes);
    if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
    switch (t.scalar_type()) {
      case at::kFloat: return Napi::Float32Array::New(info.Env(), n, ab, 0);
      case at::kDouble: return Napi::Float64Array::New(info.Env(), n, ab, 0);
      case at::kInt: return Napi::Int32Array::New(info.Env(), n, ab, 0);
      case at::kLong: return Napi::BigInt64Array::New(info.Env(), n, ab, 0);
      case at::kByte: return Napi::Uint8Array::New(info.Env(), n, ab, 0);
      default: throw std::invalid_argument("toArray: unsupported dtype " + dtypeName(t.scalar_type()));
    }
  })
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  DFKD_GUARD("item", {
    at::Tensor& t = argTensor(info, 0, "item");
    if (t.numel() != 1) throw std::invalid_argument("item: tensor has " + std::to_string(t.numel()) + " elements, expected exactly 1");
    return Napi::Number::New(info.Env(), t.item().toDouble());
  })
}

// zeros/ones/empty/rand/randn(shape, dtype?, device?)
#define DFKD_FACTORY(NAME, FN)                                                              \
  static Napi::Value NAME(const Napi::CallbackInfo& info) {                                \
    DFKD_GUARD(#FN, {                                                                       \
      auto shape = argInts(info, 0, #FN);                                                   \
      return TensorHandle::Wrap(info.Env(), at::FN(shape, optionsFrom(info, 1, 2, #FN)));   \
    })                                                                                      \
  }
DFKD_FACTORY(Zeros, zeros)
DFKD_FACTORY(Ones, ones)
DFKD_FACTORY(Empty, empty)
DFKD_FACTORY(Rand, rand)
DFKD_FACTORY(Randn, randn)

// full(shape, value, dtype?, device?)
static Napi::Value Full(const Napi::CallbackInfo& info) {
  DFKD_GUARD("full", {
    auto shape = argInts(info, 0, "full");
    double v = argNum(info, 1, "full");
    return TensorHandle::Wrap(info.Env(), at::full(shape, v, optionsFrom(info, 2, 3, "full")));
  })
}

// arange(start, end, step, dtype?, device?)
static Napi::Value Arange(const Napi::CallbackInfo& info) {
  DFKD_GUARD("arange", {
    double a = argNum(info, 0, "arange"), b = argNum(info, 1, "arange"), s = argNum(info, 2, "arange");
    return TensorHandle::Wrap(info.Env(), at::arange(a, b, s, optionsFrom(info, 3, 4, "arange")));
  })
}

// randint(low, high, shape, device?) -> int64
static Napi::Value Randint(const Napi::CallbackInfo& info) {
  DFKD_GUARD("randint", {
    int64_t lo = argInt(info, 0, "randint"), hi = argInt(info, 1, "randint");
    auto shape = argInts(info, 2, "randint");
    auto o = at::TensorOptions().dtype(at::kLong);
    if (info.Length() > 3 && info[3].IsString()) o = o.device(parseDevice(argStr(info, 3, "randint")));
    return TensorHandle::Wrap(info.Env(), at::randint(lo, hi, shape, o));
  })
}

// randperm(n, device?) -> int64
static Napi::Value Randperm(const Napi::CallbackInfo& info) {
  DFKD_GUARD("randperm", {
    int64_t n = argInt(info, 0, "randperm");
    auto o = at::TensorOptions().dtype(at::kLong);
    if (info.Length() > 1 && info[1].IsString()) o = o.device(parseDevice(argStr(info, 1, "randperm")));
    return TensorHandle::Wrap(info.Env(), at::randperm(n, o));
  })
}

// ---------------------------------------------------------------- metadata

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  DFKD_GUARD("shape", {
    at::Tensor& t = argTensor(info, 0, "shape");
    auto arr = Napi::Array::New(info.Env(), t.dim());
    for (int64_t k = 0; k < t.dim(); ++k) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(info.Env(), static_cast<double>(t.size(k))));
    return arr;
  })
}

static Napi::Value Dtype(const Napi::CallbackInfo& info) {
  DFKD_GUARD("dtype", { return Napi::String::New(info.Env(), dtypeName(argTensor(info, 0, "dtype").scalar_type())); })
}

static Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  DFKD_GUARD("device", { return Napi::String::New(info.Env(), argTensor(info, 0, "device").device().str()); })
}

static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("requiresGrad", { return Napi::Boolean::New(info.Env(), argTensor(info, 0, "requiresGrad").requires_grad()); })
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  DFKD_GUARD("isLeaf", { return Napi::Boolean::New(info.Env(), argTensor(info, 0, "isLeaf").is_leaf()); })
}

// ---------------------------------------------------------------- autograd

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setRequiresGrad", {
    at::Tensor& t = argTensor(info, 0, "setRequiresGrad");
    bool b = argBool(info, 1, "setRequiresGrad");
    if (b && !at::isFloatingType(t.scalar_type())) {
      throw std::invalid_argument("only floating-point tensors can require gradients, this one is " + dtypeName(t.scalar_type()));
    }
    t.set_requires_grad(b);
    return info.Env().Undefined();
  })
}

// grad(t) -> handle or undefined
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("grad", {
    at::Tensor& t = argTensor(info, 0, "grad");
    const at::Tensor& g = t.grad();
    if (!g.defined()) return info.Env().Undefined();
    return TensorHandle::Wrap(info.Env(), g);
  })
}

// clearGrad(t): sets .grad to None (PyTorch's zero_grad(set_to_none=True)).
static Napi::Value ClearGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("clearGrad", {
    at::Tensor& t = argTensor(info, 0, "clearGrad");
    if (t.grad().defined()) t.mutable_grad() = at::Tensor();
    return info.Env().Undefined();
  })
}

// backward(t, gradient?, retainGraph?)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  DFKD_GUARD("backward", {
    at::Tensor& t = argTensor(info, 0, "backward");
    if (!t.requires_grad()) {
      throw std::invalid_argument("this tensor does not require grad and has no grad_fn (was it computed under noGrad, from detached inputs, or from parameters with requiresGrad=false?)");
    }
    auto g = argOptTensor(info, 1, "backward");
    bool retain = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    if (!g && t.numel() != 1) {
      throw std::invalid_argument("gradient can be implicitly created only for scalar outputs; this tensor has " + std::to_string(t.numel()) + " elements");
    }
    t.backward(g ? *g : at::Tensor(), retain, false);
    return info.Env().Undefined();
  })
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setGradEnabled", {
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(argBool(info, 0, "setGradEnabled"));
    return Napi::Boolean::New(info.Env(), prev);
  })
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

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
  o.Set("mallocTuned", Napi::Boolean::New(info.Env(), kMallocTuned));
  o.Set("parallelInfo", Napi::String::New(info.Env(), at::get_parallel_info()));
  o.Set("config", Napi::String::New(info.Env(), at::show_config()));
  return o;
}


static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats, "memoryStats"));
  exports.Set("emptyCpuCache", Napi::Function::New(env, EmptyCpuCache, "emptyCpuCache"));
#define REG(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  REG("fromArray", FromArray);
  REG("toArray", ToArray);
  REG("item", Item);
  REG("zeros", Zeros);
  REG("ones", Ones);
  REG("empty", Empty);
  REG("rand", Rand);
  REG("randn", Randn);
  REG("full", Full);
  REG("arange", Arange);
  REG("randint", Randint);
  REG("randperm", Randperm);
  REG("shape", Shape);
  REG("dtype", Dtype);
  REG("device", DeviceOf);
  REG("requiresGrad", RequiresGrad);
  REG("isLeaf", IsLeaf);
  REG("setRequiresGrad", SetRequiresGrad);
  REG("grad", Grad);
  REG("clearGrad", ClearGrad);
  REG("backward", Backward);
  REG("setGradEnabled", SetGradEnabled);
  REG("isGradEnabled", IsGradEnabled);
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
  registerOps(env, exports);
  return exports;
}

}  // namespace dfkd

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return dfkd::InitAll(env, exports); }
NODE_API_MODULE(dfkd_native, Init)
