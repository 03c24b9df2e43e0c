//===- CachingCpuAllocatorTest.cpp - LibTorch buffers reused
//---------------===//
//
// Once installed, LibTorch's CPU tensors come from the caching allocator:
// a large buffer freed by one "step" serves the next step's request of the
// same size class (the same memory, no new pages), small buffers are not
// cached, the raw allocate/deallocate interface works, values computed in
// reused buffers are right, and the cache never holds more than its limit.
//
//===----------------------------------------------------------------------===//

#include "hat/Executor/CachingCpuAllocator.h"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include <gtest/gtest.h>

using namespace hat::executor;

namespace {

TEST(CachingCpuAllocator, ReusesLargeBuffersAcrossSteps) {
  installCachingCpuAllocator(size_t(256) << 20);
  ASSERT_TRUE(cachingCpuAllocatorInstalled());
  releaseCachedCpuBuffers();

  // 1 MiB of floats: a cached size.
  const void *first = nullptr;
  {
    at::Tensor t = at::empty({256, 1024}, at::kFloat);
    first = t.data_ptr();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  }
  const CachingCpuAllocatorStats before = cachingCpuAllocatorStats();
  EXPECT_GE(before.cachedBytes, size_t(1) << 20);
  {
    // A slightly smaller request falls in the same size class.
    at::Tensor t = at::empty({256, 1000}, at::kFloat);
    EXPECT_EQ(t.data_ptr(), first);
    // The reused memory computes like any other.
    t.fill_(2.0f);
    EXPECT_EQ(t.sum().item<double>(), 2.0 * 256 * 1000);
  }
  const CachingCpuAllocatorStats after = cachingCpuAllocatorStats();
  EXPECT_EQ(after.hits, before.hits + 1);

  // Small buffers go to malloc, uncounted.
  { at::Tensor small = at::ones({16}, at::kFloat); }
  EXPECT_EQ(cachingCpuAllocatorStats().hits, after.hits);
  EXPECT_EQ(cachingCpuAllocatorStats().misses, after.misses);

  // The raw interface (ATen's raw_allocate users) round-trips.
  c10::Allocator *allocator = c10::GetCPUAllocator();
  void *raw = allocator->raw_allocate(size_t(3) << 20);
  ASSERT_NE(raw, nullptr);
  std::memset(raw, 1, size_t(3) << 20);
  allocator->raw_deallocate(raw);
  releaseCachedCpuBuffers();
  EXPECT_EQ(cachingCpuAllocatorStats().cachedBytes, 0u);
}

TEST(CachingCpuAllocator, KeepsNoMoreThanItsLimit) {
  installCachingCpuAllocator(size_t(3) << 20); // 3 MiB
  releaseCachedCpuBuffers();
  {
    std::vector<at::Tensor> live;
    for (int i = 0; i < 8; ++i)
      live.push_back(at::empty({1 << 18}, at::kFloat)); // 1 MiB each
  }
  // Eight freed, three kept.
  EXPECT_EQ(cachingCpuAllocatorStats().cachedBytes, size_t(3) << 20);
  EXPECT_EQ(cachingCpuAllocatorStats().limitBytes, size_t(3) << 20);
  releaseCachedCpuBuffers();
  installCachingCpuAllocator(size_t(256) << 20);
}

} // namespace
