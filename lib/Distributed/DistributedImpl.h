//===- DistributedImpl.h - The c10d side of hat::dist ----------*- C++ -*-===//
//
// Private to lib/Distributed: the only place that includes c10d and Gloo.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_DISTRIBUTED_DISTRIBUTEDIMPL_H
#define HAT_LIB_DISTRIBUTED_DISTRIBUTEDIMPL_H

#include "hat/Distributed/Distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace hat::dist {

struct Context::Impl {
  InitOptions options;
  int localWorld = 1;
  c10::intrusive_ptr<c10d::TCPStore> store;
  /// Broadcasts, metric gathers, SyncBN, barriers: all from the main
  /// thread in program order.
  c10::intrusive_ptr<c10d::ProcessGroupGloo> mainGroup;
  /// Gradient buckets, launched from autograd hooks: a group of their own
  /// so their order never interleaves with the main group's.
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gradientGroup;

  std::thread watchdog;
  std::atomic<bool> stopWatchdog{false};
  /// A collective failed: a peer silent for a few seconds is dead.
  std::atomic<bool> alerted{false};
  std::mutex watchdogMutex;
  std::condition_variable watchdogWake;

  c10::intrusive_ptr<c10d::TCPStore>
  connect(bool server, std::chrono::milliseconds timeout) const;
  void watch();
  [[noreturn]] void die(const std::string &why);
};

} // namespace hat::dist

#endif // HAT_LIB_DISTRIBUTED_DISTRIBUTEDIMPL_H
