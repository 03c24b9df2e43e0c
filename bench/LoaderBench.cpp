//===- LoaderBench.cpp - DataLoader throughput on Fashion-MNIST and fashion-det
//
// hat-loader-bench [--fashion-mnist LMDB] [--fashion-det LMDB] [--work DIR]
//
// Without LMDBs it packs Fashion-MNIST val (10k) and synthesizes + packs 400
// fashion-det images at 256 px into --work (default $TMPDIR). Prints images/s
// for 1 and 2 worker threads and the process's peak resident memory. It
// asserts nothing; timings depend on the machine.
//
//===----------------------------------------------------------------------===//
#include "hat/Data/DataLoader.h"
#include "hat/Data/Pack.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <sys/resource.h>

using namespace hat::data;
namespace fs = std::filesystem;

namespace {

double peakMemoryMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

void measure(const char *name, DatasetPtr dataset, int batchSize, int workers) {
  DataLoaderOptions options;
  options.dataset = dataset;
  options.batch_size = batchSize;
  options.shuffle = true;
  options.num_workers = workers;
  options.drop_last = true;
  DataLoader loader(options);
  loader.startEpoch(0);
  const auto start = std::chrono::steady_clock::now();
  std::size_t images = 0;
  Batch batch;
  while (loader.next(batch))
    images += static_cast<std::size_t>(batch.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "%-14s workers=%d batch=%3d  %7zu images  %6.2f s  %9.0f images/s  "
      "peak RSS %.0f MiB\n",
      name, workers, batchSize, images, seconds, images / seconds,
      peakMemoryMiB());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2)
    args[std::string(argv[i]).substr(2)] = argv[i + 1];
  const char *tmp = std::getenv("TMPDIR");
  const std::string work =
      args.count("work")
          ? args["work"]
          : std::string(tmp ? tmp : "/tmp") + "/hat-loader-bench";
  try {
    std::string fashionMnist = args["fashion-mnist"];
    if (fashionMnist.empty()) {
      fashionMnist = work + "/fashion_mnist_val_lmdb";
      if (!fs::exists(fashionMnist)) {
        PackOptions pack;
        pack.format = "fashion-mnist";
        pack.src = kDefaultFashionMnistDir;
        pack.split = "val";
        pack.out = fashionMnist;
        hat::data::pack(pack);
      }
    }
    std::string fashionDet = args["fashion-det"];
    if (fashionDet.empty()) {
      fashionDet = work + "/fashion_det_train_lmdb";
      if (!fs::exists(fashionDet)) {
        SynthesizeOptions synth;
        synth.kind = "fashion-det";
        synth.out = work + "/fashion_det";
        synth.numImages = 400;
        synth.size = 256;
        synthesize(synth);
        PackOptions pack;
        pack.format = "coco";
        pack.src = synth.out;
        pack.out = fashionDet;
        hat::data::pack(pack);
      }
    }
    std::printf("baseline peak RSS %.0f MiB (after packing)\n",
                peakMemoryMiB());

    // Classification: decode PNG + ToTensor + Normalize, as a small
    // classifier's config would.
    auto fmnist = std::make_shared<ImageNetFromLMDB>(ImageNetFromLMDBOptions{
        fashionMnist,
        {std::make_shared<ToTensor>(ToTensorOptions{false}),
         std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}})}});
    // Detection: the FCOS-EfficientNetB0 training pipeline at 256 px.
    auto det = std::make_shared<CocoFromLMDB>(CocoFromLMDBOptions{
        fashionDet,
        {std::make_shared<Resize>(ResizeOptions{
             {256, 256}, std::array<double, 2>{0.5, 2.0}, true, "bilinear"}),
         std::make_shared<RandomCrop>(RandomCropOptions{{256, 256}, false}),
         std::make_shared<Pad>(PadOptions{std::nullopt, 256, 0}),
         std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0.0}),
         std::make_shared<AugmentHSV>(AugmentHSVOptions{0.015, 0.7, 0.4, 1.0}),
         std::make_shared<ToTensor>(ToTensorOptions{true}),
         std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}})}});
    for (int workers : {1, 2})
      measure("fashion-mnist", fmnist, 256, workers);
    for (int workers : {1, 2})
      measure("fashion-det", det, 24, workers);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "hat-loader-bench: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
