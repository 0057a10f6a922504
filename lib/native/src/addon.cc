// d2l-ts native kernels: oneDNN matrix products and 2-D convolutions on float32
// data that lives in a JavaScript ArrayBuffer (the wasm backend's heap), in place.
//
// Every function takes the ArrayBuffer and byte offsets into it; nothing is
// copied. oneDNN primitives are expensive to create, so they are cached by
// their shapes and attributes (an LRU of CACHE_CAPACITY entries).
//
// Exports (all numbers are JavaScript numbers):
//   matmul(heap, [aOff, bOff, cOff, biasOff|-1], [rank, ...aDims, ...bDims, ...cDims, ...biasDims?],
//          [transposeA, transposeB, activation, alpha])
//       a and b as stored (before the transposes), every shape padded to `rank`
//       with leading 1s; batch dims broadcast where one side is 1.
//   conv2d(heap, kind, [xOff, wOff, yOff, biasOff|-1],
//          [N, C, H, W, O, KH, KW, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr, nchw, activation, alpha])
//       kind 0: y = conv(x, w) (+ bias, activation); 1: x = backward data (dy at yOff, dx
//       written at xOff); 2: w = backward weights (dw written at wOff). Weights are HWIO;
//       oneDNN computes with the blocked filter layout it prefers (reordered on the way).
//   poolGrad(heap, kind, [dyOff, xOff, dxOff], [N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL])
//       kind 0: AvgPoolGrad, 1: MaxPoolGrad (x is read for max only); NHWC, dilation 1.
//   unary(heap, alg, [xOff, yOff], n)        alg 0: sigmoid, 1: tanh (oneDNN eltwise)
//   sumRows(heap, kind, [xOff, yOff], [outer, inner, scale?])   kind 0: column sums, 1: row sums
//   tile(heap, [xOff, yOff], [rank, ...inDims, ...reps])      4-byte elements
//   info() -> { onednn: "2.6.3", threads, cacheSize, cacheCapacity }
//   lastImpl() -> the oneDNN implementation name of the last primitive run ("openblas:sgemm"
//       when the last product ran on OpenBLAS, blas.cc).
//   blas() -> { mode, library, config, missing }: which library runs matmul (blas.cc);
//   setBlas(mode) sets it ("auto", "openblas", "onednn"; D2L_NATIVE_BLAS sets the first one).
// Activations: 0 linear, 1 relu, 2 relu6, 3 elu, 4 leakyrelu(alpha), 5 sigmoid.

#include "common.h"
#include "blas.h"

namespace {

using namespace d2l;

// ------------------------------------------------------------------ matmul

napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    auto off = numbers(env, argv[1], "offsets");
    auto shp = numbers(env, argv[2], "shapes");
    auto opt = numbers(env, argv[3], "options");
    if (off.size() != 4 || opt.size() != 4 || shp.empty()) throw JsError("matmul: expected 4 offsets, shapes, 4 options");
    const size_t r = static_cast<size_t>(shp[0]);
    const bool has_bias = off[3] >= 0;
    if (r < 2 || r > 12 || shp.size() != 1 + r * (has_bias ? 4 : 3)) throw JsError("matmul: shapes do not match the rank");
    auto slice = [&](size_t i) { return dims(shp.begin() + 1 + i * r, shp.begin() + 1 + (i + 1) * r); };
    dims a_st = slice(0), b_st = slice(1), c_d = slice(2);
    const bool ta = opt[0] != 0, tb = opt[1] != 0;
    const int act = static_cast<int>(opt[2]);
    const float alpha = static_cast<float>(opt[3]);

    const int64_t K = ta ? a_st[r - 2] : a_st[r - 1];
    double flops = 2.0 * static_cast<double>(product(c_d)) * static_cast<double>(K);
    if (use_openblas(product(c_d) / std::max<int64_t>(1, c_d[r - 2] * c_d[r - 1]), c_d[r - 2], c_d[r - 1], K, ta, tb)) {
      dims bias_d = has_bias ? slice(3) : dims();
      with_threads(flops < SMALL_FLOPS, [&] { openblas_matmul(heap, off, a_st, b_st, c_d, has_bias ? &bias_d : nullptr, ta, tb, act, alpha); });
      last_impl = "openblas:sgemm";
      return nullptr;
    }
    std::string key = key_of("mm", shp, opt);
    with_threads(flops < SMALL_FLOPS, [&] {
    auto e = cache().get(key + (has_bias ? "b" : ""));
    if (!e) {
      // Logical dims/strides: the stored ones with the last two swapped when transposed.
      auto logical = [&](const dims& st, bool t, dims& d, dims& s) {
        d = st;
        s = contiguous(st);
        if (t) {
          std::swap(d[r - 1], d[r - 2]);
          std::swap(s[r - 1], s[r - 2]);
        }
      };
      dims a_d, a_s, b_d, b_s;
      logical(a_st, ta, a_d, a_s);
      logical(b_st, tb, b_d, b_s);
      memory::desc a_md(a_d, memory::data_type::f32, a_s);
      memory::desc b_md(b_d, memory::data_type::f32, b_s);
      memory::desc c_md(c_d, memory::data_type::f32, contiguous(c_d));
      memory::desc bias_md;
      if (has_bias) {
        dims bd = slice(3);
        bias_md = memory::desc(bd, memory::data_type::f32, contiguous(bd));
      }
      dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
      dnnl::matmul::primitive_desc pd(d, activation_attr(act, alpha), eng());
      e = std::make_shared<Entry>();
      e->prim = dnnl::matmul(pd);
      e->a = a_md;
      e->b = b_md;
      e->c = c_md;
      e->bias = bias_md;
      e->impl = pd.impl_info_str();
      cache().put(key + (has_bias ? "b" : ""), e);
    }
    auto mem = [&](const memory::desc& md, double o, const char* what) { return memory(md, eng(), heap.at(o, product(md.dims()), what)); };
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, mem(e->a, off[0], "a")},
        {DNNL_ARG_WEIGHTS, mem(e->b, off[1], "b")},
        {DNNL_ARG_DST, mem(e->c, off[2], "output")},
    };
    if (has_bias) args.emplace(DNNL_ARG_BIAS, mem(e->bias, off[3], "bias"));
    e->prim.execute(strm(), args);
    strm().wait();
    last_impl = e->impl;
    });
    return nullptr;
  });
}

// ------------------------------------------------------------------ conv2d

napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double kind_d = number(env, argv[1], "kind");
    const int kind = static_cast<int>(kind_d);
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (off.size() != 4 || p.size() != 20 || kind < 0 || kind > 2) throw JsError("conv2d: expected kind 0..2, 4 offsets and 20 parameters");
    auto P = [&](int i) { return static_cast<int64_t>(p[i]); };
    const int64_t N = P(0), C = P(1), H = P(2), W = P(3), O = P(4), KH = P(5), KW = P(6), OH = P(7), OW = P(8);
    const int64_t sh = P(9), sw = P(10), dh = P(11), dw = P(12), pt = P(13), pl = P(14);
    int64_t pb = P(15), pr = P(16);
    const bool nchw = P(17) != 0;
    const int act = static_cast<int>(p[18]);
    const float alpha = static_cast<float>(p[19]);
    const bool has_bias = kind == 0 && off[3] >= 0;
    // oneDNN wants padding_r with (in - reach + pl + pr) / stride + 1 == out; tfjs's rounding
    // modes can leave rows the formula does not cover: pad them (tfjs reads them as zeros).
    auto fit = [](int64_t in, int64_t k, int64_t d, int64_t s, int64_t out, int64_t lo, int64_t hi) {
      const int64_t reach = (k - 1) * d + 1;
      if ((in - reach + lo + hi) >= 0 && (in - reach + lo + hi) / s + 1 == out) return hi;
      return (out - 1) * s + reach - in - lo;
    };
    pb = fit(H, KH, dh, sh, OH, pt, pb);
    pr = fit(W, KW, dw, sw, OW, pl, pr);
    // A negative one (tfjs sizes numeric padding by the filter's height in both directions)
    // means the last rows or columns of x are never read: oneDNN, which takes no negative
    // padding, sees x cropped (a strided view of the same memory).
    const int64_t Hc = pb < 0 ? H + pb : H, Wc = pr < 0 ? W + pr : W;
    const bool cropped = Hc != H || Wc != W;
    pb = pb < 0 ? 0 : pb;
    pr = pr < 0 ? 0 : pr;

    std::string key = key_of(kind == 0 ? "cf" : kind == 1 ? "cd" : "cw", p, {has_bias ? 1.0 : 0.0});
    const double flops = 2.0 * N * OH * OW * O * C * KH * KW;
    with_threads(flops < SMALL_FLOPS, [&] {
    auto e = cache().get(key);
    if (!e) {
      const tag act_tag = nchw ? tag::nchw : tag::nhwc;
      memory::desc x_md = cropped ? memory::desc({N, C, Hc, Wc}, memory::data_type::f32,
                                                 nchw ? dims{C * H * W, H * W, W, 1} : dims{H * W * C, 1, W * C, C})
                                  : memory::desc({N, C, H, W}, memory::data_type::f32, act_tag);
      memory::desc hwio_md({O, C, KH, KW}, memory::data_type::f32, tag::hwio);
      memory::desc w_md({O, C, KH, KW}, memory::data_type::f32, tag::any);
      memory::desc y_md({N, O, OH, OW}, memory::data_type::f32, act_tag);
      memory::desc b_md = has_bias ? memory::desc({O}, memory::data_type::f32, tag::a) : memory::desc();
      const dims strides{sh, sw}, dil{dh - 1, dw - 1}, lo{pt, pl}, hi{pb, pr};
      dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x_md, w_md, b_md, y_md,
                                         strides, dil, lo, hi);
      e = std::make_shared<Entry>();
      e->a = x_md;
      e->b = hwio_md;
      e->c = y_md;
      e->bias = b_md;
      e->hwio = hwio_md;
      memory::desc chosen;  // the filter layout the primitive wants
      if (kind == 0) {
        dnnl::convolution_forward::primitive_desc pd(fd, activation_attr(act, alpha), eng());
        e->prim = dnnl::convolution_forward(pd);
        e->impl = pd.impl_info_str();
        chosen = pd.weights_desc();
      } else {
        dnnl::convolution_forward::primitive_desc hint(fd, eng());
        if (kind == 1) {
          dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, x_md, w_md, y_md, strides, dil, lo, hi);
          dnnl::convolution_backward_data::primitive_desc pd(bd, eng(), hint);
          e->prim = dnnl::convolution_backward_data(pd);
          e->impl = pd.impl_info_str();
          chosen = pd.weights_desc();
        } else {
          dnnl::convolution_backward_weights::desc bd(dnnl::algorithm::convolution_direct, x_md, w_md, y_md, strides, dil, lo, hi);
          dnnl::convolution_backward_weights::primitive_desc pd(bd, eng(), hint);
          e->prim = dnnl::convolution_backward_weights(pd);
          e->impl = pd.impl_info_str();
          chosen = pd.diff_weights_desc();
        }
      }
      if (chosen != hwio_md) {
        e->reorder = true;
        e->blocked = memory(chosen, eng());  // owned by the cache entry, reused by every call
        if (kind == 2) {
          e->to_hwio = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), chosen, eng(), hwio_md));
        } else {
          e->to_blocked = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), hwio_md, eng(), chosen));
        }
      }
      cache().put(key, e);
    }
    float* x_ptr = heap.at(off[0], N * C * H * W, kind == 1 ? "dx" : "x");
    if (cropped && kind == 1) std::memset(x_ptr, 0, sizeof(float) * N * C * H * W);  // the rows and columns no output reads
    memory x(e->a, eng(), x_ptr);
    memory w_user(e->b, eng(), heap.at(off[1], O * C * KH * KW, kind == 2 ? "dw" : "filter"));
    if (e->reorder && kind != 2) e->to_blocked.execute(strm(), w_user, e->blocked);
    memory w = e->reorder ? e->blocked : w_user;
    memory y(e->c, eng(), heap.at(off[2], N * O * OH * OW, kind == 0 ? "output" : "dy"));
    if (kind == 0) {
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}};
      if (has_bias) args.emplace(DNNL_ARG_BIAS, memory(e->bias, eng(), heap.at(off[3], O, "bias")));
      e->prim.execute(strm(), args);
    } else if (kind == 1) {
      e->prim.execute(strm(), {{DNNL_ARG_DIFF_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, y}});
    } else {
      e->prim.execute(strm(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, y}});
      if (e->reorder) e->to_hwio.execute(strm(), e->blocked, w_user);
    }
    strm().wait();
    last_impl = e->impl;
    });
    return nullptr;
  });
}

// ------------------------------------------------------------------ pooling gradients

// The gradients of 2-D average and max pooling (NHWC, dilation 1), as tfjs's cpu
// kernels define them: average spreads dy / (fh * fw) over each window's pixels
// inside x; max gives dy to the first largest pixel of each window (none when the
// window holds no number larger than -infinity). Windows are independent per image,
// so images run in parallel (OpenMP, oneDNN's threads).
napi_value PoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double kind_d = number(env, argv[1], "kind");
    const bool is_max = kind_d != 0;
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (off.size() != 3 || p.size() != 12) throw JsError("poolGrad: expected 3 offsets and 12 parameters");
    auto P = [&](int i) { return static_cast<int64_t>(p[i]); };
    const int64_t N = P(0), H = P(1), W = P(2), C = P(3), OH = P(4), OW = P(5), FH = P(6), FW = P(7), SH = P(8), SW = P(9), PT = P(10), PL = P(11);
    const float* dy = heap.at(off[0], N * OH * OW * C, "dy");
    const float* x = is_max ? heap.at(off[1], N * H * W * C, "x") : nullptr;
    float* dx = heap.at(off[2], N * H * W * C, "dx");
    const float mult = 1.f / static_cast<float>(FH * FW);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < N; b++) {
      float* dxb = dx + b * H * W * C;
      std::memset(dxb, 0, sizeof(float) * H * W * C);
      std::vector<float> best(is_max ? C : 0);
      std::vector<int64_t> at(is_max ? C : 0);
      for (int64_t oy = 0; oy < OH; oy++) {
        const int64_t r0 = oy * SH - PT, r1 = std::min(H, r0 + FH);
        for (int64_t ox = 0; ox < OW; ox++) {
          const int64_t c0 = ox * SW - PL, c1 = std::min(W, c0 + FW);
          const float* g = dy + ((b * OH + oy) * OW + ox) * C;
          if (!is_max) {
            for (int64_t r = std::max<int64_t>(r0, 0); r < r1; r++)
              for (int64_t c = std::max<int64_t>(c0, 0); c < c1; c++) {
                float* d = dxb + (r * W + c) * C;
                for (int64_t k = 0; k < C; k++) d[k] += g[k] * mult;
              }
            continue;
          }
          std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
          std::fill(at.begin(), at.end(), -1);
          for (int64_t r = std::max<int64_t>(r0, 0); r < r1; r++)
            for (int64_t c = std::max<int64_t>(c0, 0); c < c1; c++) {
              const float* v = x + ((b * H + r) * W + c) * C;
              const int64_t pos = (r * W + c) * C;
              for (int64_t k = 0; k < C; k++)
                if (v[k] > best[k]) {
                  best[k] = v[k];
                  at[k] = pos;
                }
            }
          for (int64_t k = 0; k < C; k++)
            if (at[k] >= 0) dxb[at[k] + k] += g[k];
        }
      }
    }
    return nullptr;
  });
}

// ------------------------------------------------------------------ elementwise, sums

// y = f(x) over n floats (y may be x): 0 sigmoid, 1 tanh. oneDNN's eltwise primitive.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double alg_d = number(env, argv[1], "algorithm");
    auto off = numbers(env, argv[2], "offsets");
    const double n_d = number(env, argv[3], "count");
    const int alg = static_cast<int>(alg_d);
    const int64_t n = static_cast<int64_t>(n_d);
    if (off.size() != 2 || alg < 0 || alg > 1 || n < 1) throw JsError("unary: expected algorithm 0..1, 2 offsets and a positive count");
    auto e = eltwise_entry("ew," + std::to_string(alg) + "," + std::to_string(n), alg == 0 ? dnnl::algorithm::eltwise_logistic : dnnl::algorithm::eltwise_tanh, n);
    memory x(e->a, eng(), heap.at(off[0], n, "x")), y(e->a, eng(), heap.at(off[1], n, "y"));
    e->prim.execute(strm(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
    strm().wait();
    last_impl = e->impl;
    return nullptr;
  });
}

// Sums of a float32 array viewed as [outer, inner]: kind 0 sums the rows (out[j] = sum_i
// x[i][j], the bias gradient of a dense or conv layer), kind 1 each row (out[i] = sum_j
// x[i][j]). Accumulated in double; in parallel over row blocks or rows.
napi_value SumRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double kind_d = number(env, argv[1], "kind");
    auto off = numbers(env, argv[2], "offsets");
    auto shp = numbers(env, argv[3], "shape");
    if (off.size() != 2 || shp.size() < 2 || shp.size() > 4 || (kind_d == 2 && shp.size() != 4)) {
      throw JsError("sum: expected 2 offsets and [outer, inner, scale?] (kind 2: [rows, inner, scale, batch])");
    }
    const int64_t R = static_cast<int64_t>(shp[0]), K = static_cast<int64_t>(shp[1]);
    const double scale = shp.size() >= 3 ? shp[2] : 1.0;  // 1/count for a mean
    const int64_t B = kind_d == 2 ? static_cast<int64_t>(shp[3]) : 1;
    const float* x = heap.at(off[0], B * R * K, "x");
    if (kind_d == 2) {
      // x as [B, R, K] summed over R (the middle axes: a global average pool's H and W of NHWC):
      // y [B, K], the batch split over the threads, each summing its blocks' rows in double.
      float* y = heap.at(off[1], B * K, "sum");
#pragma omp parallel
      {
        std::vector<double> acc(static_cast<size_t>(K));
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t i = 0; i < R; i++) {
            const float* row = x + (b * R + i) * K;
            for (int64_t j = 0; j < K; j++) acc[j] += row[j];
          }
          for (int64_t j = 0; j < K; j++) y[b * K + j] = static_cast<float>(acc[j] * scale);
        }
      }
    } else if (kind_d == 0) {
      float* y = heap.at(off[1], K, "sum");
      const int threads = omp_get_max_threads();
      std::vector<double> part(static_cast<size_t>(threads) * K, 0.0);
#pragma omp parallel num_threads(threads)
      {
        double* acc = part.data() + static_cast<size_t>(omp_get_thread_num()) * K;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < R; i++) {
          const float* row = x + i * K;
          for (int64_t j = 0; j < K; j++) acc[j] += row[j];
        }
      }
      for (int64_t j = 0; j < K; j++) {
        double t = 0;
        for (int th = 0; th < threads; th++) t += part[static_cast<size_t>(th) * K + j];
        y[j] = static_cast<float>(t * scale);
      }
    } else {
      float* y = heap.at(off[1], R, "sum");
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < R; i++) {
        const float* row = x + i * K;
        double t = 0;
        for (int64_t j = 0; j < K; j++) t += row[j];
        y[i] = static_cast<float>(t * scale);
      }
    }
    return nullptr;
  });
}

// Tile of 4-byte elements: out[.., rep * in_d + i, ..] = in[.., i, ..] along every dim.
void tile_dim(const uint32_t* in, uint32_t* out, const std::vector<int64_t>& in_d, const std::vector<int64_t>& reps,
              const std::vector<int64_t>& in_st, const std::vector<int64_t>& out_st, size_t d) {
  const size_t last = in_d.size() - 1;
  if (d == last) {
    for (int64_t r = 0; r < reps[d]; r++) std::memcpy(out + r * in_d[d], in, sizeof(uint32_t) * in_d[d]);
    return;
  }
  for (int64_t r = 0; r < reps[d]; r++)
    for (int64_t i = 0; i < in_d[d]; i++) tile_dim(in + i * in_st[d], out + (r * in_d[d] + i) * out_st[d], in_d, reps, in_st, out_st, d + 1);
}

// tile(heap, [xOff, yOff], [rank, ...inDims, ...reps]) for float32 / int32 data. The outermost
// output rows are filled in parallel.
napi_value Tile(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 3);
    Heap heap = heap_of(env, argv[0]);
    auto off = numbers(env, argv[1], "offsets");
    auto p = numbers(env, argv[2], "shapes");
    if (off.size() != 2 || p.empty()) throw JsError("tile: expected 2 offsets and [rank, ...dims, ...reps]");
    const size_t r = static_cast<size_t>(p[0]);
    if (r < 1 || p.size() != 1 + 2 * r) throw JsError("tile: shapes do not match the rank");
    std::vector<int64_t> in_d(r), reps(r), out_d(r);
    for (size_t i = 0; i < r; i++) {
      in_d[i] = static_cast<int64_t>(p[1 + i]);
      reps[i] = static_cast<int64_t>(p[1 + r + i]);
      out_d[i] = in_d[i] * reps[i];
    }
    const dims in_st = contiguous(in_d), out_st = contiguous(out_d);
    const uint32_t* x = reinterpret_cast<const uint32_t*>(heap.at(off[0], product(in_d), "x"));
    uint32_t* y = reinterpret_cast<uint32_t*>(heap.at(off[1], product(out_d), "output"));
    if (r == 1) {
      tile_dim(x, y, in_d, reps, in_st, out_st, 0);
      return nullptr;
    }
    // One task per output row of the first dim.
#pragma omp parallel for schedule(static) if (product(out_d) >= 65536)
    for (int64_t o = 0; o < out_d[0]; o++) tile_dim(x + (o % in_d[0]) * in_st[0], y + o * out_st[0], in_d, reps, in_st, out_st, 1);
    return nullptr;
  });
}

// ------------------------------------------------------------------ info

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    const dnnl_version_t* v = dnnl_version();
    std::string ver = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    napi_value obj, s, threads, size, cap, rt;
    CHECK_NAPI(napi_create_object(env, &obj));
    CHECK_NAPI(napi_create_string_utf8(env, ver.c_str(), NAPI_AUTO_LENGTH, &s));
    CHECK_NAPI(napi_create_int32(env, omp_get_max_threads(), &threads));
    CHECK_NAPI(napi_create_int32(env, static_cast<int32_t>(cache().size()), &size));
    CHECK_NAPI(napi_create_int32(env, static_cast<int32_t>(CACHE_CAPACITY), &cap));
    const char* runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other";
    CHECK_NAPI(napi_create_string_utf8(env, runtime, NAPI_AUTO_LENGTH, &rt));
    CHECK_NAPI(napi_set_named_property(env, obj, "onednn", s));
    CHECK_NAPI(napi_set_named_property(env, obj, "threads", threads));
    CHECK_NAPI(napi_set_named_property(env, obj, "runtime", rt));
    CHECK_NAPI(napi_set_named_property(env, obj, "cacheSize", size));
    CHECK_NAPI(napi_set_named_property(env, obj, "cacheCapacity", cap));
    return obj;
  });
}

// blas() -> { mode, library, config, missing }; setBlas(mode) sets the mode ("auto", "openblas",
// "onednn") and returns the same object.
napi_value BlasObject(napi_env env) {
  napi_value obj;
  CHECK_NAPI(napi_create_object(env, &obj));
  auto put = [&](const char* k, const std::string& v) {
    napi_value s;
    CHECK_NAPI(napi_create_string_utf8(env, v.c_str(), NAPI_AUTO_LENGTH, &s));
    CHECK_NAPI(napi_set_named_property(env, obj, k, s));
  };
  const BlasMode m = blas_mode();
  put("mode", m == BlasMode::Auto ? "auto" : m == BlasMode::OpenBlas ? "openblas" : "onednn");
  put("library", openblas_path());
  put("config", openblas_config());
  put("missing", openblas_missing());
  return obj;
}

napi_value Blas(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value { return BlasObject(env); });
}

napi_value SetBlas(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 1);
    char buf[16] = {0};
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len) != napi_ok) throw JsError("setBlas: expected a string: auto, openblas or onednn");
    const std::string v(buf, len);
    if (v == "auto")
      set_blas_mode(BlasMode::Auto);
    else if (v == "openblas")
      set_blas_mode(BlasMode::OpenBlas);
    else if (v == "onednn")
      set_blas_mode(BlasMode::OneDnn);
    else
      throw JsError("setBlas: expected auto, openblas or onednn; got \"" + v + "\"");
    return BlasObject(env);
  });
}

napi_value LastImpl(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, last_impl.c_str(), NAPI_AUTO_LENGTH, &s);
  return s;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolGrad", nullptr, PoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tile", nullptr, Tile, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lastImpl", nullptr, LastImpl, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blas", nullptr, Blas, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setBlas", nullptr, SetBlas, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  register_rnn(env, exports);
  register_ops(env, exports);
  register_fused(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
