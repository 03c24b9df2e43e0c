//===- Context.cpp - Rendezvous, process groups, watchdog -----------------===//
//
// Failure handling. A rank that dies (SIGKILL, OOM) stops refreshing its
// heartbeat key in the store; a rank that raises writes `hat/failed` before
// exiting. Each rank's watchdog thread polls both twice a second, with its
// own store connection, and ends its process (naming the failed rank) when
// a peer's heartbeat is older than the timeout or a failure is posted. A
// collective that throws (Gloo notices a closed connection at once) puts
// the watchdog on alert: a heartbeat silent for 3 s is then enough. Losing
// the store means losing its host (rank 0, or the --num-procs supervisor).
//
//===----------------------------------------------------------------------===//

#include "DistributedImpl.h"

#include <ATen/ATen.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace hat::dist {

namespace {
std::unique_ptr<Context> &instance() {
  static std::unique_ptr<Context> context;
  return context;
}

constexpr auto kPollInterval = std::chrono::milliseconds(500);
constexpr auto kAlertSilence = std::chrono::seconds(3);

std::vector<uint8_t> bytes(const std::string &s) {
  return {s.begin(), s.end()};
}
std::string text(const std::vector<uint8_t> &b) { return {b.begin(), b.end()}; }

std::string hostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0)
    return "localhost";
  return buf;
}

bool isLoopback(const std::string &host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}
} // namespace

std::optional<std::pair<std::string, uint16_t>>
parseDistUrl(const std::string &url) {
  const std::string scheme = "tcp://";
  if (url.rfind(scheme, 0) != 0)
    return std::nullopt;
  std::string rest = url.substr(scheme.size());
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    return std::nullopt;
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  unsigned long value = std::stoul(port);
  if (value == 0 || value > 65535)
    return std::nullopt;
  return std::make_pair(host, (uint16_t)value);
}

struct StoreServer::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

StoreServer::StoreServer() : impl(std::make_unique<Impl>()) {}
StoreServer::~StoreServer() = default;

std::unique_ptr<StoreServer>
StoreServer::start(const std::string &host, uint16_t port,
                   std::chrono::milliseconds timeout) {
  std::unique_ptr<StoreServer> server(new StoreServer());
  c10d::TCPStoreOptions so;
  so.port = port;
  so.isServer = true;
  so.waitWorkers = false;
  so.timeout = timeout;
  server->impl->store = c10::make_intrusive<c10d::TCPStore>(host, so);
  return server;
}

uint16_t StoreServer::port() const { return impl->store->getPort(); }

void StoreServer::postFailure(const std::string &message) noexcept {
  try {
    if (!impl->store->check({"hat/failed"}))
      impl->store->set("hat/failed", bytes(message));
  } catch (...) {
  }
}

c10::intrusive_ptr<c10d::TCPStore>
Context::Impl::connect(bool server, std::chrono::milliseconds timeout) const {
  c10d::TCPStoreOptions so;
  so.port = options.port;
  so.isServer = server;
  so.waitWorkers = false;
  so.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(options.host, so);
}

[[noreturn]] void Context::Impl::die(const std::string &why) {
  std::fprintf(stderr, "hat-train: error: [rank %d] stopping: %s\n",
               options.rank, why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

void Context::Impl::watch() {
  c10::intrusive_ptr<c10d::TCPStore> client;
  std::string storeName = options.storeHostedElsewhere
                              ? "the hat-train --num-procs supervisor"
                              : "rank 0";
  auto lost = [&](const std::exception &e) {
    die("lost the rendezvous store at " + options.host + ":" +
        std::to_string(options.port) + ", hosted by " + storeName +
        ", which has died or exited (" + e.what() + ")");
  };
  try {
    client = connect(false, options.timeout);
  } catch (const std::exception &e) {
    lost(e);
  }
  const std::string mine = "hat/heartbeat/" + std::to_string(options.rank);
  std::vector<int64_t> seen(options.worldSize, -1);
  std::vector<std::chrono::steady_clock::time_point> changed(
      options.worldSize, std::chrono::steady_clock::now());
  while (!stopWatchdog.load()) {
    try {
      client->add(mine, 1);
      if (client->check({"hat/failed"}))
        die(text(client->get("hat/failed")));
      auto now = std::chrono::steady_clock::now();
      auto limit = alerted.load() ? std::min<std::chrono::milliseconds>(
                                        options.timeout, kAlertSilence)
                                  : options.timeout;
      for (int r = 0; r < options.worldSize; ++r) {
        if (r == options.rank)
          continue;
        if (client->check({"hat/done/" + std::to_string(r)}))
          continue;
        int64_t beat = client->add("hat/heartbeat/" + std::to_string(r), 0);
        if (beat != seen[r]) {
          seen[r] = beat;
          changed[r] = now;
        } else if (now - changed[r] > limit) {
          die("rank " + std::to_string(r) +
              " stopped responding (no heartbeat for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 now - changed[r])
                                 .count()) +
              " s): it was killed or hangs");
        }
      }
    } catch (const std::exception &e) {
      if (stopWatchdog.load())
        return;
      lost(e);
    }
    std::unique_lock<std::mutex> lock(watchdogMutex);
    watchdogWake.wait_for(lock, kPollInterval,
                          [&] { return stopWatchdog.load(); });
  }
}

Context::Context() : implPtr(std::make_unique<Impl>()) {}

Context::~Context() {
  Impl &im = *implPtr;
  im.stopWatchdog = true;
  im.watchdogWake.notify_all();
  if (im.watchdog.joinable())
    im.watchdog.join();
}

Context &Context::init(const InitOptions &options) {
  if (instance())
    throw DistributedError("the distributed context is initialised twice");
  instance() = create(options);
  return *instance();
}

std::unique_ptr<Context> Context::create(const InitOptions &options) {
  if (options.worldSize < 1 || options.rank < 0 ||
      options.rank >= options.worldSize)
    throw DistributedError("rank " + std::to_string(options.rank) +
                           " is not in [0, " +
                           std::to_string(options.worldSize) + ")");
  // A peer that dies mid-collective leaves a broken socket: writing to it
  // must be an error Gloo reports (collectiveFailed then lets the watchdog
  // name the rank), not a SIGPIPE that ends this rank without a word.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Context> context(new Context());
  Impl &im = *context->implPtr;
  im.options = options;
  bool server = options.rank == 0 && !options.storeHostedElsewhere;
  try {
    im.store = im.connect(server, options.timeout);
  } catch (const std::exception &e) {
    throw DistributedError(
        std::string(server ? "cannot host" : "cannot reach") +
        " the rendezvous store at tcp://" + options.host + ":" +
        std::to_string(options.port) + " (rank " +
        std::to_string(options.rank) + " of " +
        std::to_string(options.worldSize) + "): " + e.what());
  }
  try {
    // Host names give the ranks per machine (the default thread count).
    std::string host = hostName();
    im.store->set("hat/host/" + std::to_string(options.rank), bytes(host));
    std::vector<std::string> keys;
    for (int r = 0; r < options.worldSize; ++r)
      keys.push_back("hat/host/" + std::to_string(r));
    im.store->wait(keys, options.timeout);
    im.localWorld = 0;
    for (const std::string &key : keys)
      im.localWorld += text(im.store->get(key)) == host;

    auto groupOptions =
        c10d::ProcessGroupGloo::Options::create(options.timeout);
    if (const char *ifname = getenv("GLOO_SOCKET_IFNAME"))
      groupOptions->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (isLoopback(options.host))
      groupOptions->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      groupOptions->devices.push_back(
          c10d::ProcessGroupGloo::createDefaultDevice());
    auto group = [&](const std::string &name) {
      return c10::make_intrusive<c10d::ProcessGroupGloo>(
          c10::make_intrusive<c10d::PrefixStore>(name, im.store), options.rank,
          options.worldSize, groupOptions);
    };
    im.mainGroup = group("hat/main");
    im.gradientGroup = group("hat/gradients");
  } catch (const std::exception &e) {
    throw DistributedError(
        "the rendezvous of " + std::to_string(options.worldSize) +
        " ranks at tcp://" + options.host + ":" + std::to_string(options.port) +
        " failed (rank " + std::to_string(options.rank) + "): " + e.what());
  }
  im.watchdog = std::thread([&im] { im.watch(); });
  return context;
}

Context *Context::get() { return instance().get(); }
bool Context::active() { return get() && get()->worldSize() > 1; }
int Context::rank() const { return implPtr->options.rank; }
int Context::worldSize() const { return implPtr->options.worldSize; }
int Context::localWorldSize() const { return implPtr->localWorld; }
std::chrono::milliseconds Context::timeout() const {
  return implPtr->options.timeout;
}

void Context::collectiveFailed(const std::string &what,
                               const std::exception &error) {
  Impl &im = *implPtr;
  im.alerted = true;
  // The watchdog ends the process once it knows which rank failed; a peer
  // that is alive but not answering shows up as a timeout instead.
  auto deadline = std::chrono::steady_clock::now() + kAlertSilence +
                  std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  throw DistributedError(what + " failed on rank " + std::to_string(rank()) +
                         " and no rank reported a failure: " + error.what());
}

void Context::broadcast(std::vector<at::Tensor> &tensors, int root) {
  if (tensors.empty())
    return;
  try {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    for (at::Tensor &t : tensors) {
      std::vector<at::Tensor> one{t};
      implPtr->mainGroup->broadcast(one, opts)->wait();
    }
  } catch (const std::exception &e) {
    collectiveFailed("a broadcast from rank " + std::to_string(root), e);
  }
}

void Context::allReduceSum(at::Tensor &tensor) {
  try {
    std::vector<at::Tensor> one{tensor};
    implPtr->mainGroup->allreduce(one)->wait();
  } catch (const std::exception &e) {
    collectiveFailed("an all-reduce", e);
  }
}

std::vector<std::vector<double>>
Context::allGather(const std::vector<double> &values) {
  // Sizes first, then every rank's values in its own row of a zero-padded
  // matrix that an all-reduce sums: simple, and exact for doubles.
  const int world = worldSize(), me = rank();
  at::Tensor sizes = at::zeros({world}, at::kLong);
  sizes[me] = (int64_t)values.size();
  allReduceSum(sizes);
  int64_t longest = sizes.max().item<int64_t>();
  at::Tensor rows =
      at::zeros({world, std::max<int64_t>(1, longest)}, at::kDouble);
  if (!values.empty())
    rows[me]
        .narrow(0, 0, (int64_t)values.size())
        .copy_(at::tensor(values, at::kDouble));
  allReduceSum(rows);
  std::vector<std::vector<double>> out(world);
  for (int r = 0; r < world; ++r) {
    at::Tensor row = rows[r].narrow(0, 0, sizes[r].item<int64_t>());
    out[r].assign(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
  }
  return out;
}

void Context::barrier() {
  try {
    implPtr->mainGroup->barrier()->wait();
  } catch (const std::exception &e) {
    collectiveFailed("a barrier", e);
  }
}

void Context::reportFailure(const std::string &message) noexcept {
  Impl &im = *implPtr;
  try {
    if (!im.store->check({"hat/failed"}))
      im.store->set("hat/failed", bytes("rank " + std::to_string(rank()) +
                                        " failed: " + message));
    // The store's host lingers so the others read why before it goes.
    if (rank() == 0 && !im.options.storeHostedElsewhere)
      std::this_thread::sleep_for(kPollInterval * 3);
  } catch (...) {
  }
}

void Context::finish() {
  Impl &im = *implPtr;
  barrier();
  im.store->set("hat/done/" + std::to_string(rank()), bytes("1"));
  im.stopWatchdog = true;
  im.watchdogWake.notify_all();
  if (im.watchdog.joinable())
    im.watchdog.join();
  im.store->add("hat/finished", 1);
  if (rank() == 0 && !im.options.storeHostedElsewhere) {
    auto deadline = std::chrono::steady_clock::now() + im.options.timeout;
    while (im.store->add("hat/finished", 0) < worldSize() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

} // namespace hat::dist
