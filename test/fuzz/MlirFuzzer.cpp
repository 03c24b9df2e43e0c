//===- MlirFuzzer.cpp - libFuzzer target: hat-opt's parser path -----------===//
//
// What `hat-opt FILE` does before any pass: parse the text into a module
// (top-level ops wrapped in an implicit module, as mlir-opt does) and verify
// it, with the hat and func dialects loaded; then the property that the
// printed module parses and verifies again, so every hat op's printer and
// parser agree and its verifier accepts what it printed.
//
// Only the hat dialect's parsers, printers and verifiers are instrumented:
// libMLIR itself is Debian's prebuilt library.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
// MLIR's parser recurses once per nested region, bracket or type, so deep
// enough nesting overflows the stack (issue 17, finding 8: hat-opt and
// hat-calops crash on 5,000 nested `module {`). Until the tools bound the
// nesting before parsing, inputs nested deeper than this are rejected here
// (return -1: not added to the corpus) so the fuzzer looks for other bugs.
constexpr int kMaxNesting = 128;

int nestingDepth(const std::string &text) {
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '(' || c == '[' || c == '{' || c == '<')
      deepest = std::max(deepest, ++depth);
    else if (c == ')' || c == ']' || c == '}' ||
             (c == '>' && (i == 0 || text[i - 1] != '-')))
      --depth;
  }
  return deepest;
}

mlir::OwningOpRef<mlir::ModuleOp> parse(const std::string &text,
                                        mlir::MLIRContext &context) {
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.mlir"), llvm::SMLoc());
  mlir::ParserConfig config(&context, /*verifyAfterParse=*/true);
  return mlir::parseSourceFile<mlir::ModuleOp>(sources, config);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  if (nestingDepth(text) > kMaxNesting)
    return -1;

  // A fresh context per input: attributes and types are uniqued in the
  // context for its lifetime, so a shared one would grow without bound.
  mlir::DialectRegistry registry;
  registry.insert<hat::HatDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str();
    return mlir::success();
  });

  mlir::OwningOpRef<mlir::ModuleOp> module = parse(text, context);
  if (!module) {
    if (diagnostics.empty())
      std::abort(); // a refusal must say why
    return 0;
  }
  std::string printed;
  {
    llvm::raw_string_ostream os(printed);
    module->print(os);
  }
  mlir::OwningOpRef<mlir::ModuleOp> again = parse(printed, context);
  if (!again) {
    llvm::errs() << "printed module does not parse again:\n"
                 << printed << "\n"
                 << diagnostics << "\n";
    std::abort();
  }
  return 0;
}
