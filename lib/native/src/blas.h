// OpenBLAS for the addon's matrix products (blas.cc): loaded at run time, used where it is
// faster than oneDNN, with oneDNN as the fallback.
#pragma once
#include "common.h"

namespace d2l {

enum class BlasMode { Auto, OpenBlas, OneDnn };

BlasMode blas_mode();
void set_blas_mode(BlasMode m);
// Loads OpenBLAS on first use; false when no library was found.
bool openblas_loaded();
std::string openblas_path();
std::string openblas_missing();
// openblas_get_config() and its threading ("OpenBLAS 0.3.21 ... (pthreads)"); "" when absent.
std::string openblas_config();
// Whether a product of `batch` MxK by KxN matrices runs on OpenBLAS (mode, library, shapes).
bool use_openblas(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb);
// C = act(op(A)·op(B) + bias) with cblas_sgemm, one call per output matrix. Shapes as in
// addon.cc's matmul: a and b as stored, all padded to one rank; batch dims broadcast.
void openblas_matmul(const Heap& heap, const std::vector<double>& off, const dims& a_st, const dims& b_st, const dims& c_d, const dims* bias_d, bool ta,
                     bool tb, int act, float alpha);

}  // namespace d2l
