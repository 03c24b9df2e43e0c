//===- CachingCpuAllocator.h - Reuse LibTorch's large CPU buffers -*- C++ -*-//
//
// A training step allocates and frees the same activation and gradient
// buffers every step. LibTorch's CPU allocator hands every buffer to
// malloc, which serves large ones with fresh mmap'd pages: each step then
// page-faults its whole working set again (a fifth of a TinyResNet step's
// CPU time went to the kernel's page-fault path). This allocator keeps
// freed large buffers by size class and hands them out again, so a steady
// training loop stops touching the kernel. Small buffers (below
// kMinCachedBytes) still go straight to malloc.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EXECUTOR_CACHINGCPUALLOCATOR_H
#define HAT_EXECUTOR_CACHINGCPUALLOCATOR_H

#include <cstddef>
#include <cstdint>

namespace hat::executor {

/// Buffers below this size are not cached.
constexpr size_t kMinCachedBytes = size_t(64) << 10;

struct CachingCpuAllocatorStats {
  /// Requests served from the cache, and from malloc (cached sizes only).
  uint64_t hits = 0, misses = 0;
  /// Bytes held in the cache now (free buffers), and its limit.
  size_t cachedBytes = 0, limitBytes = 0;
};

/// Makes the caching allocator LibTorch's CPU allocator for the rest of the
/// process (idempotent). Free buffers beyond `limitBytes` go back to the
/// system; 0 picks a quarter of the physical memory. Tensors allocated
/// before the call keep their own deleter, so this is safe at any time.
void installCachingCpuAllocator(size_t limitBytes = 0);

/// Whether installCachingCpuAllocator has run.
bool cachingCpuAllocatorInstalled();

CachingCpuAllocatorStats cachingCpuAllocatorStats();

/// Returns every cached free buffer to the system.
void releaseCachedCpuBuffers();

} // namespace hat::executor

#endif // HAT_EXECUTOR_CACHINGCPUALLOCATOR_H
