// d2l-ts native kernels: oneDNN batch normalization and eltwise gradients, on float32 data in the
// wasm backend's heap, in place (see addon.cc for the conventions: the heap ArrayBuffer, byte
// offsets, primitives cached by shape in common.h's LRU, small work on the calling thread).
//
// Exports:
//   batchNorm(heap, kind, offsets, [M, C, eps])     x viewed as [M, C] (channels last)
//     kind 0, training forward: [x, gamma, beta, y, mean, var]; mean and the (biased) variance
//             over the M rows are written, y = gamma * (x - mean) / sqrt(var + eps) + beta.
//     kind 1, backward: [dy, x, gamma, mean, var, dx, dgamma, dbeta] (mean and var of the
//             forward pass; dx includes the paths through mean and var).
//     kind 2, inference: [x, gamma, beta, mean, var, y] with the given statistics.
//   layerNorm(heap, kind, offsets, [M, C, eps])   x viewed as [M, C], each row normalized
//     kind 0, training forward: [x, gamma, beta, y, mean, var] (M statistics each); kind 1, backward:
//             [dy, x, gamma, mean, var, dx, dgamma, dbeta].
//   pool(heap, kind, [xOff, yOff], [N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL, PB, PR])
//     2-D pooling forward, NHWC: kind 0 average (over the pixels inside x), 1 max.
//   eltwiseGrad(heap, alg, [dyOff, xOff, dxOff], [n, alpha])
//     dx = dy * f'(x): alg 0 relu (leaky with slope alpha), 1 elu (alpha), 2 relu6 (clip 0..6).
//   transpose(heap, kind, [xOff, yOff], [r, ...shape, ...perm])   y = x with its axes permuted
//     (y's axis i is x's axis perm[i]), r <= 12; kind 0 float32, 1 int32 (a copy, bits kept).
#include "common.h"

namespace {

using namespace d2l;
using dnnl::normalization_flags;

// Work below this many elements runs on the calling thread alone. These kernels are
// memory-bound and oneDNN's batch norm synchronizes its threads several times per call:
// on a busy 2-core machine a 1.6M-element batch norm took 0.7 ms forward and 1-4 ms
// backward on one thread, and 15-40 ms / 8-17 ms on two.
constexpr int64_t SMALL_ELEMENTS = int64_t{1} << 22;

napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int kind = static_cast<int>(number(env, argv[1], "kind"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    const size_t want = kind == 1 ? 8 : 6;
    if (kind < 0 || kind > 2 || off.size() != want || p.size() != 3) throw JsError("batchNorm: expected kind 0..2, its offsets and [M, C, eps]");
    const int64_t M = static_cast<int64_t>(p[0]), C = static_cast<int64_t>(p[1]);
    const float eps = static_cast<float>(p[2]);
    if (M < 1 || C < 1) throw JsError("batchNorm: M and C must be positive");
    std::string key = key_of("bn", {static_cast<double>(kind), p[0], p[1]}, {p[2]});
    with_threads(M * C < SMALL_ELEMENTS, [&] {
      auto e = cache().get(key);
      if (!e) {
        // [M, C] as a channels-last image of M pixels: oneDNN's jit (nspc) kernels take it;
        // as a 2-D "nc" tensor it gets the reference kernel (17 ms instead of 0.7 ms above).
        memory::desc data({1, C, M, 1}, memory::data_type::f32, tag::nhwc);
        memory::desc chan({C}, memory::data_type::f32, tag::a);
        const auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
        e = std::make_shared<Entry>();
        e->a = data;
        e->b = chan;
        if (kind == 2) {
          dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, data, eps, flags | normalization_flags::use_global_stats);
          dnnl::batch_normalization_forward::primitive_desc pd(d, eng());
          e->prim = dnnl::batch_normalization_forward(pd);
          e->impl = pd.impl_info_str();
        } else {
          dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_training, data, eps, flags);
          dnnl::batch_normalization_forward::primitive_desc fpd(fd, eng());
          if (kind == 0) {
            e->prim = dnnl::batch_normalization_forward(fpd);
            e->impl = fpd.impl_info_str();
          } else {
            dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, data, data, eps, flags);
            dnnl::batch_normalization_backward::primitive_desc bpd(bd, eng(), fpd);
            e->prim = dnnl::batch_normalization_backward(bpd);
            e->impl = bpd.impl_info_str();
          }
        }
        cache().put(key, e);
      }
      auto data = [&](double o, const char* what) { return memory(e->a, eng(), heap.at(o, M * C, what)); };
      auto chan = [&](double o, const char* what) { return memory(e->b, eng(), heap.at(o, C, what)); };
      if (kind == 0) {
        e->prim.execute(strm(), {{DNNL_ARG_SRC, data(off[0], "x")},
                                 {DNNL_ARG_SCALE, chan(off[1], "gamma")},
                                 {DNNL_ARG_SHIFT, chan(off[2], "beta")},
                                 {DNNL_ARG_DST, data(off[3], "y")},
                                 {DNNL_ARG_MEAN, chan(off[4], "mean")},
                                 {DNNL_ARG_VARIANCE, chan(off[5], "variance")}});
      } else if (kind == 1) {
        e->prim.execute(strm(), {{DNNL_ARG_DIFF_DST, data(off[0], "dy")},
                                 {DNNL_ARG_SRC, data(off[1], "x")},
                                 {DNNL_ARG_SCALE, chan(off[2], "gamma")},
                                 // oneDNN 2.6 asks for the shift too, though the gradients do not read it.
                                 {DNNL_ARG_SHIFT, chan(off[2], "gamma")},
                                 {DNNL_ARG_MEAN, chan(off[3], "mean")},
                                 {DNNL_ARG_VARIANCE, chan(off[4], "variance")},
                                 {DNNL_ARG_DIFF_SRC, data(off[5], "dx")},
                                 {DNNL_ARG_DIFF_SCALE, chan(off[6], "dgamma")},
                                 {DNNL_ARG_DIFF_SHIFT, chan(off[7], "dbeta")}});
      } else {
        e->prim.execute(strm(), {{DNNL_ARG_SRC, data(off[0], "x")},
                                 {DNNL_ARG_SCALE, chan(off[1], "gamma")},
                                 {DNNL_ARG_SHIFT, chan(off[2], "beta")},
                                 {DNNL_ARG_MEAN, chan(off[3], "mean")},
                                 {DNNL_ARG_VARIANCE, chan(off[4], "variance")},
                                 {DNNL_ARG_DST, data(off[5], "y")}});
      }
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

// layerNorm(heap, kind, offsets, [M, C, eps]): x viewed as [M, C], normalized over each row of C.
//   kind 0, training forward: [x, gamma, beta, y, mean, var] (mean and biased variance: M each);
//   kind 1, backward: [dy, x, gamma, mean, var, dx, dgamma, dbeta].
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int kind = static_cast<int>(number(env, argv[1], "kind"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (kind < 0 || kind > 1 || off.size() != (kind == 1 ? 8u : 6u) || p.size() != 3) throw JsError("layerNorm: expected kind 0..1, its offsets and [M, C, eps]");
    const int64_t M = static_cast<int64_t>(p[0]), C = static_cast<int64_t>(p[1]);
    const float eps = static_cast<float>(p[2]);
    if (M < 1 || C < 1) throw JsError("layerNorm: M and C must be positive");
    std::string key = key_of("ln", {static_cast<double>(kind), p[0], p[1]}, {p[2]});
    with_threads(M * C < SMALL_ELEMENTS, [&] {
      auto e = cache().get(key);
      if (!e) {
        memory::desc data({M, C}, memory::data_type::f32, tag::ab);
        memory::desc stat({M}, memory::data_type::f32, tag::a);
        const auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
        e = std::make_shared<Entry>();
        e->a = data;
        e->b = memory::desc({C}, memory::data_type::f32, tag::a);
        e->c = stat;
        dnnl::layer_normalization_forward::desc fd(dnnl::prop_kind::forward_training, data, stat, eps, flags);
        dnnl::layer_normalization_forward::primitive_desc fpd(fd, eng());
        if (kind == 0) {
          e->prim = dnnl::layer_normalization_forward(fpd);
          e->impl = fpd.impl_info_str();
        } else {
          dnnl::layer_normalization_backward::desc bd(dnnl::prop_kind::backward, data, data, stat, eps, flags);
          dnnl::layer_normalization_backward::primitive_desc bpd(bd, eng(), fpd);
          e->prim = dnnl::layer_normalization_backward(bpd);
          e->impl = bpd.impl_info_str();
        }
        cache().put(key, e);
      }
      auto data = [&](double o, const char* what) { return memory(e->a, eng(), heap.at(o, M * C, what)); };
      auto chan = [&](double o, const char* what) { return memory(e->b, eng(), heap.at(o, C, what)); };
      auto stat = [&](double o, const char* what) { return memory(e->c, eng(), heap.at(o, M, what)); };
      if (kind == 0) {
        e->prim.execute(strm(), {{DNNL_ARG_SRC, data(off[0], "x")},
                                 {DNNL_ARG_SCALE, chan(off[1], "gamma")},
                                 {DNNL_ARG_SHIFT, chan(off[2], "beta")},
                                 {DNNL_ARG_DST, data(off[3], "y")},
                                 {DNNL_ARG_MEAN, stat(off[4], "mean")},
                                 {DNNL_ARG_VARIANCE, stat(off[5], "variance")}});
      } else {
        e->prim.execute(strm(), {{DNNL_ARG_DIFF_DST, data(off[0], "dy")},
                                 {DNNL_ARG_SRC, data(off[1], "x")},
                                 {DNNL_ARG_SCALE, chan(off[2], "gamma")},
                                 {DNNL_ARG_SHIFT, chan(off[2], "gamma")},  // asked for, not read (as for batch norm)
                                 {DNNL_ARG_MEAN, stat(off[3], "mean")},
                                 {DNNL_ARG_VARIANCE, stat(off[4], "variance")},
                                 {DNNL_ARG_DIFF_SRC, data(off[5], "dx")},
                                 {DNNL_ARG_DIFF_SCALE, chan(off[6], "dgamma")},
                                 {DNNL_ARG_DIFF_SHIFT, chan(off[7], "dbeta")}});
      }
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

// pool(heap, kind, [xOff, yOff], [N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL, PB, PR]): 2-D pooling
// forward, NHWC, dilation 1; kind 0 average over the window's pixels inside x (tfjs' avgPool),
// 1 max. The padding must fit oneDNN's rule (the caller checks: (H - FH + PT + PB) / SH + 1 == OH).
napi_value Pool(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int kind = static_cast<int>(number(env, argv[1], "kind"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (kind < 0 || kind > 1 || off.size() != 2 || p.size() != 14) throw JsError("pool: expected kind 0..1, 2 offsets and 14 parameters");
    auto P = [&](int i) { return static_cast<int64_t>(p[i]); };
    const int64_t N = P(0), H = P(1), W = P(2), C = P(3), OH = P(4), OW = P(5);
    std::string key = key_of("pool", p, {static_cast<double>(kind)});
    with_threads(N * H * W * C < SMALL_ELEMENTS, [&] {
      auto e = cache().get(key);
      if (!e) {
        memory::desc x_md({N, C, H, W}, memory::data_type::f32, tag::nhwc);
        memory::desc y_md({N, C, OH, OW}, memory::data_type::f32, tag::nhwc);
        dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, kind == 0 ? dnnl::algorithm::pooling_avg_exclude_padding : dnnl::algorithm::pooling_max, x_md,
                                         y_md, {P(8), P(9)}, {P(6), P(7)}, {0, 0}, {P(10), P(11)}, {P(12), P(13)});
        dnnl::pooling_v2_forward::primitive_desc pd(d, eng());
        e = std::make_shared<Entry>();
        e->prim = dnnl::pooling_v2_forward(pd);
        e->a = x_md;
        e->c = y_md;
        e->impl = pd.impl_info_str();
        cache().put(key, e);
      }
      memory x(e->a, eng(), heap.at(off[0], N * H * W * C, "x")), y(e->c, eng(), heap.at(off[1], N * OH * OW * C, "output"));
      e->prim.execute(strm(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

napi_value EltwiseGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int alg = static_cast<int>(number(env, argv[1], "algorithm"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    if (alg < 0 || alg > 2 || off.size() != 3 || p.size() != 2 || p[0] < 1) throw JsError("eltwiseGrad: expected algorithm 0..2, 3 offsets and [n, alpha]");
    const int64_t n = static_cast<int64_t>(p[0]);
    const float alpha = static_cast<float>(p[1]);
    const dnnl::algorithm a = alg == 0 ? dnnl::algorithm::eltwise_relu : alg == 1 ? dnnl::algorithm::eltwise_elu : dnnl::algorithm::eltwise_clip;
    // relu6 is eltwise_clip, whose gradient passes dy for 0 < x <= 6 as tfjs' does (clip_v2 drops x == 6).
    const float al = alg == 2 ? 0.f : alpha, be = alg == 2 ? 6.f : 0.f;
    std::string key = key_of("ewb", {static_cast<double>(alg), p[0]}, {al, be});
    with_threads(n < SMALL_ELEMENTS, [&] {
      auto e = cache().get(key);
      if (!e) {
        memory::desc md({n}, memory::data_type::f32, tag::a);
        dnnl::eltwise_forward::desc fd(dnnl::prop_kind::forward_training, a, md, al, be);
        dnnl::eltwise_forward::primitive_desc fpd(fd, eng());
        dnnl::eltwise_backward::desc bd(a, md, md, al, be);
        dnnl::eltwise_backward::primitive_desc bpd(bd, eng(), fpd);
        e = std::make_shared<Entry>();
        e->prim = dnnl::eltwise_backward(bpd);
        e->a = md;
        e->impl = bpd.impl_info_str();
        cache().put(key, e);
      }
      auto m = [&](double o, const char* what) { return memory(e->a, eng(), heap.at(o, n, what)); };
      e->prim.execute(strm(), {{DNNL_ARG_DIFF_DST, m(off[0], "dy")}, {DNNL_ARG_SRC, m(off[1], "x")}, {DNNL_ARG_DIFF_SRC, m(off[2], "dx")}});
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

napi_value Transpose(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const int kind = static_cast<int>(number(env, argv[1], "kind"));
    auto off = numbers(env, argv[2], "offsets");
    auto p = numbers(env, argv[3], "parameters");
    const size_t r = p.empty() ? 0 : static_cast<size_t>(p[0]);
    if (kind < 0 || kind > 1 || off.size() != 2 || r < 1 || r > 12 || p.size() != 1 + 2 * r) throw JsError("transpose: expected kind 0..1, 2 offsets and [r, ...shape, ...perm] with 1 <= r <= 12");
    dims shape(r), perm(r), out(r);
    std::vector<bool> seen(r, false);
    for (size_t i = 0; i < r; i++) {
      shape[i] = static_cast<int64_t>(p[1 + i]);
      perm[i] = static_cast<int64_t>(p[1 + r + i]);
      if (shape[i] < 1 || perm[i] < 0 || perm[i] >= static_cast<int64_t>(r) || seen[perm[i]]) throw JsError("transpose: the shape must be positive and perm a permutation of 0..r-1");
      seen[perm[i]] = true;
    }
    const dims in_strides = contiguous(shape);
    dims src_strides(r);
    for (size_t i = 0; i < r; i++) {
      out[i] = shape[perm[i]];
      src_strides[i] = in_strides[perm[i]];
    }
    const int64_t n = product(shape);
    std::string key = key_of("tr", p, {static_cast<double>(kind)});
    with_threads(n < SMALL_ELEMENTS, [&] {
      auto e = cache().get(key);
      if (!e) {
        const auto dt = kind == 0 ? memory::data_type::f32 : memory::data_type::s32;
        // x read in y's axis order: y's dims with x's strides permuted the same way.
        memory::desc src(out, dt, src_strides), dst(out, dt, contiguous(out));
        dnnl::reorder::primitive_desc pd(eng(), src, eng(), dst);
        e = std::make_shared<Entry>();
        e->prim = dnnl::reorder(pd);
        e->a = src;
        e->c = dst;
        e->impl = pd.impl_info_str();
        cache().put(key, e);
      }
      memory x(e->a, eng(), heap.at(off[0], n, "x")), y(e->c, eng(), heap.at(off[1], n, "output"));
      e->prim.execute(strm(), {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, y}});
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

}  // namespace

void register_ops(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pool", nullptr, Pool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"eltwiseGrad", nullptr, EltwiseGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose", nullptr, Transpose, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
