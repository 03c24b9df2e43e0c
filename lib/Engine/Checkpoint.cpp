//===- Checkpoint.cpp - Atomic checkpoints of model, optimizer, progress --===//
//
// A checkpoint is a LibTorch archive (the zip format torch::save writes)
// holding the model's named tensors as two lists (names, tensors), the
// optimizer's archive, and the stage/epoch/step/metrics. It is written to a
// temporary file in the same directory and renamed, so a crash mid-write
// leaves the previous checkpoint intact. HAT's `.pth.tar` names are kept,
// but the content is this format, not a Python pickle.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Engine.h"

#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <unistd.h>

namespace hat::engine {

namespace {
constexpr int64_t kFormatVersion = 1;
}

void saveCheckpoint(const std::string &path, const CheckpointData &data,
                    torch::optim::Optimizer *optimizer) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path())
    fs::create_directories(target.parent_path(), ec);
  torch::serialize::OutputArchive archive;
  archive.write("hat_checkpoint_version", c10::IValue(kFormatVersion));
  archive.write("stage", c10::IValue(data.stage));
  archive.write("epoch", c10::IValue(data.epoch));
  archive.write("global_step", c10::IValue(data.globalStep));
  archive.write("metrics", c10::IValue(data.metricsJson));
  auto writeTensors = [&](const std::string &prefix,
                          const exec::NamedTensors &named) {
    c10::List<std::string> names;
    c10::List<at::Tensor> tensors;
    for (auto &[name, tensor] : named) {
      names.push_back(name);
      tensors.push_back(tensor.detach().cpu());
    }
    archive.write(prefix + "_names", c10::IValue(names));
    archive.write(prefix + "_tensors", c10::IValue(tensors));
  };
  writeTensors("model", data.model);
  if (!data.live.empty())
    writeTensors("live", data.live);
  if (optimizer) {
    torch::serialize::OutputArchive optimizerArchive;
    optimizer->save(optimizerArchive);
    archive.write("optimizer", optimizerArchive);
  }
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    archive.save_to(tmp);
  } catch (const std::exception &e) {
    fs::remove(tmp, ec);
    throw EngineError("cannot write checkpoint " + path + ": " + e.what());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw EngineError("cannot write checkpoint " + path + ": " + ec.message());
  }
}

CheckpointData loadCheckpoint(const std::string &path,
                              torch::optim::Optimizer *optimizer) {
  if (!std::filesystem::exists(path))
    throw EngineError("checkpoint " + path +
                      " does not exist (did the previous stage run and save "
                      "it?)");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception &e) {
    std::string what = e.what();
    throw EngineError("checkpoint " + path +
                      " is corrupt or not a HAT checkpoint: " +
                      what.substr(0, what.find('\n')));
  }
  CheckpointData data;
  try {
    c10::IValue v;
    if (!archive.try_read("hat_checkpoint_version", v))
      throw EngineError("checkpoint " + path +
                        " is not a HAT checkpoint (no version record)");
    if (v.toInt() != kFormatVersion)
      throw EngineError("checkpoint " + path + " has format version " +
                        std::to_string(v.toInt()) + ", this build reads " +
                        std::to_string(kFormatVersion));
    archive.read("stage", v);
    data.stage = v.toStringRef();
    archive.read("epoch", v);
    data.epoch = v.toInt();
    archive.read("global_step", v);
    data.globalStep = v.toInt();
    archive.read("metrics", v);
    data.metricsJson = v.toStringRef();
    auto readTensors = [&](const std::string &prefix, exec::NamedTensors &out,
                           bool required) {
      c10::IValue names, tensors;
      if (!archive.try_read(prefix + "_names", names) ||
          !archive.try_read(prefix + "_tensors", tensors)) {
        if (required)
          throw EngineError("checkpoint " + path + " has no " + prefix +
                            " tensors");
        return;
      }
      auto nameList = names.toList();
      auto tensorList = tensors.toTensorList();
      if (nameList.size() != tensorList.size())
        throw EngineError("checkpoint " + path + " is corrupt: " +
                          std::to_string(nameList.size()) + " names for " +
                          std::to_string(tensorList.size()) + " tensors");
      for (size_t i = 0; i < nameList.size(); ++i)
        out.emplace_back(nameList.get(i).toStringRef(), tensorList[i]);
    };
    readTensors("model", data.model, /*required=*/true);
    readTensors("live", data.live, /*required=*/false);
    if (optimizer) {
      torch::serialize::InputArchive optimizerArchive;
      if (!archive.try_read("optimizer", optimizerArchive))
        throw EngineError("checkpoint " + path +
                          " has no optimizer state to resume from");
      optimizer->load(optimizerArchive);
    }
  } catch (const EngineError &) {
    throw;
  } catch (const std::exception &e) {
    std::string what = e.what();
    throw EngineError("checkpoint " + path +
                      " is corrupt: " + what.substr(0, what.find('\n')));
  }
  return data;
}

} // namespace hat::engine
