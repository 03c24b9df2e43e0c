//===- Launcher.cpp - hat-train --num-procs N: ranks on this machine ------===//
//
// The supervisor hosts the TCPStore on a free loopback port and execs N
// copies of the program with the --dist-url form, so a local job and a
// multi-machine job run the same code. It owns no training state: it only
// waits. When a rank fails, it posts the failure in the store (the other
// ranks' watchdogs stop them within a second, naming the rank), and kills
// whatever is still running after the timeout. Ranks die with their
// supervisor (PR_SET_PDEATHSIG), so no rank is ever left behind.
//
//===----------------------------------------------------------------------===//

#include "DistributedImpl.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hat::dist {

namespace {
std::string describeStatus(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char *name = strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + " (" +
           (name ? name : "?") + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}
} // namespace

int runLocalJob(const LocalJobOptions &options) {
  const int n = options.numProcs;
  auto store = StoreServer::start("127.0.0.1", 0, options.timeout);
  const std::string url = "tcp://127.0.0.1:" + std::to_string(store->port());

  bool hasThreads = false;
  for (const std::string &a : options.argv)
    hasThreads |= a == "--threads";
  int cores = (int)std::max(1u, std::thread::hardware_concurrency());
  int threads = options.threadsPerRank > 0 ? options.threadsPerRank
                                           : std::max(1, cores / n);

  std::map<pid_t, int> rankOf;
  pid_t self = getpid();
  for (int rank = 0; rank < n; ++rank) {
    std::vector<std::string> args = options.argv;
    args.insert(args.end(),
                {"--dist-url", url, "--world-size", std::to_string(n), "--rank",
                 std::to_string(rank)});
    if (!hasThreads)
      args.insert(args.end(), {"--threads", std::to_string(threads)});
    pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "hat-train: error: cannot start rank %d: %s\n", rank,
                   std::strerror(errno));
      for (auto &[p, r] : rankOf)
        kill(p, SIGKILL);
      return 1;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != self)
        std::_Exit(1); // the supervisor is already gone
      setenv("HAT_DIST_STORE_HOSTED", "1", 1);
      std::vector<char *> cargs;
      for (std::string &a : args)
        cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execv("/proc/self/exe", cargs.data());
      std::fprintf(stderr, "hat-train: error: cannot exec rank %d: %s\n", rank,
                   std::strerror(errno));
      std::_Exit(127);
    }
    rankOf[pid] = rank;
  }

  int result = 0;
  std::string failure;
  std::chrono::steady_clock::time_point killAt;
  while (!rankOf.empty()) {
    int status = 0;
    pid_t pid = failure.empty() ? waitpid(-1, &status, 0)
                                : waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR)
      continue;
    if (pid < 0)
      break;
    if (pid == 0) {
      if (std::chrono::steady_clock::now() > killAt) {
        for (auto &[p, r] : rankOf) {
          std::fprintf(stderr,
                       "hat-train: error: rank %d did not stop within %lld s "
                       "of the failure; killing it\n",
                       r, (long long)options.timeout.count() / 1000);
          kill(p, SIGKILL);
        }
        killAt = std::chrono::steady_clock::now() + std::chrono::hours(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    auto it = rankOf.find(pid);
    if (it == rankOf.end())
      continue;
    int rank = it->second;
    rankOf.erase(it);
    bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failed && failure.empty()) {
      failure = "rank " + std::to_string(rank) + " (pid " +
                std::to_string(pid) + ") " + describeStatus(status);
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      store->postFailure(failure);
      killAt = std::chrono::steady_clock::now() + options.timeout;
    }
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "hat-train: error: %s; the job stopped\n",
                 failure.c_str());
    return result ? result : 1;
  }
  return 0;
}

} // namespace hat::dist
