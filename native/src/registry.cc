// The tensor registry: JS holds a tensor as a number, the registry owns the at::Tensor (see common.h);
// process-wide memory settings (malloc tuning, the caching CPU allocator) and V8 external-memory accounting.
#include "common.h"
#include "cpu_allocator.h"

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
bool mallocTuned() { return kMallocTuned; }

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

const at::Tensor* TensorHandle::Find(const Napi::Value& v) {
  auto it = gTensors.find(idOf(v));
  return it == gTensors.end() ? nullptr : &it->second.t;
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

void registerRegistry(Napi::Env env, Napi::Object exports) {
#define REG(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  REG("dispose", Dispose);
  REG("isDisposed", IsDisposed);
  REG("memoryStats", MemoryStats);
  REG("emptyCpuCache", EmptyCpuCache);
#undef REG
}

}  // namespace dfkd
