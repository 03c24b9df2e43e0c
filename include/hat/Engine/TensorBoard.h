//===- TensorBoard.h - Logged values as TensorBoard scalars -----*- C++ -*-===//

#ifndef HAT_ENGINE_TENSORBOARD_H
#define HAT_ENGINE_TENSORBOARD_H

#include "hat/Engine/Logger.h"

#include <memory>
#include <string>

namespace hat::engine {

/// The scalar tag of a logged value: `<group>/<name>`, where the group is the
/// log prefix without its `Epoch[..]`/`Step[..]` counters ("train" when
/// nothing else is left, as for StatsMonitor), so one tag collects a value
/// over the whole stage: "train/loss", "Validation/accuracy",
/// "CosLrUpdater/lr".
std::string tensorBoardTag(const std::string &prefix, const std::string &name);

/// A Logger sink writing every logged value at its global step into a new
/// event file in `directory`; null and `error` set when it cannot be created.
std::shared_ptr<LogSink> makeTensorBoardSink(const std::string &directory,
                                             std::string &error);

} // namespace hat::engine

#endif // HAT_ENGINE_TENSORBOARD_H
