//===- ThreadPool.cpp - Fork-join pool for layer kernels ------------------===//

#include "ThreadPool.h"

namespace hat::runtime {

ThreadPool::ThreadPool(int threads) {
  for (int w = 1; w < threads; ++w)
    workers.emplace_back([this, w] { workerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
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
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
    }
    drain(worker);
    std::lock_guard<std::mutex> lock(mutex);
    if (--active == 0)
      done.notify_one();
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
    active = int(workers.size());
    ++generation;
  }
  wake.notify_all();
  drain(0);
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return active == 0; });
  job = nullptr;
}

} // namespace hat::runtime
