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

/// Writes an error to `errors` at the first too-deep bracket of the buffer
/// `bufferId` in `sourceMgr` and returns false; true when the nesting is
/// acceptable.
inline bool checkMlirNesting(llvm::SourceMgr &sourceMgr, unsigned bufferId,
                             llvm::raw_ostream &errors = llvm::errs()) {
  llvm::StringRef text = sourceMgr.getMemoryBuffer(bufferId)->getBuffer();
  const size_t at = findExcessiveNesting(text);
  if (at == llvm::StringRef::npos)
    return true;
  // file:line:col without the echoed source line, which here is the very
  // line that is thousands of brackets long.
  llvm::SMLoc loc = llvm::SMLoc::getFromPointer(text.data() + at);
  auto [line, column] = sourceMgr.getLineAndColumn(loc, bufferId);
  errors << sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier() << ":"
         << line << ":" << column << ": error: nesting deeper than "
         << kMaxMlirNesting
         << " brackets/regions; refused before parsing (the MLIR "
            "parser recurses once per level)\n";
  return false;
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
