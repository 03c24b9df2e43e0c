//===- ThreadPool.h - Fork-join pool for layer kernels ----------*- C++ -*-===//

#ifndef HAT_LIB_RUNTIME_THREADPOOL_H
#define HAT_LIB_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hat::runtime {

/// Persistent workers (threads - 1 of them; the caller is the last one), so
/// a layer costs a wake-up, not a thread creation; both sides spin briefly
/// before sleeping (ThreadPool.cpp says why).
class ThreadPool {
public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return int(workers.size()) + 1; }
  /// Calls fn(task, worker) for every task in [0, n); worker < size().
  void parallelFor(int64_t n, const std::function<void(int64_t, int)> &fn);

private:
  void workerLoop(int worker);
  void drain(int worker);

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t, int)> *job = nullptr;
  int64_t jobSize = 0;
  std::atomic<int64_t> next{0};
  /// Written under the mutex (so sleeping workers cannot miss it), polled
  /// without it.
  std::atomic<uint64_t> generation{0};
  std::atomic<int> active{0};
  std::atomic<bool> stopping{false};
};

} // namespace hat::runtime

#endif // HAT_LIB_RUNTIME_THREADPOOL_H
