//===- ThreadPool.cpp - Fork-join pool for layer kernels ------------------===//
//
// A network runs one parallelFor per layer (several for some), often only
// tens of microseconds apart. Waking a worker through the condition variable
// costs a futex round trip of that order, which made two threads slower than
// one at batch 1. So both sides spin first: a worker polls the generation
// for up to kSpin after finishing a job before it sleeps, and the caller
// polls for the workers' completion before it sleeps. Idle sessions still
// end up blocked, not spinning.
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace hat::runtime {

namespace {

constexpr std::chrono::microseconds kSpin(200);

void cpuRelax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// Polls `ready` for up to kSpin; true as soon as it holds.
template <typename Ready> bool spinUntil(const Ready &ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (ready())
      return true;
    cpuRelax();
    if (i % 256 == 0 && std::chrono::steady_clock::now() > deadline)
      return ready();
  }
}

} // namespace

ThreadPool::ThreadPool(int threads) {
  for (int w = 1; w < threads; ++w)
    workers.emplace_back([this, w] { workerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping.store(true);
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

void ThreadPool::drain(int worker) {
  for (int64_t t = next.fetch_add(1); t < jobSize; t = next.fetch_add(1))
    (*job)(t, worker);
}

void ThreadPool::workerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    auto posted = [&] {
      return stopping.load(std::memory_order_acquire) ||
             generation.load(std::memory_order_acquire) != seen;
    };
    if (!spinUntil(posted)) {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, posted);
    }
    if (stopping.load(std::memory_order_acquire))
      return;
    seen = generation.load(std::memory_order_acquire);
    drain(worker);
    if (active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Under the mutex, so that a caller about to sleep on `done` has
      // either seen active == 0 or is already waiting.
      std::lock_guard<std::mutex> lock(mutex);
      done.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n,
                             const std::function<void(int64_t, int)> &fn) {
  if (workers.empty() || n <= 1) {
    for (int64_t t = 0; t < n; ++t)
      fn(t, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &fn;
    jobSize = n;
    next.store(0);
    active.store(int(workers.size()));
    // Every worker finished the previous generation (the caller waited for
    // active == 0), so each sees each generation exactly once.
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  drain(0);
  auto finished = [&] { return active.load(std::memory_order_acquire) == 0; };
  if (!spinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, finished);
  }
  job = nullptr;
}

} // namespace hat::runtime
