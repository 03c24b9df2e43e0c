//===- hat-pack.cpp - Packs datasets into versioned LMDBs -----------------===//
//
// hat-pack --format fashion-mnist|imagefolder|coco|culane --src DIR
//          --split train|val --out DIR/train_lmdb [--limit N] [--overwrite]
//          [--on-error fail|skip]
// hat-pack --synthesize fashion-det|culane --out DIR [--num-images N]
//          [--size N] [--split train|val] [--seed N] [--fashion-mnist-dir DIR]
// hat-pack --inspect LMDB [--verify] [--extract INDEX --to FILE]
//
//===----------------------------------------------------------------------===//
#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"
#include "hat/Data/Lmdb.h"
#include "hat/Data/Pack.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/WriteFile.h"

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <unistd.h>

using namespace hat::data;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  hat-pack --format fashion-mnist|imagefolder|coco|culane "
               "--src DIR --split train|val --out DIR\n"
               "           [--limit N] [--overwrite] [--on-error fail|skip] "
               "[--quiet]\n"
               "  hat-pack --synthesize fashion-det|culane --out DIR "
               "[--num-images N] [--size N]\n"
               "           [--split train|val] [--seed N] "
               "[--fashion-mnist-dir DIR]\n"
               "  hat-pack --inspect LMDB [--verify] [--extract INDEX --to "
               "FILE]\n"
               "--src defaults to %s for fashion-mnist.\n",
               kDefaultFashionMnistDir);
}

// A progress bar on a terminal, redrawn at most ten times a second; nothing
// when stderr is a file (logs and lit tests stay clean).
class ProgressBar {
public:
  ProgressBar(const char *label, bool enabled)
      : label_(label), enabled_(enabled && ::isatty(2)),
        start_(std::chrono::steady_clock::now()) {}
  void operator()(std::size_t done, std::size_t total) {
    if (!enabled_)
      return;
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - lastDraw_ < std::chrono::milliseconds(100))
      return;
    lastDraw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const int width = 30;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f s %.0f/s", label_, bar.c_str(),
                 done, total, seconds, seconds > 0 ? done / seconds : 0.0);
    if (done == total)
      std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start_)
        .count();
  }

private:
  const char *label_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, lastDraw_;
};

int inspect(const std::map<std::string, std::string> &args) {
  const std::string path = args.at("inspect");
  // --verify hashes data.mdb whatever its size; a plain open hashes packs up
  // to kHashOnOpenLimitBytes.
  LmdbReader reader(path, /*hashAlways=*/args.count("verify") > 0);
  const DatasetMeta &meta = reader.meta();
  std::printf("lmdb: %s\nschema: v%u\nformat: %s\nsplit: %s\ncount: %llu\n",
              path.c_str(), meta.schemaVersion, meta.format.c_str(),
              meta.split.c_str(), static_cast<unsigned long long>(meta.count));
  std::printf("classes: %zu\n", meta.classNames.size());
  for (std::size_t c = 0; c < meta.classNames.size(); ++c)
    std::printf(
        "  %zu: %s%s\n", c, meta.classNames[c].c_str(),
        c < meta.categoryIds.size()
            ? (" (category_id " + std::to_string(meta.categoryIds[c]) + ")")
                  .c_str()
            : "");
  std::printf("source: %s\ncreated_by: %s\n", meta.source.c_str(),
              meta.createdBy.c_str());
  std::printf("data.mdb: %llu bytes, hash %s (%s)\n",
              static_cast<unsigned long long>(reader.integrity().bytes),
              formatPackHash(reader.integrity().hash).c_str(),
              reader.hashChecked() ? "checked" : "not checked; use --verify");
  if (args.count("extract")) {
    if (!args.count("to"))
      throw DataError("hat-pack", "", "--extract needs --to FILE");
    std::optional<uint64_t> index = hat::parseCount(args.at("extract"));
    if (!index)
      throw DataError("hat-pack", "",
                      "--extract needs a record index, got '" +
                          args.at("extract") + "'");
    const RecordData record = reader.record(*index);
    std::string failure = hat::writeFileAtomically(
        args.at("to"), std::string(record.image.begin(), record.image.end()));
    if (!failure.empty())
      throw DataError(args.at("to"), "", "cannot write: " + failure);
    std::printf("extracted key %s (%s, %dx%d, %zu objects, %zu lanes, label "
                "%d) to %s\n",
                record.key.c_str(), record.fileName.c_str(), record.width,
                record.height, record.objects.size(), record.lanes.size(),
                record.label, args.at("to").c_str());
  }
  if (args.count("verify")) {
    // Reads back every record the way a dataset does: verification of the
    // flatbuffer, image decode, annotation checks.
    std::size_t objects = 0, lanes = 0, bad = 0;
    const bool skip = args.count("on-error") && args.at("on-error") == "skip";
    for (std::size_t i = 0; i < reader.size(); ++i) {
      try {
        Sample sample = decodeSample(reader.record(i), reader.path(),
                                     meta.classNames.size());
        objects += sample.boxes.size();
        lanes += sample.lanes.size();
      } catch (const DataError &error) {
        if (!skip)
          throw;
        ++bad;
        std::fprintf(stderr, "hat-pack: bad record: %s\n", error.what());
      }
    }
    std::printf("verified: %zu records, %zu objects, %zu lanes, %zu bad\n",
                reader.size() - bad, objects, lanes, bad);
    return bad ? 1 : 0;
  }
  return 0;
}

int run(int argc, char **argv) {
  static const char *flags[] = {"overwrite", "verify", "quiet", "help"};
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      std::fprintf(stderr, "hat-pack: error: unexpected argument '%s'\n",
                   argv[i]);
      usage();
      return 2;
    }
    arg = arg.substr(2);
    const auto equals = arg.find('=');
    if (equals != std::string::npos) {
      args[arg.substr(0, equals)] = arg.substr(equals + 1);
      continue;
    }
    bool isFlag = false;
    for (const char *flag : flags)
      isFlag |= arg == flag;
    if (isFlag) {
      args[arg] = "1";
    } else if (i + 1 < argc) {
      args[arg] = argv[++i];
    } else {
      std::fprintf(stderr, "hat-pack: error: --%s needs a value\n",
                   arg.c_str());
      return 2;
    }
  }
  static const char *known[] = {"format",
                                "src",
                                "split",
                                "out",
                                "limit",
                                "overwrite",
                                "on-error",
                                "quiet",
                                "synthesize",
                                "num-images",
                                "size",
                                "seed",
                                "fashion-mnist-dir",
                                "inspect",
                                "verify",
                                "extract",
                                "to",
                                "help",
                                "schema-version"};
  for (const auto &[name, value] : args) {
    bool ok = false;
    for (const char *candidate : known)
      ok |= name == candidate;
    if (!ok) {
      std::fprintf(stderr, "hat-pack: error: unknown option --%s\n",
                   name.c_str());
      usage();
      return 2;
    }
  }
  if (args.count("help")) {
    usage();
    return 0;
  }
  auto get = [&](const char *name, const std::string &fallback) {
    auto found = args.find(name);
    return found == args.end() ? fallback : found->second;
  };
  auto count = [&](const char *name, const std::string &fallback) {
    std::string text = get(name, fallback);
    std::optional<uint64_t> n = hat::parseCount(text);
    if (!n)
      throw std::invalid_argument(std::string("--") + name +
                                  " needs a non-negative integer, got '" +
                                  text + "'");
    return *n;
  };
  const bool quiet = args.count("quiet") > 0;

  if (args.count("inspect"))
    return inspect(args);

  if (args.count("synthesize")) {
    SynthesizeOptions options;
    options.kind = args.at("synthesize");
    options.out = get("out", "");
    options.split = get("split", "train");
    options.numImages = count("num-images", "100");
    const uint64_t size =
        count("size", options.kind == "culane" ? "820" : "256");
    if (size > static_cast<uint64_t>(kMaxSynthesizeSize))
      throw DataError("hat-pack", "",
                      "--size must be from 64 to " +
                          std::to_string(kMaxSynthesizeSize) + ", got " +
                          get("size", ""));
    options.size = static_cast<int>(size);
    options.seed = count("seed", "0");
    options.fashionMnistDir = get("fashion-mnist-dir", "");
    ProgressBar bar("synthesize", !quiet);
    options.progress = [&](std::size_t done, std::size_t total) {
      bar(done, total);
    };
    synthesize(options);
    std::printf("synthesized %zu %s images (%s) into %s in %.1f s\n",
                options.numImages, options.kind.c_str(), options.split.c_str(),
                options.out.c_str(), bar.seconds());
    return 0;
  }

  if (!args.count("format")) {
    std::fprintf(stderr, "hat-pack: error: one of --format, --synthesize, "
                         "--inspect is required\n");
    usage();
    return 2;
  }
  PackOptions options;
  options.format = args.at("format");
  options.src = get(
      "src", options.format == "fashion-mnist" ? kDefaultFashionMnistDir : "");
  if (options.src.empty())
    throw DataError("hat-pack", "",
                    "--src is required for --format " + options.format);
  options.split = get("split", "train");
  options.out = get("out", "");
  // No --limit packs everything; an explicit 0 would pack nothing (or, read
  // as "no limit", everything): both surprise, so it is refused.
  if (args.count("limit")) {
    options.limit = count("limit", "");
    if (options.limit == 0)
      throw DataError("hat-pack", "",
                      "--limit must be at least 1 (leave it out to pack every "
                      "sample)");
  }
  options.overwrite = args.count("overwrite") > 0;
  options.on_error = get("on-error", "fail");
  const uint64_t schemaVersion =
      count("schema-version", std::to_string(kRecordSchemaVersion));
  if (schemaVersion > UINT32_MAX)
    throw std::invalid_argument("--schema-version " +
                                std::to_string(schemaVersion) +
                                " is out of range");
  options.schemaVersion = static_cast<uint32_t>(schemaVersion);
  ProgressBar bar("pack", !quiet);
  options.progress = [&](std::size_t done, std::size_t total) {
    bar(done, total);
  };
  PackResult result = pack(options);
  for (const std::string &error : result.errors)
    std::fprintf(stderr, "hat-pack: skipped: %s\n", error.c_str());
  std::printf("packed %zu %s records (%s, %zu skipped) into %s in %.1f s\n",
              result.count, options.format.c_str(), options.split.c_str(),
              result.skipped, options.out.c_str(), bar.seconds());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  hat::reportFileSizeLimitAsError();
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "hat-pack: error: out of memory (an image or "
                         "annotation file far larger than expected?)\n");
  } catch (const DataError &error) {
    std::fprintf(stderr, "hat-pack: error: %s\n", error.what());
  } catch (const std::exception &error) {
    std::fprintf(stderr, "hat-pack: error: %s\n", error.what());
  }
  return 1;
}
