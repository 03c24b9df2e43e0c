//===- DetrDecode.cpp - DETR-style set prediction to detections -----------===//

#include "hat/Detection/DetrDecode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hat::detection {

DetrDecodeOptions detrDecodeOptionsFromJson(const std::string &json,
                                            int *numClasses) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw FcosDecodeError("post_process: not a JSON object");
  DetrDecodeOptions options;
  if (auto it = j.find("num_select"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > (1 << 20))
      throw FcosDecodeError("post_process: \"num_select\" must be an integer "
                            "in [1, 1048576], got " +
                            it->dump());
    options.numSelect = it->get<int>();
  }
  auto size = j.find("input_size");
  if (size == j.end() || !size->is_array() || size->size() != 2 ||
      !(*size)[0].is_number_integer() || !(*size)[1].is_number_integer() ||
      (*size)[0].get<int64_t>() < 1 || (*size)[1].get<int64_t>() < 1)
    throw FcosDecodeError(
        "post_process: \"input_size\" must be the network "
        "input's [height, width], got " +
        (size == j.end() ? std::string("(none)") : size->dump()));
  options.inputHeight = static_cast<float>((*size)[0].get<int64_t>());
  options.inputWidth = static_cast<float>((*size)[1].get<int64_t>());
  if (numClasses)
    if (auto it = j.find("num_classes"); it != j.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
          it->get<int64_t>() > (1 << 20))
        throw FcosDecodeError("post_process: \"num_classes\" must be a "
                              "positive integer, got " +
                              it->dump());
      *numClasses = it->get<int>();
    }
  return options;
}

std::vector<ImageDetections> decodeDetr(const float *logits, const float *boxes,
                                        int batchSize, int queries,
                                        int numClasses,
                                        const DetrDecodeOptions &options) {
  if (batchSize < 0 || queries < 0 || numClasses < 1)
    throw FcosDecodeError("DETR decode: bad sizes (batch " +
                          std::to_string(batchSize) + ", queries " +
                          std::to_string(queries) + ", classes " +
                          std::to_string(numClasses) + ")");
  if (!(options.inputHeight > 0) || !(options.inputWidth > 0))
    throw FcosDecodeError("DETR decode: the input size must be positive");
  const size_t candidates = size_t(queries) * size_t(numClasses);
  const size_t keep = std::min(candidates, size_t(options.numSelect));
  std::vector<ImageDetections> result(batchSize);
  std::vector<size_t> order(candidates);
  for (int n = 0; n < batchSize; ++n) {
    const float *l = logits + size_t(n) * candidates;
    const float *b = boxes + size_t(n) * size_t(queries) * 4;
    // sigmoid is monotonic: rank the logits, convert the kept ones. NaN
    // logits rank last so they never displace a real score.
    auto before = [&](size_t a, size_t c) {
      const float la = l[a], lc = l[c];
      const bool na = std::isnan(la), nc = std::isnan(lc);
      if (na != nc)
        return nc;
      if (!na && la != lc)
        return la > lc;
      return a < c;
    };
    std::iota(order.begin(), order.end(), size_t(0));
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), before);
    ImageDetections &d = result[n];
    for (size_t k = 0; k < keep; ++k) {
      const size_t flat = order[k];
      const size_t q = flat / size_t(numClasses);
      const float *box = b + q * 4;
      const float cx = box[0], cy = box[1], w = box[2], h = box[3];
      Box corner;
      corner.x1 = (cx - 0.5f * w) * options.inputWidth;
      corner.y1 = (cy - 0.5f * h) * options.inputHeight;
      corner.x2 = (cx + 0.5f * w) * options.inputWidth;
      corner.y2 = (cy + 0.5f * h) * options.inputHeight;
      d.boxes.push_back(corner);
      d.scores.push_back(1.f / (1.f + std::exp(-l[flat])));
      d.labels.push_back(static_cast<int>(flat % size_t(numClasses)));
    }
  }
  return result;
}

} // namespace hat::detection
