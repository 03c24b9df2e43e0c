//===- GaNetCodec.cpp - GaNet's keypoint maps: targets and decoder --------===//

#include "hat/Lane/GaNetCodec.h"

#include <algorithm>
#include <cmath>

namespace hat::lane {

namespace {
/// x of the polyline at height y (linear between the two points around y),
/// or NaN when y is outside every segment.
float polylineXAt(const Lane &lane, float y) {
  for (size_t i = 0; i + 1 < lane.size(); ++i) {
    const LanePoint &a = lane[i], &b = lane[i + 1];
    const float lo = std::min(a.y, b.y), hi = std::max(a.y, b.y);
    if (y < lo || y > hi)
      continue;
    if (a.y == b.y)
      return 0.5f * (a.x + b.x);
    const float t = (y - a.y) / (b.y - a.y);
    return a.x + t * (b.x - a.x);
  }
  return std::nanf("");
}

void drawGaussian(std::vector<float> &heatmap, int width, int height, int cx,
                  int cy, int radius) {
  const double sigma = (2.0 * radius + 1.0) / 6.0;
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const int x = cx + dx, y = cy + dy;
      if (x < 0 || y < 0 || x >= width || y >= height)
        continue;
      const float g = static_cast<float>(
          std::exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma)));
      float &cell = heatmap[static_cast<size_t>(y) * width + x];
      cell = std::max(cell, g);
    }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
} // namespace

GaNetTargets encodeGaNet(const std::vector<Lane> &lanes, int inputHeight,
                         int inputWidth, const GaNetTargetOptions &options) {
  const int d = options.downscale;
  if (d <= 0 || options.radius < 0)
    throw std::invalid_argument("GaNet targets: downscale must be positive "
                                "and radius >= 0");
  if (inputHeight < d || inputWidth < d)
    throw std::invalid_argument("GaNet targets: the input is smaller than "
                                "one cell of the map");
  GaNetTargets t;
  t.height = inputHeight / d;
  t.width = inputWidth / d;
  const size_t plane = static_cast<size_t>(t.height) * t.width;
  t.heatmap.assign(plane, 0.f);
  t.pointOffset.assign(2 * plane, 0.f);
  t.startOffset.assign(2 * plane, 0.f);
  t.offsetMask.assign(plane, 0.f);
  for (const Lane &lane : lanes) {
    if (lane.size() < 2)
      continue;
    // Keypoints bottom-up: the first is the lane's start point.
    std::vector<LanePoint> points;
    for (int r = t.height - 1; r >= 0; --r) {
      const float y = (r + 0.5f) * d;
      const float x = polylineXAt(lane, y);
      if (!std::isfinite(x) || x < 0 || x >= static_cast<float>(t.width * d))
        continue;
      points.push_back({x / d, y / d});
    }
    if (points.size() < 2)
      continue;
    const LanePoint start = points.front();
    for (const LanePoint &p : points) {
      const int cx = static_cast<int>(std::floor(p.x));
      const int cy = static_cast<int>(std::floor(p.y));
      const size_t at = static_cast<size_t>(cy) * t.width + cx;
      drawGaussian(t.heatmap, t.width, t.height, cx, cy, options.radius);
      t.pointOffset[at] = p.x - cx;
      t.pointOffset[plane + at] = p.y - cy;
      t.startOffset[at] = start.x - cx;
      t.startOffset[plane + at] = start.y - cy;
      t.offsetMask[at] = 1.f;
    }
    t.keypoints.push_back(std::move(points));
  }
  return t;
}

std::vector<Lane> decodeGaNet(const GaNetMaps &maps,
                              const GaNetDecodeOptions &options) {
  const int w = maps.width, h = maps.height;
  const size_t plane = static_cast<size_t>(h) * w;
  const float d = static_cast<float>(options.downscale);
  auto heat = [&](int x, int y) {
    const float v = maps.heatmap[static_cast<size_t>(y) * w + x];
    return options.heatmapIsLogit ? sigmoid(v) : v;
  };
  struct Keypoint {
    int x, y;
    float rootX, rootY; // cell + start offset
  };
  std::vector<Keypoint> keypoints;
  std::vector<std::pair<float, float>> roots;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float v = heat(x, y);
      if (!(v > options.kptThr))
        continue;
      // 1x3 max pool: keep the row maximum (ties keep every maximum).
      if ((x > 0 && heat(x - 1, y) > v) || (x + 1 < w && heat(x + 1, y) > v))
        continue;
      const size_t at = static_cast<size_t>(y) * w + x;
      const float ox = maps.startOffset[at], oy = maps.startOffset[plane + at];
      keypoints.push_back({x, y, x + ox, y + oy});
      if (oy < options.rootThr)
        roots.emplace_back(static_cast<float>(x), static_cast<float>(y));
    }
  // Group the start points, then average each group (whole cells).
  std::vector<std::vector<std::pair<float, float>>> groups;
  for (const auto &root : roots) {
    bool placed = false;
    for (auto &group : groups) {
      for (const auto &member : group)
        if (std::hypot(root.first - member.first,
                       root.second - member.second) <= options.clusterThr) {
          group.push_back(root);
          placed = true;
          break;
        }
      if (placed)
        break;
    }
    if (!placed)
      groups.push_back({root});
  }
  std::vector<std::pair<float, float>> centres;
  for (const auto &group : groups) {
    double sx = 0, sy = 0;
    for (const auto &m : group)
      sx += m.first, sy += m.second;
    centres.emplace_back(std::trunc(sx / group.size()),
                         std::trunc(sy / group.size()));
  }
  std::vector<Lane> lanes(centres.size());
  for (const Keypoint &k : keypoints) {
    for (size_t c = 0; c < centres.size(); ++c)
      if (std::hypot(k.rootX - centres[c].first, k.rootY - centres[c].second) <=
          options.clusterThr) {
        const size_t at = static_cast<size_t>(k.y) * w + k.x;
        lanes[c].push_back({(k.x + maps.pointOffset[at]) * d,
                            (k.y + maps.pointOffset[plane + at]) * d});
        break;
      }
  }
  std::vector<std::pair<float, Lane>> ordered;
  for (size_t c = 0; c < lanes.size(); ++c) {
    Lane &lane = lanes[c];
    if (static_cast<int>(lane.size()) < std::max(options.minPoints, 2))
      continue;
    std::stable_sort(
        lane.begin(), lane.end(),
        [](const LanePoint &a, const LanePoint &b) { return a.y < b.y; });
    ordered.emplace_back(centres[c].first, std::move(lane));
  }
  std::stable_sort(
      ordered.begin(), ordered.end(),
      [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<Lane> out;
  for (auto &entry : ordered)
    out.push_back(std::move(entry.second));
  return out;
}

void lanesToOriginalImage(std::vector<Lane> &lanes, float scaleX, float scaleY,
                          float cropX, float cropY) {
  if (!(scaleX > 0) || !(scaleY > 0))
    throw std::invalid_argument("lanesToOriginalImage: scales must be "
                                "positive");
  for (Lane &lane : lanes)
    for (LanePoint &p : lane) {
      p.x = p.x / scaleX + cropX;
      p.y = p.y / scaleY + cropY;
    }
}

} // namespace hat::lane
