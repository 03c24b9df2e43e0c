//===- Parallel.h - A small parallel-for for the detection area -*- C++ -*-===//
//
// Work items are claimed one at a time from an atomic counter, so uneven
// items (categories with many more detections than others) balance out.
// The first exception thrown by an item is rethrown on the caller's thread.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_DETECTION_PARALLEL_H
#define HAT_LIB_DETECTION_PARALLEL_H

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hat::detection::detail {

inline unsigned resolveThreads(unsigned requested, std::size_t items) {
  unsigned threads =
      requested ? requested : std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(
      std::max<std::size_t>(1, std::min<std::size_t>(threads, items)));
}

template <typename Fn>
void parallelFor(std::size_t items, unsigned threads, Fn &&fn) {
  threads = resolveThreads(threads, items);
  if (threads <= 1) {
    for (std::size_t i = 0; i < items; ++i)
      fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failureMutex;
  auto worker = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= items)
        return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failureMutex);
        if (!failure)
          failure = std::current_exception();
        next = items;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &thread : pool)
    thread.join();
  if (failure)
    std::rethrow_exception(failure);
}

} // namespace hat::detection::detail

#endif // HAT_LIB_DETECTION_PARALLEL_H
