//===- Npy.cpp - .npy reading and writing ---------------------------------===//
//
// Bytes are assembled explicitly as little-endian so the format does not
// depend on the host's byte order.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Npy.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace hat::eval {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

uint64_t loadLE(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b)
    v = (v << 8) | p[b];
  return v;
}

void storeLE(std::string &out, uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b)
    out.push_back(char((v >> (8 * b)) & 0xff));
}

/// Finds `'key':` (either quote style) in the header dict and returns the
/// position just after the colon, or npos.
size_t findKey(const std::string &h, const std::string &key) {
  for (char q : {'\'', '"'}) {
    const std::string pat = std::string(1, q) + key + q;
    size_t p = h.find(pat);
    if (p == std::string::npos)
      continue;
    p += pat.size();
    while (p < h.size() && std::isspace((unsigned char)h[p]))
      ++p;
    if (p < h.size() && h[p] == ':')
      return p + 1;
  }
  return std::string::npos;
}

size_t skipSpace(const std::string &h, size_t p) {
  while (p < h.size() && std::isspace((unsigned char)h[p]))
    ++p;
  return p;
}

bool parseHeader(const std::string &h, std::string &descr, bool &fortran,
                 std::vector<int64_t> &shape, std::string &why) {
  size_t p = findKey(h, "descr");
  if (p == std::string::npos) {
    why = "header has no 'descr'";
    return false;
  }
  p = skipSpace(h, p);
  if (p >= h.size() || (h[p] != '\'' && h[p] != '"')) {
    why = "header 'descr' is not a string (structured dtypes are unsupported)";
    return false;
  }
  const size_t end = h.find(h[p], p + 1);
  if (end == std::string::npos) {
    why = "unterminated 'descr'";
    return false;
  }
  descr = h.substr(p + 1, end - p - 1);

  p = findKey(h, "fortran_order");
  if (p == std::string::npos) {
    why = "header has no 'fortran_order'";
    return false;
  }
  p = skipSpace(h, p);
  if (h.compare(p, 4, "True") == 0) {
    fortran = true;
  } else if (h.compare(p, 5, "False") == 0) {
    fortran = false;
  } else {
    why = "bad 'fortran_order' value";
    return false;
  }

  p = findKey(h, "shape");
  if (p == std::string::npos) {
    why = "header has no 'shape'";
    return false;
  }
  p = skipSpace(h, p);
  if (p >= h.size() || h[p] != '(') {
    why = "'shape' is not a tuple";
    return false;
  }
  const size_t close = h.find(')', p);
  if (close == std::string::npos) {
    why = "unterminated 'shape'";
    return false;
  }
  shape.clear();
  std::string body = h.substr(p + 1, close - p - 1);
  size_t q = 0;
  while (true) {
    q = skipSpace(body, q);
    if (q >= body.size())
      break;
    if (!std::isdigit((unsigned char)body[q])) {
      why = "bad 'shape' entry";
      return false;
    }
    int64_t d = 0;
    while (q < body.size() && std::isdigit((unsigned char)body[q])) {
      if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        why = "'shape' entry too large";
        return false;
      }
      d = d * 10 + (body[q] - '0');
      ++q;
    }
    shape.push_back(d);
    q = skipSpace(body, q);
    if (q < body.size() && body[q] == ',')
      ++q;
  }
  return true;
}

} // namespace

bool parseNpy(const std::string &bytes, const std::string &name, Tensor &out,
              std::string &error) {
  auto fail = [&](const std::string &why) {
    error = name + ": " + why;
    return false;
  };
  const auto *u = reinterpret_cast<const unsigned char *>(bytes.data());
  if (bytes.size() < kMagicLen + 2 ||
      std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    return fail("bad magic (not a .npy file)");
  const int major = u[6];
  size_t headerLen = 0, headerStart = 0;
  if (major == 1) {
    if (bytes.size() < 10)
      return fail("truncated header");
    headerLen = size_t(loadLE(u + 8, 2));
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return fail("truncated header");
    headerLen = size_t(loadLE(u + 8, 4));
    headerStart = 12;
  } else {
    return fail("unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < headerStart + headerLen)
    return fail("truncated header");
  const std::string header = bytes.substr(headerStart, headerLen);
  std::string descr, why;
  bool fortran = false;
  std::vector<int64_t> shape;
  if (!parseHeader(header, descr, fortran, shape, why))
    return fail(why);
  if (fortran)
    return fail("fortran order is unsupported (save with C order)");

  // Byte order: '<' little-endian; '|' (not applicable) is only valid for
  // 1-byte types. Big-endian and native ('=') multi-byte data are refused
  // rather than guessed.
  if (descr.size() < 3)
    return fail("unsupported dtype '" + descr + "'");
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  int itemSize = 0;
  enum { F4, F8, I1, I2, I4, I8, U1 } code;
  if (kind == "f4")
    code = F4, itemSize = 4;
  else if (kind == "f8")
    code = F8, itemSize = 8;
  else if (kind == "i1")
    code = I1, itemSize = 1;
  else if (kind == "i2")
    code = I2, itemSize = 2;
  else if (kind == "i4")
    code = I4, itemSize = 4;
  else if (kind == "i8")
    code = I8, itemSize = 8;
  else if (kind == "u1")
    code = U1, itemSize = 1;
  else
    return fail("unsupported dtype '" + descr + "'");
  const bool orderOk =
      itemSize == 1 ? (order == '|' || order == '<') : order == '<';
  if (!orderOk)
    return fail("unsupported byte order in dtype '" + descr +
                "' (only little-endian)");

  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d != 0 && numel > std::numeric_limits<int64_t>::max() / 8 / d)
      return fail("shape too large");
    numel *= d;
  }
  const size_t dataStart = headerStart + headerLen;
  const uint64_t need = uint64_t(numel) * uint64_t(itemSize);
  if (bytes.size() - dataStart < need)
    return fail("truncated data (expected " + std::to_string(need) +
                " bytes, found " + std::to_string(bytes.size() - dataStart) +
                ")");
  const unsigned char *d = u + dataStart;

  Tensor t;
  t.shape = shape;
  switch (code) {
  case F4:
  case F8:
    t.dtype = DType::F32;
    t.f.resize(size_t(numel));
    for (int64_t k = 0; k < numel; ++k) {
      if (code == F4) {
        const uint32_t bits = uint32_t(loadLE(d + 4 * k, 4));
        std::memcpy(&t.f[k], &bits, 4);
      } else {
        const uint64_t bits = loadLE(d + 8 * k, 8);
        double v;
        std::memcpy(&v, &bits, 8);
        t.f[k] = float(v);
      }
    }
    break;
  case I1:
  case I2:
  case I4:
    t.dtype = code == I1 ? DType::I8 : code == I2 ? DType::I16 : DType::I32;
    t.i.resize(size_t(numel));
    for (int64_t k = 0; k < numel; ++k) {
      const uint64_t raw = loadLE(d + itemSize * k, itemSize);
      // Sign-extend from itemSize bytes.
      const int shiftBits = 64 - 8 * itemSize;
      t.i[k] = int32_t(int64_t(raw << shiftBits) >> shiftBits);
    }
    break;
  case I8:
  case U1:
    t.dtype = DType::I32;
    t.i.resize(size_t(numel));
    for (int64_t k = 0; k < numel; ++k) {
      const int64_t v =
          code == U1 ? int64_t(d[k]) : int64_t(loadLE(d + 8 * k, 8));
      if (v < std::numeric_limits<int32_t>::min() ||
          v > std::numeric_limits<int32_t>::max())
        return fail("int64 value " + std::to_string(v) + " at index " +
                    std::to_string(k) + " does not fit int32");
      t.i[k] = int32_t(v);
    }
    break;
  }
  out = std::move(t);
  return true;
}

bool serializeNpy(const Tensor &t, std::string &bytes, std::string &error) {
  const int64_t numel = t.numel();
  const bool isFloat = t.dtype == DType::F32;
  if (numel < 0 || (isFloat ? t.f.size() : t.i.size()) != size_t(numel)) {
    error = "tensor data size does not match its shape";
    return false;
  }
  const char *descr = "<f4";
  int itemSize = 4;
  switch (t.dtype) {
  case DType::F32:
    break;
  case DType::I8:
    descr = "|i1", itemSize = 1;
    break;
  case DType::I16:
    descr = "<i2", itemSize = 2;
    break;
  case DType::I32:
    descr = "<i4";
    break;
  }
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t k = 0; k < t.shape.size(); ++k) {
    dict += std::to_string(t.shape[k]);
    if (t.shape.size() == 1 || k + 1 < t.shape.size())
      dict += ",";
    if (k + 1 < t.shape.size())
      dict += " ";
  }
  dict += "), }";
  // Pad with spaces and a final newline so the data starts 64-byte aligned,
  // as numpy does.
  size_t prefix = kMagicLen + 2 + 2;
  int major = 1;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 65535) {
    // v1 stores the header length in 16 bits.
    major = 2;
    prefix += 2;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  }
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');

  bytes.clear();
  bytes.reserve(total + size_t(numel) * itemSize);
  bytes.append(kMagic, kMagicLen);
  bytes.push_back(char(major));
  bytes.push_back(0);
  storeLE(bytes, dict.size(), major == 1 ? 2 : 4);
  bytes += dict;
  for (int64_t k = 0; k < numel; ++k) {
    if (isFloat) {
      uint32_t bits;
      std::memcpy(&bits, &t.f[k], 4);
      storeLE(bytes, bits, 4);
    } else {
      storeLE(bytes, uint64_t(int64_t(t.i[k])), itemSize);
    }
  }
  return true;
}

bool readNpy(const std::string &path, Tensor &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open for reading";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = path + ": read error";
    return false;
  }
  return parseNpy(ss.str(), path, out, error);
}

bool writeNpy(const std::string &path, const Tensor &t, std::string &error) {
  std::string bytes;
  if (!serializeNpy(t, bytes, error)) {
    error = path + ": " + error;
    return false;
  }
  // Unique temporary name in the same directory so rename() is atomic.
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter++);
  {
    std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
    if (!os) {
      error = path + ": cannot open temporary file " + tmp;
      return false;
    }
    os.write(bytes.data(), std::streamsize(bytes.size()));
    os.close();
    if (!os) {
      std::remove(tmp.c_str());
      error = path + ": write failed";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    error = path + ": cannot rename temporary file into place: " +
            std::strerror(errno);
    return false;
  }
  return true;
}

} // namespace hat::eval
