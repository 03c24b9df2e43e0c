//===- Error.h - Errors raised by HatData ---------------------------------===//
#ifndef HAT_DATA_ERROR_H
#define HAT_DATA_ERROR_H

#include <stdexcept>
#include <string>

namespace hat::data {

/// A data problem that names where it happened: the LMDB (or source file),
/// the record key and the reason, so a bad record in a 100k-image pack can be
/// found and fixed without a debugger.
class DataError : public std::runtime_error {
public:
  DataError(std::string source, std::string key, std::string reason)
      : std::runtime_error(format(source, key, reason)),
        source_(std::move(source)), key_(std::move(key)),
        reason_(std::move(reason)) {}

  const std::string &source() const { return source_; }
  const std::string &key() const { return key_; }
  const std::string &reason() const { return reason_; }

private:
  static std::string format(const std::string &source, const std::string &key,
                            const std::string &reason) {
    std::string message = source;
    if (!key.empty())
      message += " key '" + key + "'";
    return message + ": " + reason;
  }

  std::string source_, key_, reason_;
};

} // namespace hat::data

#endif // HAT_DATA_ERROR_H
