// dfkd's CPU allocator: a bounded cache of tensor buffers in front of glibc and the OS.
//
// Why: on the VMs this project runs on a fresh page fault is very expensive, and any tensor of
// 32 MiB or more (glibc's largest mmap threshold; a batch-256 generator or ResNet activation is 50-100
// MiB) is a new mmap that faults in page by page every time it is allocated. bench/engine.ts measured
// 12k-226k faults per generator step and 330k per ResNet-18 forward, on the addon and on the plain
// C++ reference alike, and the wall time followed the faults rather than the work. Training loops
// repeat the same shapes every step, so keeping freed buffers for the next request of the same size
// removes the faults altogether.
//
// What: a freed buffer goes into a free list keyed by its size class and is handed out again for the
// next request of that class. Small sizes come from posix_memalign (64-byte classes below 1 KiB,
// 1 KiB classes up to kSmallMax); larger ones are private mmap regions whose sizes are rounded up to
// quarter-octave classes (2^k, 1.25 2^k, 1.5 2^k, 1.75 2^k: at most 25% slack), so tensors whose batch
// dimension varies from step to step (TA-DFKD's selected batches) share a handful of classes instead of
// each leaving its own idle block behind, and a request may take an idle block up to 1.5x its size.
// Idle bytes are capped (DFKD_CPU_CACHE_MB, default 1024 or a quarter of physical memory if smaller)
// beyond the largest working set the process has had live at once: idle + live never exceeds
// peak live + cap, and above that the least recently freed idle blocks are returned.
// DFKD_MALLOC=system or DFKD_CPU_CACHE_MB=0 keeps libtorch's default allocator.
//
// Header-only and free of N-API so that the C++ reference of bench/engine.ts can install the very
// same allocator and the benchmark measures the binding, not two allocators.
#pragma once

#include <c10/core/CPUAllocator.h>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace dfkd {

struct CpuCacheStats {
  size_t capBytes, idleBytes, liveBytes, hits, misses, released;
};

class CachingCPUAllocator final : public at::Allocator {
 public:
  static constexpr size_t kAlignment = 64;       // c10's gAlignment: what vectorised kernels expect
  static constexpr size_t kHeader = 64;          // block header in front of the data; keeps the alignment
  static constexpr size_t kSmallMax = 64 << 10;  // blocks up to this size (header included) come from the heap

  explicit CachingCPUAllocator(size_t capBytes) : cap_(capBytes), page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {}

  at::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &Delete, at::Device(at::DeviceType::CPU)};
    size_t total = sizeClass(n + kHeader);
    void* base = take(total);  // may hand out a block of a larger class: `total` becomes its size
    if (base != nullptr) {
      hits_.fetch_add(1, std::memory_order_relaxed);
    } else {
      misses_.fetch_add(1, std::memory_order_relaxed);
      base = fresh(total);
      if (base == nullptr) {
        emptyCache();  // give the idle cache back and retry once before reporting out of memory
        base = fresh(total);
        if (base == nullptr) TORCH_CHECK(false, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
      }
    }
    size_t live = live_.fetch_add(total, std::memory_order_relaxed) + total;
    size_t peak = peakLive_.load(std::memory_order_relaxed);
    while (live > peak && !peakLive_.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
    auto* h = static_cast<Header*>(base);
    h->regionBytes = total;
    h->magic = kMagic;
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &Delete, at::Device(at::DeviceType::CPU)};
  }

  at::DeleterFnPtr raw_deleter() const override { return &Delete; }

  static void Delete(void* data) {
    if (data == nullptr) return;
    void* base = static_cast<char*>(data) - kHeader;
    auto* h = static_cast<Header*>(base);
    if (h->magic != kMagic) return;  // never expected: not ours; leak rather than corrupt the heap
    instance()->give(base, h->regionBytes);
  }

  /** Returns every idle block to glibc / the OS. */
  void emptyCache() const {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [bytes, blocks] : idle_) {
      for (const Idle& b : blocks) release(b.base, bytes);
      idleBytes_ -= bytes * blocks.size();
      released_ += blocks.size();
    }
    idle_.clear();
    lru_.clear();
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {cap_, idleBytes_, live_.load(), hits_.load(), misses_.load(), released_};
  }

  /** Size class of a request of `total` bytes (header included). */
  size_t sizeClass(size_t total) const {
    if (total <= 1024) return (total + 63) & ~size_t(63);
    if (total <= kSmallMax) return (total + 1023) & ~size_t(1023);
    size_t octave = size_t(1) << (63 - __builtin_clzll(static_cast<unsigned long long>(total)));
    size_t step = octave / 4;
    size_t rounded = (total + step - 1) / step * step;
    return (rounded + page_ - 1) / page_ * page_;
  }

  static CachingCPUAllocator* instance() { return instance_; }

  /**
   * Installs the allocator as libtorch's CPU allocator unless DFKD_MALLOC=system or
   * DFKD_CPU_CACHE_MB=0. Call before any tensor exists. The allocator lives for the whole process
   * (tensors may be freed at exit), so it is never deleted. Returns nullptr when not installed.
   */
  static CachingCPUAllocator* install() {
    const char* mode = std::getenv("DFKD_MALLOC");
    if (mode && std::string(mode) == "system") return nullptr;
    size_t cap = defaultCapBytes();
    if (cap == 0) return nullptr;
    instance_ = new CachingCPUAllocator(cap);
    c10::SetCPUAllocator(instance_, /*priority=*/1);
    return instance_;
  }

 private:
  static constexpr uint32_t kMagic = 0xdf4d0a11u;
  struct Header {
    size_t regionBytes;  // whole block, header included: the cache key
    uint32_t magic;
  };
  static_assert(sizeof(Header) <= kHeader, "header must fit in front of the data");

  static size_t defaultCapBytes() {
    const char* env = std::getenv("DFKD_CPU_CACHE_MB");
    if (env && *env) return static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20;
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    size_t quarter = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 4 : size_t(1) << 30;
    size_t def = size_t(1024) << 20;
    return quarter < def ? quarter : def;
  }

  static void* fresh(size_t bytes) {
    if (bytes <= kSmallMax) {
      void* p = nullptr;
      return posix_memalign(&p, kAlignment, bytes) == 0 ? p : nullptr;
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  static void release(void* base, size_t bytes) {
    static_cast<Header*>(base)->magic = 0;
    if (bytes <= kSmallMax) std::free(base);
    else munmap(base, bytes);
  }

  // The smallest idle block of class `bytes` or up to two classes larger (at most 1.5x the request;
  // heap blocks only of the exact class). Reusing a slightly larger block instead of mapping a new one
  // keeps the number of distinct idle classes, and so the idle bytes, down when batch sizes vary.
  void* take(size_t& bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.lower_bound(bytes);
    if (it == idle_.end()) return nullptr;
    if (it->first != bytes && (bytes <= kSmallMax || it->first > bytes + bytes / 2)) return nullptr;
    Idle b = it->second.back();
    it->second.pop_back();
    lru_.erase(b.seq);
    bytes = it->first;
    if (it->second.empty()) idle_.erase(it);  // the eviction in give() relies on no empty lists
    idleBytes_ -= bytes;
    return b.base;
  }

  void give(void* base, size_t bytes) const {
    live_.fetch_sub(bytes, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t seq = ++clock_;
    idle_[bytes].push_back({base, seq});
    lru_.emplace(seq, bytes);
    idleBytes_ += bytes;
    // Keep idle + live within the largest working set the process has already had live at once (the
    // RSS it needed anyway) plus the cap, so that a step that frees its whole working set at the end
    // (tidy) finds it again at the next step instead of faulting it in, and the slack of the 1.5x reuse
    // rule within a step does not evict blocks the same step needs later. Beyond that, return the least
    // recently freed idle blocks first (shapes the process no longer uses, e.g. an earlier study cell's).
    while (!lru_.empty() && idleBytes_ + live_.load(std::memory_order_relaxed) > peakLive_.load(std::memory_order_relaxed) + cap_) {
      auto oldest = lru_.begin();
      const size_t cls = oldest->second;
      auto& list = idle_[cls];
      for (auto e = list.begin(); e != list.end(); ++e) {
        if (e->seq == oldest->first) {
          release(e->base, cls);
          list.erase(e);
          break;
        }
      }
      lru_.erase(oldest);
      idleBytes_ -= cls;
      ++released_;
      if (list.empty()) idle_.erase(cls);
    }
  }

  const size_t cap_;
  const size_t page_;
  mutable std::mutex mu_;
  struct Idle {
    void* base;
    uint64_t seq;  // when it was freed (clock_)
  };
  mutable std::map<size_t, std::vector<Idle>> idle_;  // size class -> idle blocks, oldest first (never empty vectors)
  mutable std::map<uint64_t, size_t> lru_;            // free time -> size class, of every idle block
  mutable uint64_t clock_ = 0;
  mutable size_t idleBytes_ = 0;
  mutable size_t released_ = 0;
  mutable std::atomic<size_t> live_{0};
  mutable std::atomic<size_t> peakLive_{0};
  mutable std::atomic<size_t> hits_{0};
  mutable std::atomic<size_t> misses_{0};
  static inline CachingCPUAllocator* instance_ = nullptr;
};

}  // namespace dfkd
