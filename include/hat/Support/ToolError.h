//===- ToolError.h - One "error:" per tool error line -----------*- C++ -*-===//
//
// Errors reach a tool's main either as plain messages ("missing --config")
// or as located diagnostics that carry their own severity
// ("tiny.py:12:5: error: ..." from the config front end). Prefixing both
// with "<tool>: error: " printed "error:" twice for the second kind; this
// keeps the tool's name and exactly one severity.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_TOOLERROR_H
#define HAT_SUPPORT_TOOLERROR_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace hat {

/// True when the first line of `message` already states its severity: it
/// starts with "error: " or contains ": error: " (a located diagnostic).
inline bool carriesSeverity(llvm::StringRef message) {
  const llvm::StringRef first = message.split('\n').first;
  return first.starts_with("error: ") || first.contains(": error: ");
}

/// "<tool>: error: <message>", or "<tool>: <message>" when the message
/// already says "error:".
inline std::string toolErrorLine(llvm::StringRef tool,
                                 llvm::StringRef message) {
  std::string line = tool.str();
  line += carriesSeverity(message) ? ": " : ": error: ";
  line += message;
  return line;
}

} // namespace hat

#endif // HAT_SUPPORT_TOOLERROR_H
