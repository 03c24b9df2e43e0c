//===- Distributed.h - Data-parallel training on c10d (Gloo) ----*- C++ -*-===//
//
// HAT's distributed_data_parallel_trainer on LibTorch's own distributed
// engine: a c10d TCPStore for the rendezvous and ProcessGroupGloo for the
// collectives (the C++ frontend has no DistributedDataParallel, so the
// pieces torch's DDP is made of live here):
//
//   Context          one per process: rank, world size, the store, two Gloo
//                    process groups (gradients; everything else), a watchdog
//                    that turns a dead or failing rank into a prompt exit of
//                    every other rank with a message naming it
//   GradientReducer  bucketed gradient all-reduce, launched from autograd
//                    hooks while backward still runs
//   syncBatchNorm    BN whose batch statistics (and their gradients) are
//                    all-reduced over the ranks
//   runLocalJob      `hat-train --num-procs N`: N ranks on this machine under
//                    a supervisor that hosts the store
//
// No c10d or Gloo header leaks from here: the engine includes only this.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DISTRIBUTED_DISTRIBUTED_H
#define HAT_DISTRIBUTED_DISTRIBUTED_H

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hat::dist {

/// A collective that could not complete, or a rank that failed.
class DistributedError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The default of --dist-timeout: how long a rank may go silent (or a
/// collective may wait) before the others give up on it.
constexpr int kDefaultTimeoutSeconds = 60;

struct InitOptions {
  std::string host = "127.0.0.1"; ///< the store: --dist-url tcp://HOST:PORT
  uint16_t port = 0;
  int rank = 0;
  int worldSize = 1;
  std::chrono::milliseconds timeout{kDefaultTimeoutSeconds * 1000};
  /// The store already runs (hat-train --num-procs hosts it in the
  /// supervisor); otherwise rank 0 hosts it at host:port.
  bool storeHostedElsewhere = false;
};

/// `tcp://HOST:PORT` -> (HOST, PORT); nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>>
parseDistUrl(const std::string &url);

/// A rendezvous store (c10d TCPStore server) that no rank hosts: the
/// --num-procs supervisor's, or a test's.
class StoreServer {
public:
  /// On host:port; port 0 picks a free one.
  static std::unique_ptr<StoreServer> start(const std::string &host,
                                            uint16_t port,
                                            std::chrono::milliseconds timeout);
  ~StoreServer();
  uint16_t port() const;
  /// Posts a failure for the ranks' watchdogs (as a failing rank does).
  void postFailure(const std::string &message) noexcept;

  struct Impl;

private:
  StoreServer();
  std::unique_ptr<Impl> impl;
};

/// The process's place in a distributed job. Every collective is blocking
/// for the caller and must be called by every rank in the same order.
class Context {
public:
  /// Connects to the store, creates the process groups (a rendezvous of all
  /// ranks) and starts the watchdog: the process's context. Once per process.
  static Context &init(const InitOptions &options);
  /// The same, unregistered (tests run several ranks as threads).
  static std::unique_ptr<Context> create(const InitOptions &options);
  /// The initialised context, or null in a single-process run.
  static Context *get();
  /// True when a context with more than one rank exists.
  static bool active();

  int rank() const;
  int worldSize() const;
  /// Ranks on this host (by host name), for the default thread count.
  int localWorldSize() const;
  std::chrono::milliseconds timeout() const;

  /// In place on every rank: root's values.
  void broadcast(std::vector<at::Tensor> &tensors, int root = 0);
  /// In place: the sum over ranks.
  void allReduceSum(at::Tensor &tensor);
  /// Every rank's vector (any length), indexed by rank.
  std::vector<std::vector<double>> allGather(const std::vector<double> &values);
  void barrier();

  /// Tells the other ranks this one fails with `message`; their watchdogs
  /// stop them within a second, naming this rank. Never throws.
  void reportFailure(const std::string &message) noexcept;
  /// Orderly end of a successful job: a last barrier, the watchdog stopped,
  /// and the rank hosting the store waits until every rank is done with it.
  void finish();

  /// A collective threw: give the watchdog the chance to name the rank that
  /// failed (it then ends this process), else throw a DistributedError.
  [[noreturn]] void collectiveFailed(const std::string &what,
                                     const std::exception &error);

  struct Impl;
  Impl &impl() { return *implPtr; }
  ~Context();

private:
  Context();
  std::unique_ptr<Impl> implPtr;
};

struct ReducerOptions {
  /// torch DDP's bucket_cap_mb; the first bucket (the last layers, whose
  /// gradients come first) is capped at 1 MiB as in torch.
  double bucketCapMb = 25;
  bool findUnusedParameters = false;
  /// false: one all-reduce of every bucket after backward (for comparison).
  bool overlap = true;
};

/// Averages gradients over the ranks. Parameters are packed into buckets in
/// reverse order; an autograd post hook on each parameter's gradient
/// accumulator marks it ready, and a full bucket's all-reduce starts at
/// once (in bucket order on every rank) while backward goes on.
class GradientReducer {
public:
  GradientReducer(Context &context,
                  std::vector<std::pair<std::string, at::Tensor>> parameters,
                  const ReducerOptions &options);
  ~GradientReducer();
  /// The next backward is the one whose gradients are synchronised (the
  /// last one before an optimizer step).
  void prepareForBackward();
  /// After that backward: waits for the buckets, averages, writes .grad.
  /// Without find_unused_parameters a parameter that got no gradient is an
  /// error naming it.
  void finishBackward();
  size_t numBuckets() const;
  /// Seconds the main thread spent waiting for all-reduces after backward.
  double waitSeconds() const;

  struct State; // the hooks hold it weakly

private:
  std::shared_ptr<State> state;
};

/// Batch norm with the batch statistics of all ranks together: the
/// per-rank mean, M2 and count are gathered and combined (Chan's parallel
/// variance), and autograd carries the gradient back through the same
/// gather, so backward equals BN on the concatenated batch. The running
/// statistics get the global mean and unbiased variance. Outside training,
/// plain BN with the running statistics.
at::Tensor syncBatchNorm(Context &context, const at::Tensor &input,
                         const at::Tensor &weight, const at::Tensor &bias,
                         const at::Tensor &runningMean,
                         const at::Tensor &runningVar, bool training,
                         double momentum, double eps);

/// `hat-train --num-procs N`: hosts the store on a free loopback port,
/// starts N copies of this program (`argv` plus --dist-url, --world-size,
/// --rank and, unless given, --threads), and supervises them: when one fails
/// (non-zero exit or a signal) the others are told, and stopped if they do
/// not end within the timeout. Returns the exit status for the job.
struct LocalJobOptions {
  int numProcs = 2;
  std::vector<std::string> argv; ///< without --num-procs
  int threadsPerRank = 0;        ///< 0: cores / numProcs (at least 1)
  std::chrono::milliseconds timeout{kDefaultTimeoutSeconds * 1000};
};
int runLocalJob(const LocalJobOptions &options);

} // namespace hat::dist

#endif // HAT_DISTRIBUTED_DISTRIBUTED_H
