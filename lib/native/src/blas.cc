// Matrix products through OpenBLAS's cblas_sgemm, loaded at run time with dlopen (no
// build-time dependency): Debian's libopenblas0-pthread multiplies [256,784]x[784,256] at
// about 190 GFLOP/s on one core of this machine's EPYC, oneDNN 2.6's matmul at about 106.
//
// Which library runs a product (`D2L_NATIVE_BLAS`, read when the addon first multiplies, or
// the addon's setBlas()):
//   auto (default)  OpenBLAS where it is faster (see use_openblas), else oneDNN
//   openblas        OpenBLAS for every float32 product it can take (oneDNN if it is absent)
//   onednn          oneDNN always (the path before OpenBLAS; an escape hatch)
// D2L_OPENBLAS names the library file to load in place of Debian's.
// Bias and activation: C is filled with the broadcast bias first and sgemm adds the product
// (beta = 1); the activation is one loop over C after.
//
// Threads follow the addon's policy (common.h): one under SMALL_FLOPS, else OpenMP's count.
// OpenBLAS's own threads spin after a product before they sleep (2^28 cycles by default,
// about 0.1 s), holding the core that oneDNN's OpenMP threads (which sleep at once, addon.ts)
// need for the next convolution; so unless OPENBLAS_THREAD_TIMEOUT is set, the addon sets it to
// 4 (2^4 cycles, OpenBLAS's smallest) before loading the library.
#include "blas.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>

namespace d2l {

namespace {

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
using sgemm_t = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

struct OpenBlas {
  sgemm_t sgemm = nullptr;
  void (*set_threads)(int) = nullptr;
  char* (*config)() = nullptr;
  int (*parallel)() = nullptr;
  std::string path;     // the file that loaded
  std::string missing;  // why none loaded
  int threads = -1;     // the count last set
};

const char* const CANDIDATES[] = {
    "libopenblas.so.0",  // Debian's alternatives link (pthread, openmp or serial variant)
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "libopenblas.so",
};

OpenBlas& lib() {
  static OpenBlas b = [] {
    OpenBlas o;
    // OpenBLAS reads it as it loads; unset after, so that child processes (PyTorch) do not inherit it.
    const bool set_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr;
    if (set_timeout) setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    struct Unset {
      bool on;
      ~Unset() {
        if (on) unsetenv("OPENBLAS_THREAD_TIMEOUT");
      }
    } unset{set_timeout};
    std::string tried;
    // D2L_OPENBLAS: a library file to load instead of Debian's (the only one tried).
    const char* own = std::getenv("D2L_OPENBLAS");
    std::vector<const char*> names(std::begin(CANDIDATES), std::end(CANDIDATES));
    if (own && *own) names.assign(1, own);
    for (const char* name : names) {
      void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        tried += std::string(tried.empty() ? "" : ", ") + name;
        continue;
      }
      o.sgemm = reinterpret_cast<sgemm_t>(dlsym(h, "cblas_sgemm"));
      o.set_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
      o.config = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_config"));
      o.parallel = reinterpret_cast<int (*)()>(dlsym(h, "openblas_get_parallel"));
      if (!o.sgemm || !o.set_threads) {
        o.sgemm = nullptr;
        tried += std::string(tried.empty() ? "" : ", ") + name + " (no cblas_sgemm)";
        dlclose(h);
        continue;
      }
      o.path = name;
      Dl_info info;
      if (dladdr(reinterpret_cast<void*>(o.sgemm), &info) && info.dli_fname) o.path = info.dli_fname;
      return o;
    }
    o.missing = "no OpenBLAS (tried " + tried + "; apt-get install libopenblas0-pthread)";
    return o;
  }();
  return b;
}

BlasMode initial_mode() {
  const char* v = std::getenv("D2L_NATIVE_BLAS");
  if (!v || !*v || std::string(v) == "auto") return BlasMode::Auto;
  if (std::string(v) == "openblas") return BlasMode::OpenBlas;
  if (std::string(v) == "onednn") return BlasMode::OneDnn;
  // An unknown value must not pass silently: say so once, keep the default.
  fprintf(stderr, "d2l native: D2L_NATIVE_BLAS=%s is not one of auto, openblas, onednn; using auto\n", v);
  return BlasMode::Auto;
}

BlasMode& mode_ref() {
  static BlasMode m = initial_mode();
  return m;
}

// C (strides c_s) = bias broadcast (strides b_s, 0 where the bias dim is 1), dims d.
void fill_bias(float* c, const float* bias, const dims& d, const dims& b_s, size_t i, int64_t c_off, int64_t b_off) {
  const int64_t n = d[i];
  if (i + 1 == d.size()) {
    if (b_s[i] == 0)
      std::fill(c + c_off, c + c_off + n, bias[b_off]);
    else
      std::memcpy(c + c_off, bias + b_off, n * sizeof(float));
    return;
  }
  int64_t inner = 1;
  for (size_t j = i + 1; j < d.size(); j++) inner *= d[j];
  for (int64_t k = 0; k < n; k++) fill_bias(c, bias, d, b_s, i + 1, c_off + k * inner, b_off + k * b_s[i]);
}

void activate(float* c, int64_t n, int act, float alpha) {
  switch (act) {
    case 0: return;
    case 1:
      for (int64_t i = 0; i < n; i++) c[i] = c[i] > 0.f ? c[i] : 0.f;
      return;
    case 2:
      for (int64_t i = 0; i < n; i++) c[i] = std::min(std::max(c[i], 0.f), 6.f);
      return;
    case 3:
      for (int64_t i = 0; i < n; i++) c[i] = c[i] > 0.f ? c[i] : std::expm1(c[i]);
      return;
    case 4:
      for (int64_t i = 0; i < n; i++) c[i] = c[i] > 0.f ? c[i] : alpha * c[i];
      return;
    case 5:
      for (int64_t i = 0; i < n; i++) c[i] = 1.f / (1.f + std::exp(-c[i]));
      return;
    default: throw JsError("unknown activation code " + std::to_string(act));
  }
}

}  // namespace

BlasMode blas_mode() { return mode_ref(); }
void set_blas_mode(BlasMode m) { mode_ref() = m; }
bool openblas_loaded() { return lib().sgemm != nullptr; }
std::string openblas_path() { return lib().path; }
std::string openblas_missing() { return lib().missing; }
std::string openblas_config() {
  auto& o = lib();
  if (!o.sgemm) return "";
  std::string s = o.config ? o.config() : "OpenBLAS";
  if (o.parallel) {
    const int p = o.parallel();
    s += p == 0 ? " (sequential)" : p == 1 ? " (pthreads)" : p == 2 ? " (OpenMP)" : "";
  }
  return s;
}

// Where OpenBLAS beats oneDNN 2.6, from the shapes only (measured on one thread of the busy
// 2-core EPYC, best of 3 alternating runs, tfjs' per-op cost included; the report of issue 21
// has the tables): on one core both multiply large matrices at about 100 GFLOP/s (oneDNN
// 5-25% ahead from about 2 MFLOP), but OpenBLAS starts a product in about 4 us against
// oneDNN's 6-10, and its matrix-vector products are 2-6x faster. So OpenBLAS takes
//   - matrix-vector shapes: N == 1, or M == 1 unless both operands are transposed;
//   - products of less than 1.5 MFLOP per matrix (the MLP's 256x256x10 and its gradients);
//     but a batch with only b transposed (attention's Q·K^T) only for matrices of less than
//     50 kFLOP each. On 2026-12-07 the Transformer block's [256,10,8]·[256,10,8]^T took 72 us on
//     OpenBLAS against 186 on oneDNN's batched kernel ([64,10,32]·[64,10,32]^T: 34 against 57;
//     median of 7 alternating runs, one process), so the earlier limit of 32 matrices went;
//     from [64,32,32]·[64,32,32]^T oneDNN is ahead (100 us against 115).
bool use_openblas(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  switch (blas_mode()) {
    case BlasMode::OneDnn: return false;
    case BlasMode::OpenBlas: return openblas_loaded();
    case BlasMode::Auto: break;
  }
  if (!openblas_loaded()) return false;
  if (N == 1) return true;
  if (M == 1) return !(ta && tb);
  const double f = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (batch > 1 && tb && !ta) return f < 5e4;
  return f < 1.5e6;
}

void openblas_matmul(const Heap& heap, const std::vector<double>& off, const dims& a_st, const dims& b_st, const dims& c_d, const dims* bias_d, bool ta,
                     bool tb, int act, float alpha) {
  auto& o = lib();
  const size_t r = c_d.size();
  const int64_t M = c_d[r - 2], N = c_d[r - 1], K = ta ? a_st[r - 2] : a_st[r - 1];
  float* A = heap.at(off[0], product(a_st), "a");
  float* B = heap.at(off[1], product(b_st), "b");
  float* C = heap.at(off[2], product(c_d), "output");
  const int64_t total = product(c_d);
  if (total == 0) return;
  if (bias_d) {
    const float* bias = heap.at(off[3], product(*bias_d), "bias");
    dims b_s = contiguous(*bias_d);
    for (size_t i = 0; i < r; i++)
      if ((*bias_d)[i] == 1) b_s[i] = 0;
    fill_bias(C, bias, c_d, b_s, 0, 0, 0);
  }
  if (K > 0) {
    // Batch strides of a and b in matrices (0 where broadcast), and the batch count.
    const int64_t a_mat = a_st[r - 2] * a_st[r - 1], b_mat = b_st[r - 2] * b_st[r - 1], c_mat = M * N;
    int64_t batch = 1;
    for (size_t i = 0; i + 2 < r; i++) batch *= c_d[i];
    // Threads: one inside with_threads(small), else OpenMP's count. A batch of at least that
    // many matrices runs its matrices in parallel on OpenMP's threads, each product on one
    // OpenBLAS thread (OpenBLAS's pthreads build takes concurrent calls); otherwise each
    // product runs on OpenBLAS's own threads.
    const int threads = omp_get_max_threads();
    const bool over_batch = threads > 1 && batch >= threads;
    const int want = over_batch ? 1 : threads;
    if (o.threads != want) {
      o.set_threads(want);
      o.threads = want;
    }
    const int lda = static_cast<int>(a_st[r - 1]), ldb = static_cast<int>(b_st[r - 1]);
    const float beta = bias_d ? 1.f : 0.f;
#pragma omp parallel for schedule(static) if (over_batch)
    for (int64_t bi = 0; bi < batch; bi++) {
      // The batch index's digits, each mapped to a's and b's (dim 1: broadcast).
      int64_t rest = bi, ai = 0, bj = 0, a_stride = 1, b_stride = 1;
      for (size_t i = r - 2; i-- > 0;) {
        const int64_t digit = rest % c_d[i];
        rest /= c_d[i];
        if (a_st[i] != 1) ai += digit * a_stride;
        if (b_st[i] != 1) bj += digit * b_stride;
        a_stride *= a_st[i];
        b_stride *= b_st[i];
      }
      o.sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f, A + ai * a_mat, lda,
              B + bj * b_mat, ldb, beta, C + bi * c_mat, static_cast<int>(N));
    }
  } else if (!bias_d) {
    std::fill(C, C + total, 0.f);
  }
  activate(C, total, act, alpha);
}

}  // namespace d2l
