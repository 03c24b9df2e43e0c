//===- ParseMlir.h - Parse MLIR text with a bounded nesting depth -*- C++
//-*-===//
//
// MLIR's parser, verifier and printer recurse once per nested region,
// bracket or type: 5,000 nested `module {` or 50,000 `[` in a `dense<>`
// overflow the main thread's stack (SIGSEGV). Every HAT tool that reads MLIR
// text goes through parseMlirFile (or, for hat-opt, checkMlirNesting on the
// buffer it hands to MlirOptMain; the mlir fuzzer calls parseMlirBuffer,
// what parseMlirFile does once the file is read), which refuses text nested
// deeper than kMaxMlirNesting before the parser sees it, with an error at
// the position where the limit is crossed. Real models nest a few levels
// (module, func, a rank-4 dense literal); the limit is far above that and far
// below the depth that exhausts an 8 MiB stack (measured:
// docs/architecture.md).
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_PARSEMLIR_H
#define HAT_SUPPORT_PARSEMLIR_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace hat {

/// Deepest nesting of ( [ { < accepted in MLIR text.
constexpr size_t kMaxMlirNesting = 256;

/// Offset of the first bracket that nests deeper than `limit` in `text`
/// (string literals and `//` comments skipped), or npos when none does.
/// `->` is an arrow, not a closing bracket.
inline size_t findExcessiveNesting(llvm::StringRef text,
                                   size_t limit = kMaxMlirNesting) {
  size_t depth = 0;
  for (size_t i = 0, n = text.size(); i < n; ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < n && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i < n && text[i] != '\n')
        ++i;
    } else if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > limit)
        return i;
    } else if (c == ')' || c == ']' || c == '}' ||
               (c == '>' && (i == 0 || text[i - 1] != '-'))) {
      // Unbalanced closers (affine `>=`, malformed text) never count below
      // zero: the parser reports those, the scan only bounds depth.
      if (depth)
        --depth;
    }
  }
  return llvm::StringRef::npos;
}

/// Offset of the first element of a boolean dense array written with an
/// integer (`array<i1: 1, 0>`, also `i01`) in `text`, or npos. MLIR 19's
/// parser accepts these but stores the attribute so that printing it reads
/// out of bounds (SIGSEGV in mlir-opt too, found by the mlir fuzzer); every
/// diagnostic on the op prints it. `true` / `false` elements are fine.
inline size_t findIntegerBoolArray(llvm::StringRef text) {
  auto isSpace = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  for (size_t i = 0, n = text.size(); i < n; ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < n && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i < n && text[i] != '\n')
        ++i;
      continue;
    }
    if (!text.substr(i).starts_with("array<"))
      continue;
    size_t j = i + 6;
    while (j < n && isSpace(text[j]))
      ++j;
    if (j >= n || text[j] != 'i')
      continue;
    ++j;
    while (j < n && text[j] == '0')
      ++j;
    if (j >= n || text[j] != '1' || j + 1 >= n ||
        (text[j + 1] >= '0' && text[j + 1] <= '9'))
      continue;
    ++j;
    while (j < n && isSpace(text[j]))
      ++j;
    if (j >= n || text[j] != ':')
      continue;
    // The elements up to '>': each must be `true` or `false`.
    for (++j; j < n && text[j] != '>';) {
      if (isSpace(text[j]) || text[j] == ',') {
        ++j;
        continue;
      }
      const size_t start = j;
      while (j < n && !isSpace(text[j]) && text[j] != ',' && text[j] != '>')
        ++j;
      const llvm::StringRef word = text.slice(start, j);
      if (word != "true" && word != "false")
        return start;
    }
  }
  return llvm::StringRef::npos;
}

/// The checks made on MLIR text before the parser sees it: nesting bounded
/// by kMaxMlirNesting (findExcessiveNesting) and no boolean dense array with
/// integer elements (findIntegerBoolArray). Writes an error at the offending
/// position of the buffer `bufferId` to `errors` and returns false; true
/// when the text may be parsed.
inline bool checkMlirNesting(llvm::SourceMgr &sourceMgr, unsigned bufferId,
                             llvm::raw_ostream &errors = llvm::errs()) {
  llvm::StringRef text = sourceMgr.getMemoryBuffer(bufferId)->getBuffer();
  // file:line:col without the echoed source line, which may be the very
  // line that is thousands of brackets long.
  auto report = [&](size_t at, const llvm::Twine &message) {
    llvm::SMLoc loc = llvm::SMLoc::getFromPointer(text.data() + at);
    auto [line, column] = sourceMgr.getLineAndColumn(loc, bufferId);
    errors << sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier() << ":"
           << line << ":" << column << ": error: " << message << "\n";
    return false;
  };
  if (size_t at = findExcessiveNesting(text); at != llvm::StringRef::npos)
    return report(at, "nesting deeper than " + llvm::Twine(kMaxMlirNesting) +
                          " brackets/regions; refused before parsing (the "
                          "MLIR parser recurses once per level)");
  if (size_t at = findIntegerBoolArray(text); at != llvm::StringRef::npos)
    return report(at, "an i1 dense array takes true/false, not integers; "
                      "refused before parsing (MLIR 19 mis-stores integer "
                      "elements of array<i1: ...> and crashes printing it)");
  return true;
}

/// Adds `buffer` to `sourceMgr`, bounds its nesting (errors to `errors`)
/// and parses and verifies it as a module. Null on any error, which has
/// been reported (the parser's and verifier's through the context's
/// diagnostic handler). The tools' path from MLIR text to a module, and
/// the one the `mlir` fuzzer exercises.
inline mlir::OwningOpRef<mlir::ModuleOp>
parseMlirBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
                llvm::raw_ostream &errors = llvm::errs()) {
  const unsigned id =
      sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  if (!checkMlirNesting(sourceMgr, id, errors))
    return nullptr;
  return mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr,
                                               mlir::ParserConfig(context));
}

/// Reads `path` ("-" is stdin) into `sourceMgr`, bounds its nesting and
/// parses it as a module (parseMlirBuffer).
inline mlir::OwningOpRef<mlir::ModuleOp>
parseMlirFile(llvm::StringRef path, llvm::SourceMgr &sourceMgr,
              mlir::MLIRContext *context) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> buffer =
      mlir::openInputFile(path, &error);
  if (!buffer) {
    llvm::errs() << error << "\n";
    return nullptr;
  }
  return parseMlirBuffer(std::move(buffer), sourceMgr, context);
}

} // namespace hat

#endif // HAT_SUPPORT_PARSEMLIR_H
