//===- ConfigBuild.h - Config-side helpers of the data area ---------------===//
//
// What engine and tools need from the data area's registry builders beyond
// Registry::build: batch_processor's batch_transforms, and a summary of a
// collated batch for `hat-config data`.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DATA_CONFIGBUILD_H
#define HAT_DATA_CONFIGBUILD_H

#include "hat/Config/Config.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Transforms.h"

#include <string>
#include <vector>

namespace hat::data {

/// Builds a batch_transforms list (None: empty) through the registry as
/// "transform"s and checks each works on a collated batch (BgrToYuv444,
/// Normalize, TorchVisionAdapter(interface="Normalize")). Errors point at
/// the offending dict; an error about the list itself has no location (the
/// caller places it).
config::Expected<std::vector<TransformPtr>>
buildBatchTransforms(const config::Value &list);

/// One line of JSON describing `batch`: its shape, colour spaces, per-image
/// box and lane counts, lane points, and the minimum, maximum and mean of
/// each channel (over the whole batch, padding included).
std::string batchSummaryJson(const Batch &batch);

} // namespace hat::data

#endif // HAT_DATA_CONFIGBUILD_H
