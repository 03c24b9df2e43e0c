//===- NpyTest.cpp - .npy reading and writing -----------------------------===//

#include "hat/Eval/Npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace hat::eval;

namespace {

std::string tempPath(const std::string &name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/hat_npy_" +
         std::to_string(::getpid()) + "_" + name;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream os(path, std::ios::binary);
  os.write(bytes.data(), std::streamsize(bytes.size()));
}

/// A hand-built v1 file: magic, version, header padded to 64 bytes, data.
std::string makeNpy(const std::string &dict, const std::string &data,
                    int major = 1) {
  std::string h = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64)
    h.push_back(' ');
  h.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(char(major));
  out.push_back(0);
  out.push_back(char(h.size() & 0xff));
  out.push_back(char(h.size() >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  return out + h + data;
}

} // namespace

TEST(Npy, RoundTripEveryDtype) {
  Tensor f = Tensor::f32({2, 3});
  for (int k = 0; k < 6; ++k)
    f.f[k] = -1.5f + 0.75f * k;
  f.f[5] = -0.0f;
  Tensor i8 = Tensor::ints(DType::I8, {4});
  i8.i = {-128, -1, 0, 127};
  Tensor i16 = Tensor::ints(DType::I16, {2, 1, 2});
  i16.i = {-32768, -300, 300, 32767};
  Tensor i32 = Tensor::ints(DType::I32, {3});
  i32.i = {INT32_MIN, 70000, INT32_MAX};
  Tensor scalar = Tensor::f32({}, 3.25f);
  Tensor empty = Tensor::ints(DType::I16, {0, 5});
  int n = 0;
  for (const Tensor *t : {&f, &i8, &i16, &i32, &scalar, &empty}) {
    const std::string path = tempPath("rt" + std::to_string(n++) + ".npy");
    std::string err;
    ASSERT_TRUE(writeNpy(path, *t, err)) << err;
    Tensor back;
    ASSERT_TRUE(readNpy(path, back, err)) << err;
    EXPECT_EQ(back.dtype, t->dtype);
    EXPECT_EQ(back.shape, t->shape);
    EXPECT_EQ(back.i, t->i);
    ASSERT_EQ(back.f.size(), t->f.size());
    for (size_t k = 0; k < t->f.size(); ++k)
      EXPECT_EQ(std::memcmp(&back.f[k], &t->f[k], 4), 0);
    // Data starts 64-byte aligned like numpy's own files.
    std::ifstream is(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(is)), {});
    const size_t dataBytes =
        size_t(t->numel()) * (t->dtype == DType::I8    ? 1
                              : t->dtype == DType::I16 ? 2
                                                       : 4);
    EXPECT_EQ((bytes.size() - dataBytes) % 64, 0u);
    std::remove(path.c_str());
  }
}

TEST(Npy, HeaderMatchesNumpy) {
  std::string bytes, err;
  Tensor t = Tensor::ints(DType::I16, {7});
  ASSERT_TRUE(serializeNpy(t, bytes, err));
  EXPECT_NE(bytes.find("{'descr': '<i2', 'fortran_order': False, "
                       "'shape': (7,), }"),
            std::string::npos);
  Tensor s = Tensor::f32({2, 3});
  ASSERT_TRUE(serializeNpy(s, bytes, err));
  EXPECT_NE(bytes.find("'shape': (2, 3), }"), std::string::npos);
}

TEST(Npy, ReadsWiderAndUnsignedTypes) {
  // <f8 narrows to F32; <i8 and |u1 become I32; v2 header.
  std::string f8(16, '\0');
  const double d[2] = {0.1, -2.5};
  std::memcpy(&f8[0], d, 16);
  Tensor t;
  std::string err;
  ASSERT_TRUE(parseNpy(
      makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8,
              2),
      "x.npy", t, err))
      << err;
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.f[0], 0.1f);
  EXPECT_EQ(t.f[1], -2.5f);

  std::string i8(16, '\0');
  const int64_t v[2] = {-5, 2000000000};
  std::memcpy(&i8[0], v, 16);
  ASSERT_TRUE(parseNpy(
      makeNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }",
              i8),
      "x.npy", t, err))
      << err;
  EXPECT_EQ(t.dtype, DType::I32);
  EXPECT_EQ(t.i, (std::vector<int32_t>{-5, 2000000000}));

  ASSERT_TRUE(parseNpy(
      makeNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
              std::string("\x00\x80\xff", 3)),
      "x.npy", t, err))
      << err;
  EXPECT_EQ(t.dtype, DType::I32);
  EXPECT_EQ(t.i, (std::vector<int32_t>{0, 128, 255}));

  const int64_t big[1] = {int64_t(1) << 40};
  std::string bigBytes(8, '\0');
  std::memcpy(&bigBytes[0], big, 8);
  EXPECT_FALSE(parseNpy(
      makeNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
              bigBytes),
      "big.npy", t, err));
  EXPECT_NE(err.find("big.npy"), std::string::npos);
  EXPECT_NE(err.find("int32"), std::string::npos);
}

TEST(Npy, MalformedFilesNameTheFile) {
  struct Case {
    const char *name;
    std::string bytes;
    const char *reason;
  };
  const std::string good =
      makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
              std::string(8, '\0'));
  std::vector<Case> cases = {
      {"badmagic.npy", "PK\x03\x04 this is a zip", "bad magic"},
      {"empty.npy", "", "bad magic"},
      {"truncdata.npy", good.substr(0, good.size() - 1), "truncated data"},
      {"trunchdr.npy", good.substr(0, 30), "truncated header"},
      {"fortran.npy",
       makeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
               std::string(16, '\0')),
       "fortran"},
      {"bigendian.npy",
       makeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
               std::string(8, '\0')),
       "byte order"},
      {"complex.npy",
       makeNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
               std::string(8, '\0')),
       "unsupported dtype"},
      {"version.npy",
       std::string("\x93NUMPY\x07\x00", 8) + std::string(100, ' '), "version"},
      {"noshape.npy", makeNpy("{'descr': '<f4', 'fortran_order': False, }", ""),
       "shape"},
  };
  for (const Case &c : cases) {
    const std::string path = tempPath(c.name);
    writeBytes(path, c.bytes);
    Tensor t;
    std::string err;
    EXPECT_FALSE(readNpy(path, t, err)) << c.name;
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_NE(err.find(c.reason), std::string::npos) << err;
    std::remove(path.c_str());
  }
  Tensor t;
  std::string err;
  const std::string missing = tempPath("does_not_exist.npy");
  EXPECT_FALSE(readNpy(missing, t, err));
  EXPECT_NE(err.find(missing), std::string::npos);
}

TEST(Npy, WriteIsAtomicAndReportsErrors) {
  std::string err;
  Tensor bad = Tensor::f32({2, 2});
  bad.f.pop_back();
  const std::string path = tempPath("bad.npy");
  EXPECT_FALSE(writeNpy(path, bad, err));
  EXPECT_NE(err.find(path), std::string::npos);
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(writeNpy("/nonexistent_dir_hat/x.npy", Tensor::f32({1}), err));
  EXPECT_NE(err.find("/nonexistent_dir_hat/x.npy"), std::string::npos);
  // Overwriting replaces the whole file.
  ASSERT_TRUE(writeNpy(path, Tensor::f32({100}, 1.0f), err)) << err;
  ASSERT_TRUE(writeNpy(path, Tensor::f32({1}, 2.0f), err)) << err;
  Tensor back;
  ASSERT_TRUE(readNpy(path, back, err)) << err;
  EXPECT_EQ(back.shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(back.f[0], 2.0f);
  std::remove(path.c_str());
}
