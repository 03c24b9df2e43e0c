//===- LayerName.h - The layer name an op's location carries ----*- C++ -*-===//
//
// Model builders give every op a NameLoc with its scoped layer name
// (`encoder.layers.0.norm1`) and passes keep locations, so float, fake-quant
// and integer IR name a layer alike.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DIALECT_LAYERNAME_H
#define HAT_DIALECT_LAYERNAME_H

#include "mlir/IR/Location.h"

#include <optional>
#include <string>

namespace hat {

/// The first NameLoc's name in `loc` (through fused and call-site
/// wrappers); nullopt when it has none.
inline std::optional<std::string> layerNameOf(mlir::Location loc) {
  if (auto name = mlir::dyn_cast<mlir::NameLoc>(loc))
    return name.getName().str();
  if (auto fused = mlir::dyn_cast<mlir::FusedLoc>(loc))
    for (mlir::Location inner : fused.getLocations())
      if (auto n = layerNameOf(inner))
        return n;
  if (auto call = mlir::dyn_cast<mlir::CallSiteLoc>(loc))
    return layerNameOf(call.getCallee());
  return std::nullopt;
}

} // namespace hat

#endif // HAT_DIALECT_LAYERNAME_H
