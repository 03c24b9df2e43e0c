//===- Synthesize.cpp - fashion-det and CuLane-format sample generators ---===//
#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Pack.h"
#include "hat/Data/Rng.h"
#include "hat/Support/WriteFile.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace hat::data {

namespace {

// Each image has its own stream (seed, split, image index), so an image does
// not change when --num-images does.
SampleRng imageRng(const SynthesizeOptions &options, std::size_t index) {
  return SampleRng(options.seed, options.split == "train" ? 0 : 1, index);
}

// Smooth colour field + oriented stripes + fine noise: enough texture that a
// detector cannot find items by "anything non-flat".
cv::Mat texturedBackground(int width, int height, SampleRng &rng) {
  cv::Mat coarse(6, 6, CV_32FC3);
  const cv::Vec3f base(rng.uniform(40, 215), rng.uniform(40, 215),
                       rng.uniform(40, 215));
  for (int y = 0; y < coarse.rows; ++y)
    for (int x = 0; x < coarse.cols; ++x)
      coarse.at<cv::Vec3f>(y, x) =
          base + cv::Vec3f(rng.uniform(-40, 40), rng.uniform(-40, 40),
                           rng.uniform(-40, 40));
  cv::Mat field;
  cv::resize(coarse, field, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  const double angle = rng.uniform(0, M_PI);
  const double period = rng.uniform(8, 40);
  const double amplitude = rng.uniform(0, 25);
  const double dx = std::cos(angle) * 2 * M_PI / period;
  const double dy = std::sin(angle) * 2 * M_PI / period;
  for (int y = 0; y < height; ++y) {
    cv::Vec3f *row = field.ptr<cv::Vec3f>(y);
    for (int x = 0; x < width; ++x) {
      const float stripe =
          static_cast<float>(amplitude * std::sin(x * dx + y * dy));
      const float noise = static_cast<float>(rng.uniform(-8, 8));
      row[x] += cv::Vec3f(stripe + noise, stripe + noise, stripe + noise);
    }
  }
  cv::Mat image;
  field.convertTo(image, CV_8UC3);
  return image;
}

float iou(const cv::Rect &a, const cv::Rect &b) {
  const float inter = static_cast<float>((a & b).area());
  return inter / static_cast<float>(a.area() + b.area() - inter);
}

/// What a synthesis run created, removed again (newest first) unless the run
/// completes: a failed run leaves --out as it found it.
class CreatedPaths {
public:
  ~CreatedPaths() {
    if (done_)
      return;
    std::error_code ec;
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it)
      fs::remove_all(*it, ec);
  }
  /// create_directories, remembering the topmost directory it created.
  void makeDirectories(const fs::path &dir) {
    fs::path missing;
    for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
      missing = p;
      if (p == p.parent_path())
        break;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      throw DataError(dir.string(), "",
                      "cannot create directory: " + ec.message());
    if (!missing.empty())
      paths_.push_back(missing);
  }
  /// Remembers a file about to be written if it does not exist yet.
  void newFile(const fs::path &file) {
    if (!fs::exists(file))
      paths_.push_back(file);
  }
  void keep() { done_ = true; }

private:
  std::vector<fs::path> paths_;
  bool done_ = false;
};

void progressTo(const SynthesizeOptions &options, std::size_t done) {
  if (options.progress)
    options.progress(done, options.numImages);
}

void synthesizeFashionDet(const SynthesizeOptions &options) {
  const std::string dir = options.fashionMnistDir.empty()
                              ? kDefaultFashionMnistDir
                              : options.fashionMnistDir;
  FashionMnistSplit source = readFashionMnist(dir, options.split);
  const std::size_t numItems = source.labels.dims[0];
  const int itemRows = static_cast<int>(source.images.dims[1]);
  const int itemCols = static_cast<int>(source.images.dims[2]);
  const int size = options.size;
  const std::string year = options.split + "2017";
  const fs::path imageDir = fs::path(options.out) / year;
  const fs::path annotationDir = fs::path(options.out) / "annotations";
  CreatedPaths created;
  created.makeDirectories(imageDir);
  created.makeDirectories(annotationDir);

  nlohmann::json images = nlohmann::json::array();
  nlohmann::json annotations = nlohmann::json::array();
  int64_t annotationId = 1;
  for (std::size_t i = 0; i < options.numImages; ++i) {
    SampleRng rng = imageRng(options, i);
    cv::Mat canvas = texturedBackground(size, size, rng);
    std::vector<cv::Rect> placed;
    const int wanted = static_cast<int>(rng.uniformInt(1, 6));
    for (int attempt = 0;
         attempt < wanted * 20 && static_cast<int>(placed.size()) < wanted;
         ++attempt) {
      const std::size_t item = static_cast<std::size_t>(
          rng.uniformInt(0, static_cast<int64_t>(numItems) - 1));
      // Items from 28 px to 4x that at 256, scaled with the canvas.
      const int side =
          std::min(size, static_cast<int>(itemCols * rng.uniform(1.0, 4.0) *
                                          size / 256.0));
      const int x0 = static_cast<int>(rng.uniformInt(0, size - side));
      const int y0 = static_cast<int>(rng.uniformInt(0, size - side));
      // Per channel, dark on light background and light on dark, so every
      // item stays visible whatever texture it lands on.
      const cv::Scalar under = cv::mean(canvas(cv::Rect(x0, y0, side, side)));
      cv::Vec3f colour;
      for (int c = 0; c < 3; ++c)
        colour[c] = static_cast<float>(under[c] > 128 ? rng.uniform(0, 70)
                                                      : rng.uniform(185, 255));
      cv::Mat glyph(itemRows, itemCols, CV_8UC1,
                    source.images.data.data() +
                        item * source.images.itemSize());
      cv::Mat scaled;
      cv::resize(glyph, scaled, cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
      // The box is the tight extent of the visible item, not its square.
      cv::Mat mask = scaled > 25;
      const cv::Rect tight = cv::boundingRect(mask);
      if (tight.area() == 0)
        continue;
      const cv::Rect box(x0 + tight.x, y0 + tight.y, tight.width, tight.height);
      bool overlaps = false;
      for (const cv::Rect &other : placed)
        overlaps |= iou(box, other) > 0.3f;
      if (overlaps)
        continue;
      for (int y = 0; y < side; ++y) {
        const uint8_t *alphaRow = scaled.ptr<uint8_t>(y);
        cv::Vec3b *row = canvas.ptr<cv::Vec3b>(y0 + y) + x0;
        for (int x = 0; x < side; ++x) {
          const float alpha = alphaRow[x] / 255.0f;
          for (int c = 0; c < 3; ++c)
            row[x][c] = cv::saturate_cast<uint8_t>(row[x][c] * (1 - alpha) +
                                                   colour[c] * alpha);
        }
      }
      placed.push_back(box);
      const int category = source.labels.data[item] + 1;
      annotations.push_back({{"id", annotationId++},
                             {"image_id", static_cast<int64_t>(i + 1)},
                             {"category_id", category},
                             {"bbox", {box.x, box.y, box.width, box.height}},
                             {"area", box.area()},
                             {"iscrowd", 0}});
    }
    char name[32];
    std::snprintf(name, sizeof(name), "%012zu.jpg", i + 1);
    created.newFile(imageDir / name);
    if (!cv::imwrite((imageDir / name).string(), canvas,
                     {cv::IMWRITE_JPEG_QUALITY, 92}))
      throw DataError((imageDir / name).string(), "", "cannot write image");
    images.push_back({{"id", static_cast<int64_t>(i + 1)},
                      {"file_name", name},
                      {"width", size},
                      {"height", size}});
    progressTo(options, i + 1);
  }
  nlohmann::json categories = nlohmann::json::array();
  const auto &names = fashionMnistClassNames();
  for (std::size_t c = 0; c < names.size(); ++c)
    categories.push_back({{"id", static_cast<int>(c + 1)},
                          {"name", names[c]},
                          {"supercategory", "fashion"}});
  nlohmann::json coco = {
      {"info",
       {{"description", "fashion-det: Fashion-MNIST items on textured "
                        "backgrounds, synthesized by hat-pack"},
        {"seed", options.seed}}},
      {"images", images},
      {"annotations", annotations},
      {"categories", categories}};
  const fs::path annotationPath =
      annotationDir / ("instances_" + year + ".json");
  created.newFile(annotationPath);
  std::string failure =
      writeFileAtomically(annotationPath.string(), coco.dump());
  if (!failure.empty())
    throw DataError(annotationPath.string(), "",
                    "cannot write annotations: " + failure);
  created.keep();
}

void synthesizeCuLane(const SynthesizeOptions &options) {
  // CuLane frames are 1640x590; keep that aspect at the requested width.
  const int width = options.size;
  const int height = static_cast<int>(std::lround(width * 590.0 / 1640.0));
  const std::string clip = "driver_synth_" + options.split;
  const fs::path clipDir = fs::path(options.out) / clip;
  CreatedPaths created;
  created.makeDirectories(clipDir);
  created.makeDirectories(fs::path(options.out) / "list");
  const fs::path listPath =
      fs::path(options.out) / "list" / (options.split + ".txt");
  std::string list;
  for (std::size_t i = 0; i < options.numImages; ++i) {
    SampleRng rng = imageRng(options, i);
    const int horizon = static_cast<int>(height * rng.uniform(0.35, 0.45));
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y) {
      cv::Vec3b *row = image.ptr<cv::Vec3b>(y);
      for (int x = 0; x < width; ++x) {
        const double noise = rng.uniform(-10, 10);
        if (y < horizon) // sky, lighter towards the horizon
          row[x] = cv::Vec3b(
              cv::saturate_cast<uint8_t>(200 + noise),
              cv::saturate_cast<uint8_t>(160 + 40.0 * y / horizon + noise),
              cv::saturate_cast<uint8_t>(120 + 60.0 * y / horizon + noise));
        else // asphalt
          row[x] = cv::Vec3b::all(cv::saturate_cast<uint8_t>(90 + noise));
      }
    }
    const double vanishX = width * rng.uniform(0.4, 0.6);
    const int numLanes = static_cast<int>(rng.uniformInt(2, 4));
    const double curve = rng.uniform(-0.15, 0.15) * width;
    const int thickness = std::max(2, width / 200);
    const fs::path linesPath =
        clipDir / (std::to_string(100000 + i).substr(1) + ".lines.txt");
    created.newFile(linesPath);
    std::ofstream lines(linesPath);
    for (int lane = 0; lane < numLanes; ++lane) {
      const double bottomX =
          width * (lane + 0.5) / numLanes + rng.uniform(-0.05, 0.05) * width;
      const bool yellow = rng.bernoulli(0.3);
      const bool dashed = rng.bernoulli(0.6);
      // Points every ~height/30 rows from the bottom to just below the
      // horizon, like CuLane's 10 px steps on 590 rows.
      std::vector<cv::Point2f> points;
      const double top = horizon + 0.08 * height;
      const int steps = 30;
      for (int s = 0; s <= steps; ++s) {
        const double y = (height - 1) - (height - 1 - top) * s / steps;
        const double t = (height - 1 - y) / (height - 1 - horizon);
        const double x =
            bottomX + (vanishX - bottomX) * t + curve * t * (1 - t);
        if (x >= 0 && x < width)
          points.emplace_back(static_cast<float>(x), static_cast<float>(y));
      }
      if (points.size() < 2)
        continue;
      const cv::Scalar colour =
          yellow ? cv::Scalar(40, 200, 230) : cv::Scalar(235, 235, 235);
      for (std::size_t p = 1; p < points.size(); ++p)
        if (!dashed || (p / 2) % 2 == 0)
          cv::line(image, points[p - 1], points[p], colour, thickness,
                   cv::LINE_AA);
      for (const cv::Point2f &point : points)
        lines << cv::format("%.3f %.0f ", point.x, point.y);
      lines << "\n";
    }
    lines.close();
    if (!lines)
      throw DataError(linesPath.string(), "", "cannot write lane annotations");
    const std::string name = std::to_string(100000 + i).substr(1) + ".jpg";
    created.newFile(clipDir / name);
    if (!cv::imwrite((clipDir / name).string(), image,
                     {cv::IMWRITE_JPEG_QUALITY, 92}))
      throw DataError((clipDir / name).string(), "", "cannot write image");
    list += "/" + clip + "/" + name + "\n";
    progressTo(options, i + 1);
  }
  created.newFile(listPath);
  std::string failure = writeFileAtomically(listPath.string(), list);
  if (!failure.empty())
    throw DataError(listPath.string(), "", "cannot write list: " + failure);
  created.keep();
}

} // namespace

void synthesize(const SynthesizeOptions &options) {
  if (options.out.empty())
    throw DataError("hat-pack", "", "--out is required");
  if (options.split != "train" && options.split != "val")
    throw DataError("hat-pack", "",
                    "unknown split '" + options.split + "' (train or val)");
  // Checked before anything is written, so a bad request leaves no files.
  if (options.kind == "fashion-det" || options.kind == "culane") {
    if (options.size < 64 || options.size > kMaxSynthesizeSize)
      throw DataError(
          "hat-pack", "",
          "--size must be from 64 to " + std::to_string(kMaxSynthesizeSize) +
              " for " + options.kind + ", got " + std::to_string(options.size));
    if (options.numImages < 1 || options.numImages > kMaxSynthesizeImages)
      throw DataError("hat-pack", "",
                      "--num-images must be from 1 to " +
                          std::to_string(kMaxSynthesizeImages) + ", got " +
                          std::to_string(options.numImages));
  }
  if (options.kind == "fashion-det")
    return synthesizeFashionDet(options);
  if (options.kind == "culane")
    return synthesizeCuLane(options);
  throw DataError("hat-pack", "",
                  "unknown --synthesize kind '" + options.kind +
                      "' (fashion-det, culane)");
}

} // namespace hat::data
