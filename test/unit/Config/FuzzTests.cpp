//===- FuzzTests.cpp - Deterministic mutation fuzzing of the evaluator ----===//
//
// Complements the libFuzzer target (test/fuzz/ConfigFuzzer.cpp): runs
// everywhere, with a fixed seed, and checks that every failure of a mutated
// config is a located diagnostic rather than a crash or an unlocated error.
//
//===----------------------------------------------------------------------===//

#include "TestHelpers.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

using namespace hat::config;

namespace {

std::string readSeedConfig() {
  const char *sourceDir = std::getenv("HAT_SOURCE_DIR");
  std::string path =
      std::string(sourceDir ? sourceDir : HAT_SOURCE_DIR_DEFAULT) +
      "/test/Inputs/configs/fcos_efficientnetb0_mscoco.py";
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const char *const kSmallSeeds[] = {
    "def f(a, b=1, *c, **d):\n    for x in a:\n        if x:\n            "
    "return "
    "f'{x:>3}'\n    return [i for i in b]\n",
    "x = {'a': [1, (2, 3)], **dict(b=4)}\ny = x['a'][1][0] // 2 % 5\n",
    "import os\np = os.path.join('a', '%s' % 1) if 1 < 2 else None\n",
    "s = 'abc'[::-1].upper().split('B')\nt = '{}-{:05.1f}'.format(1, 2.5)\n",
};

std::string mutate(const std::string &input, std::mt19937 &random) {
  static const std::string interesting =
      "()[]{}:'\"\n #=.,\\f%*-+/<>!@$0123456789_\t";
  std::string text = input;
  int mutations = 1 + static_cast<int>(random() % 4);
  for (int m = 0; m < mutations && !text.empty(); ++m) {
    size_t at = random() % text.size();
    switch (random() % 6) {
    case 0:
      text[at] = static_cast<char>(random() % 256);
      break;
    case 1:
      text.insert(at, 1, interesting[random() % interesting.size()]);
      break;
    case 2:
      text.erase(at, 1 + random() % 16);
      break;
    case 3:
      text.resize(at);
      break;
    case 4: {
      size_t length = std::min<size_t>(1 + random() % 64, text.size() - at);
      text.insert(random() % text.size(), text.substr(at, length));
      break;
    }
    default:
      text[at] = interesting[random() % interesting.size()];
    }
  }
  return text;
}

} // namespace

TEST(Fuzz, MutatedConfigsFailWithLocatedDiagnostics) {
  std::vector<std::string> seeds = {readSeedConfig()};
  ASSERT_GT(seeds[0].size(), 1000u);
  for (const char *seed : kSmallSeeds)
    seeds.emplace_back(seed);
  EvalOptions options;
  options.maxSteps = 200000;
  options.maxSequenceLength = 100000;
  options.print = [](const std::string &) {};
  std::mt19937 random(20240611);
  int failures = 0, successes = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const std::string &seed = seeds[iteration % seeds.size()];
    std::string input = mutate(seed, random);
    Expected<std::shared_ptr<Module>> module =
        loadConfigSource(input, "fuzz.py", options);
    if (module) {
      ++successes;
      // Whatever evaluated must also print (or fail to print) cleanly.
      (void)moduleToJson(**module);
      continue;
    }
    ++failures;
    const Diagnostic &error = module.error();
    ASSERT_EQ(error.file, "fuzz.py") << error.str() << "\ninput:\n" << input;
    ASSERT_TRUE(error.hasLocation()) << error.str() << "\ninput:\n" << input;
    ASSERT_FALSE(error.message.empty());
  }
  // Both outcomes must occur, or the mutations are not exercising anything.
  EXPECT_GT(failures, 100);
  EXPECT_GT(successes, 10);
}
