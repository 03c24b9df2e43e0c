//===- CommandLine.h - Keep a tool's --help about the tool ------*- C++ -*-===//
//
// Linking libLLVM registers hundreds of backend options (AMDGPU, AArch64,
// ...) that would bury a tool's own flags in --help. Tools call this with
// their option category before parsing; the hidden options still work.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_COMMANDLINE_H
#define HAT_SUPPORT_COMMANDLINE_H

#include "llvm/Support/CommandLine.h"

namespace hat {

inline void showOnlyToolOptions(llvm::cl::OptionCategory &category) {
  llvm::cl::HideUnrelatedOptions(category);
}

} // namespace hat

#endif // HAT_SUPPORT_COMMANDLINE_H
