//===- CulaneSpline.cpp - The official evaluator's lane spline ------------===//
//
// A natural cubic spline through the lane points, x(t) and y(t) over the
// chord length t, solved with the Thomas algorithm. Every expression keeps
// the official tool's operand types and evaluation order (float
// differences of the float points, double everything else, pow() for the
// powers): the samples are rounded to float and then to pixels, so one
// different last bit can move a pixel. This file is built with
// -ffp-contract=off (lib/Lane/CMakeLists.txt) so no FMA changes a rounding.
//
//===----------------------------------------------------------------------===//

#include "hat/Lane/CulaneMetric.h"

#include <cmath>

namespace hat::lane {

namespace {

// The official tool is built without optimisation, so its pow(t, 2) is a
// call into libm; GCC would fold a literal exponent 2 into t * t, which may
// differ in the last bit. A volatile exponent keeps the call.
double squareAsLibm(double value) {
  static volatile double two = 2.0;
  return std::pow(value, two);
}

double cube(double value) { return std::pow(value, 3.0); }

// One axis of one segment: a + b t + c t^2 + d t^3 over t in [0, h).
struct Cubic {
  double a = 0, b = 0, c = 0, d = 0;
};

// Second derivatives of one axis at the knots (natural ends: 0). `delta`
// are the float differences of consecutive coordinates, `h` the chords.
std::vector<double> knotCurvatures(const std::vector<float> &delta,
                                   const std::vector<double> &h) {
  const std::size_t knots = h.size() + 1, inner = knots - 2;
  std::vector<double> sub(inner), diag(inner), super(inner), rhs(inner);
  for (std::size_t i = 0; i < inner; ++i) {
    sub[i] = h[i];
    diag[i] = 2 * (h[i] + h[i + 1]);
    super[i] = h[i + 1];
    rhs[i] = 6 * (delta[i + 1] / h[i + 1] - delta[i] / h[i]);
  }
  // Forward sweep of the tridiagonal system.
  super[0] = super[0] / diag[0];
  rhs[0] = rhs[0] / diag[0];
  for (std::size_t i = 1; i < inner; ++i) {
    const double pivot = diag[i] - sub[i] * super[i - 1];
    super[i] = super[i] / pivot;
    rhs[i] = (rhs[i] - sub[i] * rhs[i - 1]) / pivot;
  }
  std::vector<double> m(knots, 0.0);
  m[knots - 2] = rhs[inner - 1];
  for (std::size_t i = inner - 1; i-- > 0;)
    m[i + 1] = rhs[i] - super[i] * m[i + 2];
  m[0] = 0;
  m[knots - 1] = 0;
  return m;
}

Cubic segmentCubic(float start, float delta, double h, double m0, double m1) {
  Cubic cubic;
  cubic.a = start;
  cubic.b = delta / h - (2 * h * m0 + h * m1) / 6;
  cubic.c = m0 / 2;
  cubic.d = (m1 - m0) / (6 * h);
  return cubic;
}

} // namespace

std::vector<LanePoint> interpolateCulaneLane(const Lane &lane,
                                             int samplesPerSegment) {
  if (lane.size() < 3)
    return lane;
  const std::size_t segments = lane.size() - 1;
  std::vector<float> dx(segments), dy(segments);
  std::vector<double> h(segments);
  for (std::size_t i = 0; i < segments; ++i) {
    dx[i] = lane[i + 1].x - lane[i].x;
    dy[i] = lane[i + 1].y - lane[i].y;
    h[i] = std::sqrt(squareAsLibm(dx[i]) + squareAsLibm(dy[i]));
  }
  const std::vector<double> mx = knotCurvatures(dx, h);
  const std::vector<double> my = knotCurvatures(dy, h);

  std::vector<LanePoint> samples;
  samples.reserve(segments * samplesPerSegment + 1);
  for (std::size_t i = 0; i < segments; ++i) {
    const Cubic x = segmentCubic(lane[i].x, dx[i], h[i], mx[i], mx[i + 1]);
    const Cubic y = segmentCubic(lane[i].y, dy[i], h[i], my[i], my[i + 1]);
    const double step = h[i] / samplesPerSegment;
    for (int k = 0; k < samplesPerSegment; ++k) {
      const double t = step * k, t2 = squareAsLibm(t), t3 = cube(t);
      samples.push_back(
          {static_cast<float>(x.a + x.b * t + x.c * t2 + x.d * t3),
           static_cast<float>(y.a + y.b * t + y.c * t2 + y.d * t3)});
    }
  }
  samples.push_back(lane.back());
  return samples;
}

} // namespace hat::lane
