// CA RMSD after superposition: Horn's closed form. The best rotation's residual is
// sum|a|^2 + sum|b|^2 - 2 * lambda_max of a 4x4 symmetric matrix built from the cross-covariance; the largest
// eigenvalue comes from Jacobi rotations (a 4x4 converges in a few sweeps), so no SVD library is needed.
#include <algorithm>
#include <array>
#include <cmath>

#include "esm_onnx/base/structure.h"

namespace esm_onnx::structure {

namespace {

constexpr int kCa = 1;  // atom37's CA

using Mat4 = std::array<std::array<double, 4>, 4>;

double largest_eigenvalue(Mat4 a) {
  for (int sweep = 0; sweep < 50; ++sweep) {
    double off = 0;
    for (int p = 0; p < 4; ++p) {
      for (int q = p + 1; q < 4; ++q) off += a[p][q] * a[p][q];
    }
    if (off < 1e-30) break;
    for (int p = 0; p < 4; ++p) {
      for (int q = p + 1; q < 4; ++q) {
        if (std::fabs(a[p][q]) < 1e-300) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 4; ++k) {  // A <- A J (columns p, q)
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 4; ++k) {  // A <- J^T A (rows p, q)
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  return std::max({a[0][0], a[1][1], a[2][2], a[3][3]});
}

}  // namespace

double ca_rmsd(const float* atom37_a, const float* atom37_b, int64_t length) {
  if (length <= 0) return 0.0;
  std::array<double, 3> ca{}, cb{};
  for (int64_t i = 0; i < length; ++i) {
    for (int d = 0; d < 3; ++d) {
      ca[d] += atom37_a[(i * kAtom37 + kCa) * 3 + d];
      cb[d] += atom37_b[(i * kAtom37 + kCa) * 3 + d];
    }
  }
  for (int d = 0; d < 3; ++d) ca[d] /= static_cast<double>(length), cb[d] /= static_cast<double>(length);
  double r[3][3] = {};  // cross-covariance sum x_a y_b^T of the centred CAs
  double g = 0;
  for (int64_t i = 0; i < length; ++i) {
    double x[3], y[3];
    for (int d = 0; d < 3; ++d) {
      x[d] = atom37_a[(i * kAtom37 + kCa) * 3 + d] - ca[d];
      y[d] = atom37_b[(i * kAtom37 + kCa) * 3 + d] - cb[d];
      g += x[d] * x[d] + y[d] * y[d];
    }
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) r[j][k] += x[j] * y[k];
    }
  }
  const double sxx = r[0][0], sxy = r[0][1], sxz = r[0][2], syx = r[1][0], syy = r[1][1], syz = r[1][2], szx = r[2][0],
               szy = r[2][1], szz = r[2][2];
  const Mat4 n{{{sxx + syy + szz, syz - szy, szx - sxz, sxy - syx},
                {syz - szy, sxx - syy - szz, sxy + syx, szx + sxz},
                {szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy},
                {sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz}}};
  const double residual = std::max(0.0, g - 2 * largest_eigenvalue(n));
  return std::sqrt(residual / static_cast<double>(length));
}

}  // namespace esm_onnx::structure
