//===- PostProcess.cpp - A detector's CPU post-processing by name ---------===//

#include "hat/Detection/PostProcess.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace hat::detection {

namespace {
std::vector<std::string> outputList(const nlohmann::json &outputs,
                                    const char *key, size_t levels) {
  auto it = outputs.find(key);
  if (it == outputs.end() || !it->is_array())
    throw FcosDecodeError(std::string("post_process: \"outputs\" needs a \"") +
                          key + "\" list of output names");
  std::vector<std::string> names;
  for (const auto &name : *it) {
    if (!name.is_string())
      throw FcosDecodeError(std::string("post_process: \"outputs\".\"") + key +
                            "\" must hold output names, got " + name.dump());
    names.push_back(name.get<std::string>());
  }
  if (names.size() != levels)
    throw FcosDecodeError(std::string("post_process: \"outputs\".\"") + key +
                          "\" names " + std::to_string(names.size()) +
                          " outputs for " + std::to_string(levels) +
                          " strides");
  return names;
}
} // namespace

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

DetectionPostProcessor
DetectionPostProcessor::fromJson(const std::string &json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw FcosDecodeError("post_process: not a JSON object");
  auto type = j.find("type");
  const std::string typeName =
      type != j.end() && type->is_string() ? type->get<std::string>() : "";
  if (typeName != "FCOSMultiStrideFilter" &&
      typeName != "DeformableDETRPostProcess")
    throw FcosDecodeError(
        "post_process: unsupported \"type\" " +
        (type == j.end() ? std::string("(none)") : type->dump()) +
        "; this build decodes FCOSMultiStrideFilter and "
        "DeformableDETRPostProcess");
  DetectionPostProcessor pp;
  if (typeName == "DeformableDETRPostProcess") {
    pp.kind_ = Kind::Detr;
    pp.numClasses_ = -1;
    pp.detrOptions_ = detrDecodeOptionsFromJson(json, &pp.numClasses_);
    if (pp.numClasses_ <= 0)
      throw FcosDecodeError("post_process: \"num_classes\" must be given "
                            "and positive");
    auto outputs = j.find("outputs");
    auto name = [&](const char *key) {
      if (outputs == j.end() || !outputs->is_object() ||
          !outputs->contains(key) || !(*outputs)[key].is_string())
        throw FcosDecodeError(std::string("post_process: needs an "
                                          "\"outputs\" object naming the "
                                          "\"") +
                              key + "\" output");
      return (*outputs)[key].get<std::string>();
    };
    pp.logits_ = name("logits");
    pp.boxes_ = name("boxes");
    return pp;
  }
  pp.numClasses_ = -1;
  pp.options_ = fcosDecodeOptionsFromJson(json, &pp.numClasses_);
  if (pp.numClasses_ <= 0)
    throw FcosDecodeError("post_process: \"num_classes\" must be given and "
                          "positive");
  auto outputs = j.find("outputs");
  if (outputs == j.end() || !outputs->is_object())
    throw FcosDecodeError("post_process: needs an \"outputs\" object naming "
                          "the cls, bbox and centerness outputs");
  const size_t levels = pp.options_.strides.size();
  pp.cls_ = outputList(*outputs, "cls", levels);
  pp.bbox_ = outputList(*outputs, "bbox", levels);
  pp.centerness_ = outputList(*outputs, "centerness", levels);
  return pp;
}

std::vector<ImageDetections> DetectionPostProcessor::decodeDetrOutputs(
    const std::vector<NamedOutput> &outputs) const {
  auto find = [&](const std::string &name) -> const NamedOutput & {
    auto it =
        std::find_if(outputs.begin(), outputs.end(),
                     [&](const NamedOutput &o) { return o.name == name; });
    if (it == outputs.end())
      throw FcosDecodeError("post_process: the network has no output '" + name +
                            "'");
    return *it;
  };
  const NamedOutput &logits = find(logits_);
  const NamedOutput &boxes = find(boxes_);
  if (logits.shape.size() != 3 || logits.shape[2] != numClasses_ ||
      !logits.data)
    throw FcosDecodeError("post_process: output '" + logits.name +
                          "' has shape " + shapeText(logits.shape) +
                          ", expected [N, Q, " + std::to_string(numClasses_) +
                          "]");
  if (boxes.shape.size() != 3 || boxes.shape[0] != logits.shape[0] ||
      boxes.shape[1] != logits.shape[1] || boxes.shape[2] != 4 || !boxes.data)
    throw FcosDecodeError("post_process: output '" + boxes.name +
                          "' has shape " + shapeText(boxes.shape) +
                          ", expected [" + std::to_string(logits.shape[0]) +
                          ", " + std::to_string(logits.shape[1]) + ", 4]");
  return decodeDetr(logits.data, boxes.data, static_cast<int>(logits.shape[0]),
                    static_cast<int>(logits.shape[1]), numClasses_,
                    detrOptions_);
}

std::vector<ImageDetections>
DetectionPostProcessor::decode(const std::vector<NamedOutput> &outputs) const {
  if (kind_ == Kind::Detr)
    return decodeDetrOutputs(outputs);
  auto find = [&](const std::string &name, int64_t channels,
                  int64_t batch) -> const NamedOutput & {
    auto it =
        std::find_if(outputs.begin(), outputs.end(),
                     [&](const NamedOutput &o) { return o.name == name; });
    if (it == outputs.end())
      throw FcosDecodeError("post_process: the network has no output '" + name +
                            "'");
    if (it->shape.size() != 4 || it->shape[1] != channels ||
        (batch >= 0 && it->shape[0] != batch) || !it->data)
      throw FcosDecodeError(
          "post_process: output '" + name + "' has shape " +
          shapeText(it->shape) + ", expected [N, " + std::to_string(channels) +
          ", H, W]" +
          (batch >= 0 ? " with N = " + std::to_string(batch) : std::string()));
    return *it;
  };
  int64_t batch = -1;
  std::vector<FcosLevel> levels;
  for (size_t l = 0; l < cls_.size(); ++l) {
    const NamedOutput &cls = find(cls_[l], numClasses_, batch);
    batch = cls.shape[0];
    const NamedOutput &bbox = find(bbox_[l], 4, batch);
    const NamedOutput &ctr = find(centerness_[l], 1, batch);
    for (const NamedOutput *o : {&bbox, &ctr})
      if (o->shape[2] != cls.shape[2] || o->shape[3] != cls.shape[3])
        throw FcosDecodeError("post_process: output '" + o->name +
                              "' has shape " + shapeText(o->shape) +
                              ", unlike '" + cls.name + "' " +
                              shapeText(cls.shape));
    FcosLevel level;
    level.cls = cls.data;
    level.bbox = bbox.data;
    level.centerness = ctr.data;
    level.height = static_cast<int>(cls.shape[2]);
    level.width = static_cast<int>(cls.shape[3]);
    levels.push_back(level);
  }
  return decodeFcos(levels, static_cast<int>(batch), numClasses_, options_);
}

void DetectionPostProcessor::toOriginalImage(ImageDetections &detections,
                                             const ImageMeta &meta) {
  const auto &v = meta.validRegion;
  // Boxes reaching into the padding are cut at the image's edge first, so
  // the clamp to the original size below agrees with it.
  if (v[2] > v[0] && v[3] > v[1])
    for (Box &box : detections.boxes) {
      box.x1 = std::clamp(box.x1, v[0], v[2]);
      box.x2 = std::clamp(box.x2, v[0], v[2]);
      box.y1 = std::clamp(box.y1, v[1], v[3]);
      box.y2 = std::clamp(box.y2, v[1], v[3]);
    }
  rescaleDetections(detections, meta.scaleX, meta.scaleY,
                    static_cast<float>(meta.originalWidth),
                    static_cast<float>(meta.originalHeight), v[0], v[1]);
}

} // namespace hat::detection
