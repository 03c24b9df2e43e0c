//===- FuseBN.cpp - Fold batch_norm into conv2d/linear --------------------===//
//
// Inference-time BN is an affine per-channel map, so folding it into the
// producer's weights and bias changes nothing numerically but removes a layer
// that an integer model cannot express on its own.
//
//===----------------------------------------------------------------------===//

#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

namespace hat {
#define GEN_PASS_DEF_HATFUSEBN
#include "hat/Dialect/HatPasses.h.inc"
} // namespace hat

using namespace mlir;
using namespace hat;

namespace {
struct FuseBNPass : hat::impl::HatFuseBNBase<FuseBNPass> {
  void runOnOperation() override {
    SmallVector<BatchNormOp> bns;
    getOperation().walk([&](BatchNormOp bn) { bns.push_back(bn); });
    bool hadError = false;
    for (BatchNormOp bn : bns) {
      std::string reason;
      if (succeeded(foldBatchNorm(bn, reason)))
        continue;
      if (reason == "invalid variance")
        hadError = true;
      else
        bn.emitWarning("batch_norm not folded: ") << reason;
    }
    eraseDeadParams(getOperation());
    if (hadError)
      signalPassFailure();
  }
};
} // namespace
