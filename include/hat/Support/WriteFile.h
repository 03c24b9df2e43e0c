//===- WriteFile.h - Writing an output file without losing data -*- C++ -*-===//
//
// A tool that writes FILE must never leave FILE truncated or empty when the
// disk fills up or the write fails half-way: the bytes go to a temporary file
// beside FILE (in the directory of a symlink's target, so the link survives),
// every write and the close are checked, and only then is the temporary
// renamed over FILE. Outputs that are not regular files (`/dev/stdout`, a
// FIFO, `/dev/full`) cannot be renamed over and are written in place, still
// with every error reported. Plain POSIX so LLVM-free tools can use it.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_WRITEFILE_H
#define HAT_SUPPORT_WRITEFILE_H

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace hat {

/// Makes a write past RLIMIT_FSIZE fail with EFBIG (reported like a full
/// disk) instead of killing the tool with SIGXFSZ.
inline void reportFileSizeLimitAsError() { std::signal(SIGXFSZ, SIG_IGN); }

namespace detail {
inline std::string writeAll(int fd, const std::string &bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::strerror(n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return {};
}
} // namespace detail

/// Writes `bytes` to `path` atomically (see above). Returns an empty string
/// on success, else the reason ("No space left on device"); on failure an
/// existing `path` is left as it was and no temporary file remains.
inline std::string writeFileAtomically(const std::string &path,
                                       const std::string &bytes) {
  std::string target = path;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (!S_ISREG(info.st_mode)) {
      if (S_ISDIR(info.st_mode))
        return "is a directory";
      int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return std::strerror(errno);
      std::string error = detail::writeAll(fd, bytes);
      if (::close(fd) != 0 && error.empty())
        error = std::strerror(errno);
      return error;
    }
    // Replace the file a symlink points to, not the link.
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved))
      target = resolved;
  }
  std::string temp = target + ".tmp-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return std::string("cannot create a temporary file beside it: ") +
           std::strerror(errno);
  std::string error = detail::writeAll(fd, bytes);
  if (error.empty() && ::fsync(fd) != 0)
    error = std::strerror(errno);
  if (::close(fd) != 0 && error.empty())
    error = std::strerror(errno);
  // mkstemp creates 0600; give the file the usual umask-based mode.
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (error.empty() && ::chmod(temp.c_str(), 0666 & ~mask) != 0)
    error = std::strerror(errno);
  if (error.empty() && ::rename(temp.c_str(), target.c_str()) != 0)
    error = std::strerror(errno);
  if (!error.empty())
    ::unlink(temp.c_str());
  return error;
}

} // namespace hat

#endif // HAT_SUPPORT_WRITEFILE_H
