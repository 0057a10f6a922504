// d2l-ts native kernels for the many small elementwise ops and reductions of a training
// step (issue 21, per-op overhead): the loss of a softmax regression runs ~30 of them on
// 256x10 tensors, where wasm's kernels spend 10-20 us each on exp (scalar), broadcasting
// (its generic path) and reductions over leading axes (a transpose first). These run on
// the calling thread alone (waking OpenMP's threads costs more than the work), in place
// on the wasm heap like the rest of the addon.
//
// Exports:
//   ewUnary(heap, alg, [xOff, yOff], n)          alg 0: exp, 1: log (oneDNN eltwise, one thread, in blocks)
//   ewBinary(heap, op, [aOff, bOff, yOff], [R, C, aMode, bMode])
//       y[i][j] = a op b over an R x C output, op 0 add, 1 sub, 2 mul, 3 div; each input's
//       mode: 0 full [R, C], 1 one per row [R, 1], 2 one per column [1, C], 3 a scalar.
//   softmax(heap, kind, offsets, [R, C])   rows of C, each normalized: kind 0, forward: [x, y],
//       y = exp(x - max) / sum; kind 1, backward: [dy, y, dx], dx = (dy - sum(dy * y)) * y.
//   reduce(heap, op, [xOff, yOff], [outer, inner, kind, scale])
//       x viewed as [outer, inner]; op 0 sum (times scale, in double), 1 max (NaN wins, as in
//       tfjs' cpu kernel); kind 0 over outer (one per column), 1 over inner (one per row).
//   softmaxXent(heap, kind, offsets, [R, C])     rows of C classes, q the (soft) targets:
//       kind 0, forward: [q, logits, value, lr]: lr = logits - logsumexp(row), value[i] = -sum q*lr;
//       kind 1, backward: [dy, q, lr, dq, dlogits]: dq = -dy*lr, dlogits = dy*(exp(lr)*sum(q) - q).

#include <cmath>

#include "common.h"

namespace {

using namespace d2l;

// ------------------------------------------------------------------ exp, log

// y = exp(x) (alg 0) or log(x) (alg 1) over n floats with oneDNN's eltwise kernels (x == y is
// allowed): blocks of 4096, then one each of 2048, 1024, ..., 16, and a scalar tail, so at most
// nine cached primitives per algorithm whatever the sizes (one per size would fill the LRU that
// the convolutions and products share, with shapes that vary batch to batch).
void eltwise_blocks(int alg, const float* x, float* y, int64_t n) {
  int64_t done = 0;
  for (int64_t block = 4096; block >= 16; block /= 2) {
    if (n - done < block) continue;
    auto e = eltwise_entry("fx," + std::to_string(alg) + "," + std::to_string(block), alg == 0 ? dnnl::algorithm::eltwise_exp : dnnl::algorithm::eltwise_log, block);
    memory xm(e->a, eng(), const_cast<float*>(x) + done), ym(e->a, eng(), y + done);
    do {
      xm.set_data_handle(const_cast<float*>(x) + done);
      ym.set_data_handle(y + done);
      e->prim.execute(strm(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}});
      done += block;
    } while (block == 4096 && n - done >= block);
    strm().wait();
    last_impl = e->impl;
  }
  for (; done < n; done++) y[done] = alg == 0 ? std::exp(x[done]) : std::log(x[done]);
}

napi_value EwUnary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double alg_d = number(env, argv[1], "algorithm");
    auto off = numbers(env, argv[2], "offsets");
    const double n_d = number(env, argv[3], "count");
    const int alg = static_cast<int>(alg_d);
    const int64_t n = static_cast<int64_t>(n_d);
    if (off.size() != 2 || alg < 0 || alg > 1 || n < 1) throw JsError("ewUnary: expected algorithm 0..1, 2 offsets and a positive count");
    float* x = heap.at(off[0], n, "x");
    float* y = heap.at(off[1], n, "y");
    // Blocks of 4096, then one each of 2048, 1024, ..., 16, and a scalar tail: at most nine
    // cached primitives per algorithm, whatever the sizes (one per size would fill the LRU
    // that the convolutions and products share, with shapes that vary batch to batch).
    with_threads(true, [&] { eltwise_blocks(alg, x, y, n); });
    return nullptr;
  });
}

// ------------------------------------------------------------------ add, sub, mul, div

template <typename Op>
void binary_loop(const float* a, const float* b, float* y, int64_t R, int64_t C, int am, int bm, Op op) {
  if (am == 0 && bm == 0) {
    const int64_t n = R * C;
#pragma omp simd
    for (int64_t k = 0; k < n; k++) y[k] = op(a[k], b[k]);
    return;
  }
  for (int64_t i = 0; i < R; i++) {
    const float* ar = am == 0 ? a + i * C : am == 1 ? a + i : a;
    const float* br = bm == 0 ? b + i * C : bm == 1 ? b + i : b;
    float* yr = y + i * C;
    // Per row: each input is a row of C (modes 0 and 2) or one number (modes 1 and 3).
    const bool a_row = am == 0 || am == 2, b_row = bm == 0 || bm == 2;
    if (a_row && b_row) {
#pragma omp simd
      for (int64_t j = 0; j < C; j++) yr[j] = op(ar[j], br[j]);
    } else if (a_row) {
      const float bv = br[0];
#pragma omp simd
      for (int64_t j = 0; j < C; j++) yr[j] = op(ar[j], bv);
    } else if (b_row) {
      const float av = ar[0];
#pragma omp simd
      for (int64_t j = 0; j < C; j++) yr[j] = op(av, br[j]);
    } else {
      const float v = op(ar[0], br[0]);
      for (int64_t j = 0; j < C; j++) yr[j] = v;
    }
  }
}

napi_value EwBinary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double op_d = number(env, argv[1], "op");
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    const int op = static_cast<int>(op_d);
    if (off.size() != 3 || p.size() != 4 || op < 0 || op > 3) throw JsError("ewBinary: expected op 0..3, 3 offsets and [R, C, aMode, bMode]");
    const int64_t R = static_cast<int64_t>(p[0]), C = static_cast<int64_t>(p[1]);
    const int am = static_cast<int>(p[2]), bm = static_cast<int>(p[3]);
    if (R < 1 || C < 1 || am < 0 || am > 3 || bm < 0 || bm > 3) throw JsError("ewBinary: R and C must be positive and the modes 0..3");
    auto count = [&](int m) { return m == 0 ? R * C : m == 1 ? R : m == 2 ? C : 1; };
    const float* a = heap.at(off[0], count(am), "a");
    const float* b = heap.at(off[1], count(bm), "b");
    float* y = heap.at(off[2], R * C, "output");
    switch (op) {
      case 0: binary_loop(a, b, y, R, C, am, bm, [](float u, float v) { return u + v; }); break;
      case 1: binary_loop(a, b, y, R, C, am, bm, [](float u, float v) { return u - v; }); break;
      case 2: binary_loop(a, b, y, R, C, am, bm, [](float u, float v) { return u * v; }); break;
      default: binary_loop(a, b, y, R, C, am, bm, [](float u, float v) { return u / v; }); break;
    }
    return nullptr;
  });
}

// ------------------------------------------------------------------ sum, max

napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double op_d = number(env, argv[1], "op");
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    const int op = static_cast<int>(op_d);
    if (off.size() != 2 || p.size() != 4 || op < 0 || op > 1) throw JsError("reduce: expected op 0..1, 2 offsets and [outer, inner, kind, scale]");
    const int64_t O = static_cast<int64_t>(p[0]), I = static_cast<int64_t>(p[1]);
    const bool leading = p[2] == 0;
    const double scale = p[3];
    if (O < 1 || I < 1) throw JsError("reduce: outer and inner must be positive");
    const float* x = heap.at(off[0], O * I, "x");
    float* y = heap.at(off[1], leading ? I : O, "output");
    if (op == 0 && leading) {
      std::vector<double> acc(static_cast<size_t>(I), 0.0);
      for (int64_t i = 0; i < O; i++) {
        const float* r = x + i * I;
#pragma omp simd
        for (int64_t j = 0; j < I; j++) acc[j] += r[j];
      }
      for (int64_t j = 0; j < I; j++) y[j] = static_cast<float>(acc[j] * scale);
    } else if (op == 0) {
      for (int64_t i = 0; i < O; i++) {
        const float* r = x + i * I;
        double s = 0;
        for (int64_t j = 0; j < I; j++) s += r[j];
        y[i] = static_cast<float>(s * scale);
      }
    } else if (leading) {
      for (int64_t j = 0; j < I; j++) y[j] = x[j];
      for (int64_t i = 1; i < O; i++) {
        const float* r = x + i * I;
        for (int64_t j = 0; j < I; j++)
          if (std::isnan(r[j]) || r[j] > y[j]) y[j] = r[j];
      }
    } else {
      for (int64_t i = 0; i < O; i++) {
        const float* r = x + i * I;
        float m = r[0];
        for (int64_t j = 1; j < I; j++)
          if (std::isnan(r[j]) || r[j] > m) m = r[j];
        y[i] = m;
      }
    }
    return nullptr;
  });
}

// ------------------------------------------------------------------ softmax cross-entropy

napi_value SoftmaxXent(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double kind_d = number(env, argv[1], "kind");
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    const int kind = static_cast<int>(kind_d);
    if ((kind != 0 && kind != 1) || off.size() != (kind == 0 ? 4u : 5u) || p.size() != 2) throw JsError("softmaxXent: expected kind 0 (4 offsets) or 1 (5 offsets) and [R, C]");
    const int64_t R = static_cast<int64_t>(p[0]), C = static_cast<int64_t>(p[1]);
    if (R < 1 || C < 1) throw JsError("softmaxXent: R and C must be positive");
    if (kind == 0) {
      const float* q = heap.at(off[0], R * C, "q");
      const float* x = heap.at(off[1], R * C, "logits");
      float* value = heap.at(off[2], R, "value");
      float* lr = heap.at(off[3], R * C, "logResult");
      for (int64_t i = 0; i < R; i++) {
        const float* xr = x + i * C;
        const float* qr = q + i * C;
        float* lrr = lr + i * C;
        float m = xr[0];
        for (int64_t j = 1; j < C; j++)
          if (std::isnan(xr[j]) || xr[j] > m) m = xr[j];
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += std::exp(static_cast<double>(xr[j] - m));
        const float lse = static_cast<float>(std::log(s)) + m;
        double v = 0;
        for (int64_t j = 0; j < C; j++) {
          lrr[j] = xr[j] - lse;
          v -= static_cast<double>(lrr[j]) * qr[j];
        }
        value[i] = static_cast<float>(v);
      }
    } else {
      const float* dy = heap.at(off[0], R, "dy");
      const float* q = heap.at(off[1], R * C, "q");
      const float* lr = heap.at(off[2], R * C, "logResult");
      float* dq = heap.at(off[3], R * C, "dq");
      float* dx = heap.at(off[4], R * C, "dlogits");
      for (int64_t i = 0; i < R; i++) {
        const float* qr = q + i * C;
        const float* lrr = lr + i * C;
        double sq = 0;
        for (int64_t j = 0; j < C; j++) sq += qr[j];
        const float d = dy[i];
        for (int64_t j = 0; j < C; j++) {
          dq[i * C + j] = d * -lrr[j];
          dx[i * C + j] = d * (std::exp(lrr[j]) * static_cast<float>(sq) - qr[j]);
        }
      }
    }
    return nullptr;
  });
}

// ------------------------------------------------------------------ softmax

// Rows of C: forward y = exp(x - max) / sum, as three passes over the whole [R, C] block: the row
// maxima subtracted, one vectorized exp over all R * C values (oneDNN's eltwise), the row sums
// divided out. oneDNN's own softmax kernel works row by row: [2560, 10] took 188 us, against 68-81
// this way (lib/native/ops.ts sends only rows of up to 64 here). Backward dx = (dy - sum(dy * y)) * y.
napi_value Softmax(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int kind = static_cast<int>(number(env, argv[1], "kind"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (kind < 0 || kind > 1 || off.size() != (kind == 0 ? 2u : 3u) || p.size() != 2 || p[0] < 1 || p[1] < 1) {
      throw JsError("softmax: expected kind 0 with 2 offsets or kind 1 with 3, and [R, C] positive");
    }
    const int64_t R = static_cast<int64_t>(p[0]), C = static_cast<int64_t>(p[1]);
    if (kind == 0) {
      const float* x = heap.at(off[0], R * C, "x");
      float* y = heap.at(off[1], R * C, "y");
      for (int64_t i = 0; i < R; i++) {
        const float* xr = x + i * C;
        float* yr = y + i * C;
        float m = xr[0];
#pragma omp simd reduction(max : m)
        for (int64_t j = 1; j < C; j++) m = std::max(m, xr[j]);
#pragma omp simd
        for (int64_t j = 0; j < C; j++) yr[j] = xr[j] - m;
      }
      with_threads(true, [&] { eltwise_blocks(0, y, y, R * C); });
      for (int64_t i = 0; i < R; i++) {
        float* yr = y + i * C;
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < C; j++) sum += yr[j];
        const float inv = 1.f / sum;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) yr[j] *= inv;
      }
    } else {
      const float* dy = heap.at(off[0], R * C, "dy");
      const float* y = heap.at(off[1], R * C, "y");
      float* dx = heap.at(off[2], R * C, "dx");
      for (int64_t i = 0; i < R; i++) {
        const float* d = dy + i * C;
        const float* yr = y + i * C;
        float* o = dx + i * C;
        float dot = 0.f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < C; j++) dot += d[j] * yr[j];
#pragma omp simd
        for (int64_t j = 0; j < C; j++) o[j] = (d[j] - dot) * yr[j];
      }
    }
    return nullptr;
  });
}

}  // namespace

void register_fused(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"ewUnary", nullptr, EwUnary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"ewBinary", nullptr, EwBinary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxXent", nullptr, SoftmaxXent, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
