//===- Blocks.h - Building blocks shared by several backbones ---*- C++ -*-===//

#ifndef HAT_LIB_MODELS_BLOCKS_H
#define HAT_LIB_MODELS_BLOCKS_H

#include "hat/Models/NetBuilder.h"

namespace hat::models {

/// ResNet's BasicBlock with torchvision's parameter names (conv1, bn1, conv2,
/// bn2, downsample.0/1): two 3x3 conv+BN, a 1x1 conv+BN shortcut when the
/// stride or the width changes, ReLU after the sum.
inline mlir::Value basicBlock(NetBuilder &nb, mlir::Value x, int64_t planes,
                              int64_t stride) {
  mlir::Value identity = x;
  mlir::Value y = nb.conv2d(x, planes, 3, stride, 1, 1, false, 1, "conv1");
  y = nb.activation(nb.batchNorm(y, "bn1"), Activation::Relu);
  y = nb.conv2d(y, planes, 3, 1, 1, 1, false, 1, "conv2");
  y = nb.batchNorm(y, "bn2");
  if (stride != 1 || NetBuilder::channels(x) != planes) {
    NetBuilder::Scope s(nb, "downsample");
    identity =
        nb.batchNorm(nb.conv2d(x, planes, 1, stride, 0, 1, false, 1, "0"), "1");
  }
  return nb.activation(nb.add(y, identity), Activation::Relu);
}

} // namespace hat::models

#endif // HAT_LIB_MODELS_BLOCKS_H
