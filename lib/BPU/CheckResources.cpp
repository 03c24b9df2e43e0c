//===- CheckResources.cpp - Does each layer fit the march's SRAM? --------===//
//
// The op table (Check.cpp) cannot see sizes: whether a layer fits the SRAM
// even at its smallest tile is decided by the compiler's own tiling model.
// This runs bpu-lower, bpu-fuse and bpu-tile on a copy of the module and
// turns the tile pass's errors into LayerCheck entries, so hat-check and
// hat-compile refuse exactly what the compiler cannot tile.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/Check.h"
#include "hat/BPU/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

namespace hat::bpu {

std::vector<LayerCheck> checkResources(ModuleOp module, func::FuncOp func,
                                       const March &march) {
  // The compiler's own lowering, fusion and tiling on a copy of the module,
  // so the check and hat-compile cannot disagree about what fits.
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  std::vector<LayerCheck> out;
  std::vector<std::string> other;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    if (d.getSeverity() != DiagnosticSeverity::Error)
      return success();
    std::string message = d.str();
    // "layer 'NAME' does not fit ...": one entry per layer, by its name.
    const size_t open = message.find("layer '");
    const size_t close =
        open == std::string::npos ? open : message.find('\'', open + 7);
    if (open == 0 && close != std::string::npos) {
      LayerCheck c;
      c.name = message.substr(7, close - 7);
      c.op = "bpu tiling";
      c.supported = false;
      c.reasons.push_back(message.substr(close + 2));
      out.push_back(std::move(c));
    } else {
      other.push_back(std::move(message));
    }
    return success();
  });
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  BpuLowerOptions lower;
  lower.march = march.name;
  lower.function = func.getSymName().str();
  pm.addPass(createBpuLower(lower));
  pm.addPass(createBpuFuse());
  BpuTileOptions tile;
  tile.search = false; // a fit exists iff the smallest tile fits
  pm.addPass(createBpuTile(tile));
  if (failed(pm.run(*copy)) && out.empty()) {
    LayerCheck c;
    c.name = func.getSymName().str();
    c.op = "func.func";
    c.supported = false;
    c.reasons = other.empty()
                    ? std::vector<std::string>{"the bpu lowering failed"}
                    : other;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<LayerCheck> checkModule(ModuleOp module, func::FuncOp func,
                                    const March &march) {
  std::vector<LayerCheck> checks = checkFunction(func, march);
  if (!allSupported(checks))
    return checks; // lowering needs every op supported
  for (LayerCheck &r : checkResources(module, func, march)) {
    auto same = llvm::find_if(
        checks, [&](const LayerCheck &c) { return c.name == r.name; });
    if (same == checks.end()) {
      checks.push_back(std::move(r));
      continue;
    }
    same->supported = false;
    same->reasons.insert(same->reasons.end(), r.reasons.begin(),
                         r.reasons.end());
  }
  return checks;
}

} // namespace hat::bpu
