//===- DrawTest.cpp - Drawing detections ----------------------------------===//

#include "hat/Detection/Draw.h"

#include <gtest/gtest.h>

using namespace hat::detection;

TEST(Draw, DrawsBoxesAndTagsOnly) {
  cv::Mat image(100, 100, CV_8UC3, cv::Scalar(0, 0, 0));
  ImageDetections d;
  d.boxes = {{20, 40, 80, 90}, {0, 0, 5, 5}};
  d.scores = {0.87f, 0.1f};
  d.labels = {1, 0};
  DrawOptions options;
  options.minScore = 0.5f; // the second box is not drawn
  drawDetections(image, d, {"shirt", "bag"}, options);
  auto lit = [&](int x, int y) {
    return cv::norm(image.at<cv::Vec3b>(y, x)) > 0;
  };
  EXPECT_TRUE(lit(50, 40));  // top edge
  EXPECT_TRUE(lit(20, 65));  // left edge
  EXPECT_TRUE(lit(80, 65));  // right edge
  EXPECT_TRUE(lit(50, 90));  // bottom edge
  EXPECT_FALSE(lit(50, 65)); // inside
  EXPECT_TRUE(lit(22, 35));  // the "bag 0.87" tag above the box
  EXPECT_FALSE(lit(2, 2));   // the low-score box
  // The colour is the label's.
  const cv::Scalar color = labelColor(1);
  const cv::Vec3b edge = image.at<cv::Vec3b>(65, 80);
  EXPECT_EQ(edge[0], color[0]);
  EXPECT_EQ(edge[1], color[1]);
  EXPECT_EQ(edge[2], color[2]);
  EXPECT_NE(labelColor(0), labelColor(1));

  cv::Mat grey(10, 10, CV_8UC1, cv::Scalar(0));
  drawDetections(grey, d, {});
  EXPECT_EQ(grey.channels(), 3);
  cv::Mat wrong(10, 10, CV_32FC3);
  EXPECT_THROW(drawDetections(wrong, d, {}), std::invalid_argument);
}
