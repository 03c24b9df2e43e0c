//===- CulaneFilesTest.cpp - .lines.txt files, lists, dataset runs --------===//

#include "hat/Lane/CulaneFiles.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace hat::lane;
namespace fs = std::filesystem;

namespace {

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const std::exception &error) {
    return error.what();
  }
  return "";
}

class TempDir {
public:
  TempDir() {
    path = fs::temp_directory_path() /
           ("hat-lane-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string &relative, const std::string &text) {
    const fs::path file = path / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  std::string str() const { return path.string(); }
  fs::path path;
};

} // namespace

TEST(LanesText, Parses) {
  // CULane's own files end each lane with a space; CRLF is accepted.
  std::vector<Lane> lanes =
      parseLanesText("1 2 3.5 4 \n-5 6e1 7 8\r\n", "a.lines.txt");
  ASSERT_EQ(lanes.size(), 2u);
  ASSERT_EQ(lanes[0].size(), 2u);
  EXPECT_EQ(lanes[0][1].x, 3.5f);
  EXPECT_EQ(lanes[1][0].x, -5.0f);
  EXPECT_EQ(lanes[1][0].y, 60.0f);
  // Empty file: no lanes. A blank line: a lane without points, which the
  // official tool counts as a lane.
  EXPECT_TRUE(parseLanesText("", "a").empty());
  lanes = parseLanesText("1 2 3 4\n\n", "a");
  ASSERT_EQ(lanes.size(), 2u);
  EXPECT_TRUE(lanes[1].empty());
  // No final newline.
  EXPECT_EQ(parseLanesText("1 2 3 4", "a").size(), 1u);
}

TEST(LanesText, RefusesMalformedNumbersWithFileAndLine) {
  EXPECT_EQ(
      errorOf([] { parseLanesText("1 2 3 4\n1 2 x 4\n", "p.lines.txt"); }),
      "p.lines.txt:2: 'x' is not a finite decimal number");
  EXPECT_EQ(errorOf([] { parseLanesText("1 2 3\n", "p.lines.txt"); }),
            "p.lines.txt:1: 3 numbers, expected x y pairs");
  EXPECT_EQ(errorOf([] { parseLanesText("nan 2\n", "p"); }),
            "p:1: 'nan' is not a finite decimal number");
  EXPECT_EQ(errorOf([] { parseLanesText("0x10 2\n", "p"); }),
            "p:1: '0x10' is not a finite decimal number");
  EXPECT_EQ(errorOf([] { parseLanesText("1e999 2\n", "p"); }),
            "p:1: '1e999' is not a finite decimal number");
  EXPECT_EQ(errorOf([] { parseLanesText("1e300 2\n", "p"); }),
            "p:1: coordinate beyond the float range");
  EXPECT_EQ(errorOf([] { readLanesFile("/nonexistent/x.lines.txt"); }),
            "/nonexistent/x.lines.txt: no such file");
}

TEST(LanesText, FormatReadsBack) {
  const std::vector<Lane> lanes = {{{1.25f, 590}, {100.1f, 300}}, {}};
  EXPECT_EQ(formatLanesText(lanes), "1.25 590 100.099998 300\n\n");
  const std::vector<Lane> back = parseLanesText(formatLanesText(lanes), "x");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0][1].x, 100.1f);
}

TEST(ImageList, ReadsAndRefusesDuplicates) {
  TempDir dir;
  const std::string list =
      dir.write("list.txt", "/a/1.jpg\n\n/a/2.jpg /seg/2.png 1 1 0 0\n");
  const std::vector<ListEntry> entries = readImageList(list);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].image, "/a/2.jpg");
  EXPECT_EQ(entries[1].line, 3u);
  const std::string twice = dir.write("twice.txt", "/a/1.jpg\n/a/1.jpg\n");
  EXPECT_EQ(errorOf([&] { readImageList(twice); }),
            twice + ":2: image '/a/1.jpg' is already named on line 1");
  EXPECT_EQ(errorOf([&] { readImageList(dir.str() + "/none.txt"); }),
            dir.str() + "/none.txt: no such list file");
}

TEST(ImageList, LanesPath) {
  EXPECT_EQ(culaneLanesPath("root", "/d/x.MP4/00000.jpg"),
            "root/d/x.MP4/00000.lines.txt");
  EXPECT_EQ(culaneLanesPath("root/", "d/00000.jpg"), "root/d/00000.lines.txt");
  EXPECT_EQ(culaneLanesPath("root", "d.v/noext"), "root/d.v/noext.lines.txt");
}

TEST(Dataset, CountsCategoriesAndMissingPredictions) {
  TempDir dir;
  const std::string vertical = "800 590 800 300\n";
  const std::string curve = "100 590 300 450 500 350 650 280\n";
  dir.write("gt/d/1.lines.txt", vertical + curve);
  dir.write("pred/d/1.lines.txt", vertical); // 1 TP, 1 FN
  dir.write("gt/d/2.lines.txt", vertical);
  dir.write("pred/d/2.lines.txt", "840 590 840 300\n"); // 1 FP, 1 FN
  dir.write("gt/d/3.lines.txt", "");                    // crossroad
  dir.write("pred/d/3.lines.txt", vertical);            // 1 FP
  dir.write("gt/d/4.lines.txt", curve);   // no prediction file: 1 FN
  dir.write("pred/d/5.lines.txt", curve); // not in the list: never read
  dir.write("list.txt", "/d/1.jpg\n/d/2.jpg\n/d/3.jpg\n/d/4.jpg\n");
  const std::vector<std::string> &names = culaneTestCategories();
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::string images;
    if (names[k] == "normal")
      images = "/d/1.jpg\n/d/2.jpg\n/d/9.jpg\n";
    if (names[k] == "cross")
      images = "/d/3.jpg\n";
    dir.write("split/test" + std::to_string(k) + "_" + names[k] + ".txt",
              images);
  }

  CulaneDatasetOptions options;
  options.gtRoot = dir.str() + "/gt";
  options.predRoot = dir.str() + "/pred";
  options.listFile = dir.str() + "/list.txt";
  options.categoryDir = dir.str() + "/split";
  options.keepImages = true;
  const CulaneDatasetResult result = evaluateCulaneDataset(options);
  EXPECT_EQ(result.total.tp, 1);
  EXPECT_EQ(result.total.fp, 2);
  EXPECT_EQ(result.total.fn, 3);
  EXPECT_EQ(result.total.images, 4);
  EXPECT_EQ(result.missingPredictions, 1);
  ASSERT_EQ(result.missingPredictionExamples.size(), 1u);
  EXPECT_EQ(result.missingPredictionExamples[0],
            dir.str() + "/pred/d/4.lines.txt");
  EXPECT_EQ(result.uncategorized, 1); // /d/4.jpg
  ASSERT_EQ(result.categories.size(), 9u);
  EXPECT_EQ(result.categories[0].name, "normal");
  EXPECT_EQ(result.categories[0].counts.tp, 1);
  EXPECT_EQ(result.categories[0].counts.fp, 1);
  EXPECT_EQ(result.categories[0].counts.fn, 2);
  EXPECT_EQ(result.categories[0].notInList, 1); // /d/9.jpg
  EXPECT_EQ(result.categories[7].name, "cross");
  EXPECT_EQ(result.categories[7].counts.fp, 1);
  EXPECT_EQ(result.categories[7].counts.tp + result.categories[7].counts.fn, 0);
  ASSERT_EQ(result.images.size(), 4u);
  EXPECT_EQ(result.images[0].first, "/d/1.jpg");
  EXPECT_EQ(result.images[0].second.gtMatch, (std::vector<int>{0, -1}));

  // The same with one thread.
  options.threads = 1;
  EXPECT_EQ(evaluateCulaneDataset(options).total.fn, 3);
}

TEST(Dataset, ErrorsNameTheFileAndLine) {
  TempDir dir;
  dir.write("gt/d/1.lines.txt", "800 590 800 300\n");
  dir.write("pred/d/1.lines.txt", "800 590 800 300\n");
  dir.write("gt/d/2.lines.txt", "800 590 800 300\n");
  dir.write("pred/d/2.lines.txt", "800 590\n800 59O\n");
  dir.write("list.txt", "/d/1.jpg\n/d/2.jpg\n/d/3.jpg\n");
  CulaneDatasetOptions options;
  options.gtRoot = dir.str() + "/gt";
  options.predRoot = dir.str() + "/pred";
  options.listFile = dir.str() + "/list.txt";
  // The first bad image in list order is reported, whatever the threads.
  for (unsigned threads : {1u, 2u, 4u}) {
    options.threads = threads;
    EXPECT_EQ(errorOf([&] { evaluateCulaneDataset(options); }),
              dir.str() + "/pred/d/2.lines.txt:2: '59O' is not a finite "
                          "decimal number");
  }
  dir.write("pred/d/2.lines.txt", "800 590\n");
  EXPECT_EQ(errorOf([&] { evaluateCulaneDataset(options); }),
            dir.str() + "/list.txt:3: no ground truth for '/d/3.jpg' (" +
                dir.str() + "/gt/d/3.lines.txt does not exist)");
  options.categoryDir = dir.str() + "/nosplit";
  EXPECT_EQ(errorOf([&] { evaluateCulaneDataset(options); }),
            dir.str() + "/nosplit/test0_normal.txt: no such list file");
}
