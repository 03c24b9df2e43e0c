//===- GaNetPostProcess.cpp - GaNet's CPU decoder by output name ----------===//

#include "hat/Lane/GaNetPostProcess.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace hat::lane {

namespace {
nlohmann::json parseObject(const std::string &json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw GaNetDecodeError("post_process: not a JSON object");
  return j;
}

double number(const nlohmann::json &j, const char *key, double fallback) {
  auto it = j.find(key);
  if (it == j.end())
    return fallback;
  if (!it->is_number() || !std::isfinite(it->get<double>()))
    throw GaNetDecodeError(std::string("post_process: \"") + key +
                           "\" must be a finite number, got " + it->dump());
  return it->get<double>();
}

int64_t integer(const nlohmann::json &j, const char *key, int64_t fallback,
                int64_t min, int64_t max) {
  auto it = j.find(key);
  if (it == j.end())
    return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < min ||
      it->get<int64_t>() > max)
    throw GaNetDecodeError(std::string("post_process: \"") + key +
                           "\" must be an integer in [" + std::to_string(min) +
                           ", " + std::to_string(max) + "], got " + it->dump());
  return it->get<int64_t>();
}
} // namespace

using detection::shapeText;

std::string GaNetPostProcessor::typeOf(const std::string &json) {
  nlohmann::json j = parseObject(json);
  auto type = j.find("type");
  if (type == j.end() || !type->is_string())
    throw GaNetDecodeError("post_process: no string \"type\"");
  return type->get<std::string>();
}

GaNetPostProcessor GaNetPostProcessor::fromJson(const std::string &json) {
  nlohmann::json j = parseObject(json);
  if (typeOf(json) != "GaNetDecoder")
    throw GaNetDecodeError("post_process: \"type\" is " + j["type"].dump() +
                           ", not \"GaNetDecoder\"");
  GaNetPostProcessor pp;
  GaNetDecodeOptions &o = pp.options_;
  o.rootThr = static_cast<float>(number(j, "root_thr", 1.0));
  o.kptThr = static_cast<float>(number(j, "kpt_thr", 0.4));
  o.clusterThr = static_cast<float>(number(j, "cluster_thr", 4.0));
  if (!(o.kptThr > 0 && o.kptThr < 1))
    throw GaNetDecodeError("post_process: \"kpt_thr\" must be in (0, 1)");
  if (!(o.clusterThr > 0))
    throw GaNetDecodeError("post_process: \"cluster_thr\" must be > 0");
  o.downscale = static_cast<int>(integer(j, "downscale", 8, 1, 1024));
  // HAT keeps a lane of more than min_points points; the codec's minPoints
  // is the smallest count kept.
  o.minPoints = static_cast<int>(
      integer(j, "min_points", 10, 0, std::numeric_limits<int>::max() - 1) + 1);
  if (auto it = j.find("heatmap_is_logit"); it != j.end()) {
    if (!it->is_boolean())
      throw GaNetDecodeError(
          "post_process: \"heatmap_is_logit\" must be true or false");
    o.heatmapIsLogit = it->get<bool>();
  }
  auto outputs = j.find("outputs");
  if (outputs == j.end() || !outputs->is_object())
    throw GaNetDecodeError("post_process: \"outputs\" must name the "
                           "kpts_hm, pts_offset and int_offset outputs");
  auto name = [&](const char *key) {
    auto it = outputs->find(key);
    if (it == outputs->end() || !it->is_string())
      throw GaNetDecodeError(std::string("post_process: \"outputs\" has no "
                                         "output name for \"") +
                             key + "\"");
    return it->get<std::string>();
  };
  pp.heatmap_ = name("kpts_hm");
  pp.startOffset_ = name("pts_offset");
  pp.pointOffset_ = name("int_offset");
  return pp;
}

std::vector<std::vector<Lane>> GaNetPostProcessor::decode(
    const std::vector<detection::NamedOutput> &outputs) const {
  auto find = [&](const std::string &name,
                  int64_t channels) -> const detection::NamedOutput & {
    for (const detection::NamedOutput &o : outputs)
      if (o.name == name) {
        if (o.shape.size() != 4 || o.shape[1] != channels || o.shape[0] < 0 ||
            o.shape[2] < 1 || o.shape[3] < 1 || !o.data)
          throw GaNetDecodeError("GaNet output '" + name + "' is " +
                                 shapeText(o.shape) + ", expected [N, " +
                                 std::to_string(channels) + ", H, W]");
        return o;
      }
    throw GaNetDecodeError("the model has no output '" + name +
                           "' that GaNetDecoder reads");
  };
  const detection::NamedOutput &heat = find(heatmap_, 1);
  const detection::NamedOutput &start = find(startOffset_, 2);
  const detection::NamedOutput &point = find(pointOffset_, 2);
  for (const detection::NamedOutput *o : {&start, &point})
    if (o->shape[0] != heat.shape[0] || o->shape[2] != heat.shape[2] ||
        o->shape[3] != heat.shape[3])
      throw GaNetDecodeError("GaNet output '" + o->name + "' is " +
                             shapeText(o->shape) + ", the heatmap " +
                             shapeText(heat.shape) +
                             ": the maps must have the same N, H and W");
  const int64_t n = heat.shape[0], h = heat.shape[2], w = heat.shape[3];
  const int64_t plane = h * w;
  std::vector<std::vector<Lane>> lanes;
  lanes.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    GaNetMaps maps;
    maps.heatmap = heat.data + i * plane;
    maps.startOffset = start.data + i * 2 * plane;
    maps.pointOffset = point.data + i * 2 * plane;
    maps.height = static_cast<int>(h);
    maps.width = static_cast<int>(w);
    lanes.push_back(decodeGaNet(maps, options_));
  }
  return lanes;
}

} // namespace hat::lane
