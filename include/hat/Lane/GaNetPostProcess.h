//===- GaNetPostProcess.h - GaNet's CPU decoder by output name --*- C++ -*-===//
//
// The lane detector's counterpart of hat::detection::DetectionPostProcessor:
// the `hat.post_process` JSON that GaNet's lowering records (and an HBM
// carries) goes in, with the network's outputs by name; per image, lanes in
// network-input pixels come out (hat/Lane/GaNetCodec.h decodes them). The
// trainer's predict path, int_infer and hat-run all decode through it, so a
// lane found on the board is the lane the trainer scored.
//
//   GaNetPostProcessor pp = GaNetPostProcessor::fromJson(json);
//   auto lanes = pp.decode(outputs);                 // input pixels
//   lanesToOriginalImage(lanes[i], sx, sy, cx, cy);  // undo Resize / crop
//
//===----------------------------------------------------------------------===//
#ifndef HAT_LANE_GANETPOSTPROCESS_H
#define HAT_LANE_GANETPOSTPROCESS_H

#include "hat/Detection/PostProcess.h"
#include "hat/Lane/GaNetCodec.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hat::lane {

/// A malformed description or outputs that do not fit it.
class GaNetDecodeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class GaNetPostProcessor {
public:
  /// The "type" of a post_process description ("GaNetDecoder",
  /// "FCOSMultiStrideFilter", ...), so a consumer can pick its decoder.
  /// Throws GaNetDecodeError when the JSON is not an object with a string
  /// "type".
  static std::string typeOf(const std::string &json);

  /// Reads a "GaNetDecoder" description: root_thr, kpt_thr, cluster_thr,
  /// downscale, min_points (HAT drops a lane of at most min_points points),
  /// heatmap_is_logit and "outputs" naming the kpts_hm (heatmap),
  /// pts_offset (start offset) and int_offset (point offset) outputs.
  /// Throws GaNetDecodeError naming the key on a malformed description.
  static GaNetPostProcessor fromJson(const std::string &json);

  /// Decodes a batch: the heatmap [N, 1, H, W] and the two offset maps
  /// [N, 2, H, W] (x plane, then y) by name. Throws GaNetDecodeError when an
  /// output is missing or the shapes disagree.
  std::vector<std::vector<Lane>>
  decode(const std::vector<detection::NamedOutput> &outputs) const;

  const GaNetDecodeOptions &options() const { return options_; }
  const std::string &heatmapOutput() const { return heatmap_; }
  const std::string &startOffsetOutput() const { return startOffset_; }
  const std::string &pointOffsetOutput() const { return pointOffset_; }

private:
  GaNetDecodeOptions options_;
  std::string heatmap_, startOffset_, pointOffset_;
};

} // namespace hat::lane

#endif // HAT_LANE_GANETPOSTPROCESS_H
