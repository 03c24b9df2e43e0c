//===- CachingCpuAllocator.cpp - Reuse LibTorch's large CPU buffers -------===//
//
// Every buffer carries a 64-byte header with its size class in front of the
// data, so the deleter (which LibTorch calls with the data pointer alone,
// the "raw" interface some ATen code uses) knows where a freed buffer goes.
// Large sizes are rounded up to 8 classes per power of two (at most 12.5 %
// more than asked), so a buffer freed by one step serves a request of a
// slightly different size in the next.
//
//===----------------------------------------------------------------------===//

#include "hat/Executor/CachingCpuAllocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <unistd.h>

namespace hat::executor {
namespace {

constexpr size_t kHeader = 64; // keeps the data 64-byte aligned, as c10's

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> free; // by size class
  size_t cachedBytes = 0, limitBytes = 0;
  uint64_t hits = 0, misses = 0;
  bool installed = false;
};

/// Never destroyed: tensors may be freed during static destruction.
Cache &cache() {
  static Cache *c = new Cache();
  return *c;
}

/// The bytes a request of n bytes gets: n below kMinCachedBytes, otherwise
/// n rounded up to an eighth of its power of two.
size_t sizeClass(size_t n) {
  if (n < kMinCachedBytes)
    return n;
  const unsigned log2 = 63u - unsigned(__builtin_clzll(n));
  const size_t step = size_t(1) << (log2 - 3);
  return (n + step - 1) / step * step;
}

size_t &headerOf(void *data) {
  return *reinterpret_cast<size_t *>(static_cast<char *>(data) - kHeader);
}

void deleteBuffer(void *data) {
  if (!data)
    return;
  const size_t bytes = headerOf(data);
  if (bytes >= kMinCachedBytes) {
    Cache &c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.cachedBytes + bytes <= c.limitBytes) {
      c.free[bytes].push_back(data);
      c.cachedBytes += bytes;
      return;
    }
  }
  std::free(static_cast<char *>(data) - kHeader);
}

struct CachingCpuAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    const size_t bytes = sizeClass(n);
    void *data = nullptr;
    if (bytes >= kMinCachedBytes) {
      Cache &c = cache();
      std::lock_guard<std::mutex> lock(c.mutex);
      auto it = c.free.find(bytes);
      if (it != c.free.end() && !it->second.empty()) {
        data = it->second.back();
        it->second.pop_back();
        c.cachedBytes -= bytes;
        ++c.hits;
      } else {
        ++c.misses;
      }
    }
    if (!data) {
      void *base = nullptr;
      if (posix_memalign(&base, kHeader, bytes + kHeader) != 0 || !base)
        throw std::bad_alloc();
      data = static_cast<char *>(base) + kHeader;
      headerOf(data) = bytes;
    }
    return {data, data, &deleteBuffer, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &deleteBuffer; }
};

} // namespace

void installCachingCpuAllocator(size_t limitBytes) {
  static CachingCpuAllocator allocator;
  Cache &c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (limitBytes == 0) {
      const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
      limitBytes = pages > 0 && page > 0 ? size_t(pages) * size_t(page) / 4
                                         : size_t(1) << 30;
    }
    c.limitBytes = limitBytes;
    if (c.installed)
      return;
    c.installed = true;
  }
  // Above the default allocator's priority (0), so it stays in place.
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
}

bool cachingCpuAllocatorInstalled() {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.installed;
}

CachingCpuAllocatorStats cachingCpuAllocatorStats() {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  CachingCpuAllocatorStats s;
  s.hits = c.hits;
  s.misses = c.misses;
  s.cachedBytes = c.cachedBytes;
  s.limitBytes = c.limitBytes;
  return s;
}

void releaseCachedCpuBuffers() {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto &[bytes, buffers] : c.free)
    for (void *data : buffers)
      std::free(static_cast<char *>(data) - kHeader);
  c.free.clear();
  c.cachedBytes = 0;
}

} // namespace hat::executor
