// d2l-ts native kernels: oneDNN's recurrent primitives (vanilla RNN, LSTM, GRU in both forms), forward and backward, on
// float32 data in the wasm backend's heap, in place (see addon.cc for the conventions).
//
// Exports:
//   rnnWorkspace([cell, T, N, I, H]) -> bytes of the workspace a training forward keeps for the backward
//   rnn(heap, kind, offsets, [cell, T, N, I, H])
//       cell 0: vanilla RNN (tanh), 1: LSTM, 2: GRU (reset gate before the matmul, Keras'), 3: linear-before-reset
//       GRU (PyTorch's). One layer, one direction (left to right), the whole sequence.
//       kind 0: forward inference, 1: forward training (fills the workspace), 2: backward.
//       Forward offsets:  [x, h0, c0, wx, wh, b, y, hT, cT, ws]           (c0, cT: LSTM only, else -1; ws: -1 for kind 0)
//       Backward offsets: [x, h0, c0, wx, wh, b, y, hT, cT, ws, dy, dhT, dcT, dx, dh0, dc0, dwx, dwh, db]
//       x [N, T, I] and y [N, T, H] batch-major (tfjs' layout, oneDNN's ntc); h, c [N, H];
//       wx [I, G*H], wh [H, G*H] (oneDNN's ldigo; gates (i, f, c~, o) for LSTM, (u, r, o) for GRU);
//       b [Gb, H] with Gb = G, or 4 for cell 3 ((b_u, b_r, b_xo, b_ho)).
//       The backward writes (overwrites) every gradient: oneDNN's accumulation is zeroed first.
#include "common.h"

namespace {

using namespace d2l;
using dt = memory::data_type;

struct Shape {
  int cell;
  int64_t T, N, I, H;
};

int64_t gates(int cell) { return cell == 0 ? 1 : cell == 1 ? 4 : 3; }
int64_t bias_gates(int cell) { return cell == 3 ? 4 : gates(cell); }

struct Descs {
  memory::desc src, iter, wl, wi, bias, dst, wl_any, wi_any;
};

Descs descs_of(const Shape& s) {
  const int64_t G = gates(s.cell);
  Descs d;
  d.src = memory::desc({s.T, s.N, s.I}, dt::f32, tag::ntc);
  d.iter = memory::desc({1, 1, s.N, s.H}, dt::f32, tag::ldnc);
  d.wl = memory::desc({1, 1, s.I, G, s.H}, dt::f32, tag::ldigo);
  d.wi = memory::desc({1, 1, s.H, G, s.H}, dt::f32, tag::ldigo);
  d.bias = memory::desc({1, 1, bias_gates(s.cell), s.H}, dt::f32, tag::ldgo);
  d.dst = memory::desc({s.T, s.N, s.H}, dt::f32, tag::ntc);
  d.wl_any = memory::desc({1, 1, s.I, G, s.H}, dt::f32, tag::any);
  d.wi_any = memory::desc({1, 1, s.H, G, s.H}, dt::f32, tag::any);
  return d;
}

// The primitives of one shape: forward (inference or training) and, for training, the backward with the
// weights in the layout it wants (reorders from and to ldigo, and scratch memories for them).
struct RnnEntry {
  dnnl::primitive fwd, bwd;
  size_t ws_bytes = 0;
  memory::desc ws;
  memory wl_b, wi_b, dwl_b, dwi_b;
  dnnl::reorder to_wl, to_wi, from_dwl, from_dwi;
  bool re_wl = false, re_wi = false, re_dwl = false, re_dwi = false;
  std::string impl;
};

constexpr dnnl::rnn_direction L2R = dnnl::rnn_direction::unidirectional_left2right;

std::shared_ptr<RnnEntry> build(const Shape& s, bool training) {
  const Descs d = descs_of(s);
  auto e = std::make_shared<RnnEntry>();
  const auto pk = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  // What every cell shares once its typed primitive descriptors exist.
  auto finish_fwd = [&](const auto& fpd, auto prim) {
    e->fwd = prim;
    e->impl = fpd.impl_info_str();
    if (training) {
      e->ws = fpd.workspace_desc();
      e->ws_bytes = e->ws.get_size();
    }
  };
  auto finish_bwd = [&](const auto& bpd, auto prim) {
    e->bwd = prim;
    auto prep = [&](const memory::desc& user, const memory::desc& want, memory& scratch, dnnl::reorder& r, bool& re, bool to_want) {
      re = !(user == want);
      if (!re) return;
      scratch = memory(want, eng());
      r = to_want ? dnnl::reorder(dnnl::reorder::primitive_desc(eng(), user, eng(), want)) : dnnl::reorder(dnnl::reorder::primitive_desc(eng(), want, eng(), user));
    };
    prep(d.wl, bpd.weights_layer_desc(), e->wl_b, e->to_wl, e->re_wl, true);
    prep(d.wi, bpd.weights_iter_desc(), e->wi_b, e->to_wi, e->re_wi, true);
    prep(d.wl, bpd.diff_weights_layer_desc(), e->dwl_b, e->from_dwl, e->re_dwl, false);
    prep(d.wi, bpd.diff_weights_iter_desc(), e->dwi_b, e->from_dwi, e->re_dwi, false);
  };
  const auto bk = dnnl::prop_kind::backward;
  switch (s.cell) {
    case 0: {
      const auto act = dnnl::algorithm::eltwise_tanh;
      dnnl::vanilla_rnn_forward::desc fd(pk, act, L2R, d.src, d.iter, d.wl, d.wi, d.bias, d.dst, d.iter);
      dnnl::vanilla_rnn_forward::primitive_desc fpd(fd, eng());
      finish_fwd(fpd, dnnl::vanilla_rnn_forward(fpd));
      if (training) {
        dnnl::vanilla_rnn_backward::desc bd(bk, act, L2R, d.src, d.iter, d.wl_any, d.wi_any, d.bias, d.dst, d.iter, d.src, d.iter, d.wl_any, d.wi_any, d.bias,
                                            d.dst, d.iter);
        dnnl::vanilla_rnn_backward::primitive_desc bpd(bd, eng(), fpd);
        finish_bwd(bpd, dnnl::vanilla_rnn_backward(bpd));
      }
      break;
    }
    case 1: {
      dnnl::lstm_forward::desc fd(pk, L2R, d.src, d.iter, d.iter, d.wl, d.wi, d.bias, d.dst, d.iter, d.iter);
      dnnl::lstm_forward::primitive_desc fpd(fd, eng());
      finish_fwd(fpd, dnnl::lstm_forward(fpd));
      if (training) {
        dnnl::lstm_backward::desc bd(bk, L2R, d.src, d.iter, d.iter, d.wl_any, d.wi_any, d.bias, d.dst, d.iter, d.iter, d.src, d.iter, d.iter, d.wl_any, d.wi_any,
                                     d.bias, d.dst, d.iter, d.iter);
        dnnl::lstm_backward::primitive_desc bpd(bd, eng(), fpd);
        finish_bwd(bpd, dnnl::lstm_backward(bpd));
      }
      break;
    }
    case 2: {
      dnnl::gru_forward::desc fd(pk, L2R, d.src, d.iter, d.wl, d.wi, d.bias, d.dst, d.iter);
      dnnl::gru_forward::primitive_desc fpd(fd, eng());
      finish_fwd(fpd, dnnl::gru_forward(fpd));
      if (training) {
        dnnl::gru_backward::desc bd(bk, L2R, d.src, d.iter, d.wl_any, d.wi_any, d.bias, d.dst, d.iter, d.src, d.iter, d.wl_any, d.wi_any, d.bias, d.dst, d.iter);
        dnnl::gru_backward::primitive_desc bpd(bd, eng(), fpd);
        finish_bwd(bpd, dnnl::gru_backward(bpd));
      }
      break;
    }
    case 3: {
      dnnl::lbr_gru_forward::desc fd(pk, L2R, d.src, d.iter, d.wl, d.wi, d.bias, d.dst, d.iter);
      dnnl::lbr_gru_forward::primitive_desc fpd(fd, eng());
      finish_fwd(fpd, dnnl::lbr_gru_forward(fpd));
      if (training) {
        dnnl::lbr_gru_backward::desc bd(bk, L2R, d.src, d.iter, d.wl_any, d.wi_any, d.bias, d.dst, d.iter, d.src, d.iter, d.wl_any, d.wi_any, d.bias, d.dst,
                                        d.iter);
        dnnl::lbr_gru_backward::primitive_desc bpd(bd, eng(), fpd);
        finish_bwd(bpd, dnnl::lbr_gru_backward(bpd));
      }
      break;
    }
    default:
      throw JsError("rnn: cell must be 0 (vanilla), 1 (LSTM), 2 (GRU) or 3 (linear-before-reset GRU), got " + std::to_string(s.cell));
  }
  return e;
}

// The RNN primitives' own cache (their entries hold more than common.h's Entry).
std::shared_ptr<RnnEntry> entry(const Shape& s, bool training) {
  static std::list<std::pair<std::string, std::shared_ptr<RnnEntry>>> order;
  std::ostringstream k;
  k << s.cell << "," << s.T << "," << s.N << "," << s.I << "," << s.H << "," << training;
  const std::string key = k.str();
  for (auto it = order.begin(); it != order.end(); ++it) {
    if (it->first == key) {
      order.splice(order.begin(), order, it);
      return order.front().second;
    }
  }
  auto e = build(s, training);
  order.emplace_front(key, e);
  if (order.size() > 64) order.pop_back();
  return e;
}

Shape shape_of(const std::vector<double>& p) {
  if (p.size() != 5) throw JsError("rnn: expected the parameters [cell, steps, batch, inputSize, hidden]");
  Shape s{static_cast<int>(p[0]), static_cast<int64_t>(p[1]), static_cast<int64_t>(p[2]), static_cast<int64_t>(p[3]), static_cast<int64_t>(p[4])};
  if (s.T < 1 || s.N < 1 || s.I < 1 || s.H < 1) throw JsError("rnn: steps, batch, input size and hidden size must be at least 1");
  if (s.cell < 0 || s.cell > 3) throw JsError("rnn: cell must be 0 (vanilla), 1 (LSTM), 2 (GRU) or 3 (linear-before-reset GRU)");
  return s;
}

napi_value RnnWorkspace(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 1);
    const Shape s = shape_of(numbers(env, argv[0], "parameters"));
    auto e = entry(s, true);
    napi_value out;
    CHECK_NAPI(napi_create_double(env, static_cast<double>(e->ws_bytes), &out));
    return out;
  });
}

napi_value Rnn(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto argv = args_of(env, info, 4);
    Heap heap = heap_of(env, argv[0]);
    const double kind_d = number(env, argv[1], "kind");
    const int kind = static_cast<int>(kind_d);
    auto off = numbers(env, argv[2], "offsets");
    const Shape s = shape_of(numbers(env, argv[3], "parameters"));
    if (kind < 0 || kind > 2) throw JsError("rnn: kind must be 0 (inference), 1 (training forward) or 2 (backward)");
    if (off.size() != (kind == 2 ? 19u : 10u)) throw JsError(kind == 2 ? "rnn backward: expected 19 offsets" : "rnn forward: expected 10 offsets");
    const bool lstm = s.cell == 1;
    const bool training = kind != 0;
    const Descs d = descs_of(s);
    const int64_t G = gates(s.cell);
    // Each step waits for the one before: its recurrent product, 2·N·H·G·H flops, is the work between two of the
    // threads' meeting points. Below RNN_SMALL_STEP_FLOPS one thread runs it all. On the idle 2-core machine the
    // LSTM LM (batch 32, 256 units: 16.8 MFLOP a step) trained 1,123-1,160 sequences/s on one thread against
    // 1,007-1,013 on two, and the GRU LM (12.6 MFLOP) about the same either way; a lone product's limit
    // (SMALL_FLOPS, 16 MFLOP) put the LSTM on two.
    constexpr double RNN_SMALL_STEP_FLOPS = 64e6;
    const double step_flops = 2.0 * static_cast<double>(s.N) * static_cast<double>(s.H) * static_cast<double>(G * s.H);
    with_threads(step_flops < RNN_SMALL_STEP_FLOPS, [&] {
      auto e = entry(s, training);
      auto mem = [&](const memory::desc& md, double o, const char* what) { return memory(md, eng(), heap.at(o, static_cast<int64_t>(md.get_size() / 4), what)); };
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC_LAYER, mem(d.src, off[0], "x")},
          {DNNL_ARG_SRC_ITER, mem(d.iter, off[1], "h0")},
          {DNNL_ARG_BIAS, mem(d.bias, off[5], "bias")},
          {DNNL_ARG_DST_LAYER, mem(d.dst, off[6], "y")},
          {DNNL_ARG_DST_ITER, mem(d.iter, off[7], "hT")},
      };
      memory wl = mem(d.wl, off[3], "input kernel"), wi = mem(d.wi, off[4], "recurrent kernel");
      if (lstm) {
        args.emplace(DNNL_ARG_SRC_ITER_C, mem(d.iter, off[2], "c0"));
        args.emplace(DNNL_ARG_DST_ITER_C, mem(d.iter, off[8], "cT"));
      }
      if (training) {
        const double w = off[9];
        if (w < 0 || static_cast<uint64_t>(w) + e->ws_bytes > heap.bytes) throw JsError("rnn: the workspace does not fit in the heap");
        args.emplace(DNNL_ARG_WORKSPACE, memory(e->ws, eng(), heap.data + static_cast<size_t>(w)));
      }
      if (kind != 2) {
        args.emplace(DNNL_ARG_WEIGHTS_LAYER, wl);
        args.emplace(DNNL_ARG_WEIGHTS_ITER, wi);
        e->fwd.execute(strm(), args);
        strm().wait();
        last_impl = e->impl;
        return;
      }
      // Backward: the weights in the backward's layout, every gradient zeroed (oneDNN accumulates).
      if (e->re_wl) e->to_wl.execute(strm(), wl, e->wl_b);
      if (e->re_wi) e->to_wi.execute(strm(), wi, e->wi_b);
      args.emplace(DNNL_ARG_WEIGHTS_LAYER, e->re_wl ? e->wl_b : wl);
      args.emplace(DNNL_ARG_WEIGHTS_ITER, e->re_wi ? e->wi_b : wi);
      memory dwl = mem(d.wl, off[16], "input kernel gradient"), dwi = mem(d.wi, off[17], "recurrent kernel gradient");
      memory dx = mem(d.src, off[13], "x gradient"), dh0 = mem(d.iter, off[14], "h0 gradient"), db = mem(d.bias, off[18], "bias gradient");
      auto zero = [](memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); };
      memory dwl_use = e->re_dwl ? e->dwl_b : dwl, dwi_use = e->re_dwi ? e->dwi_b : dwi;
      for (memory* m : {&dwl_use, &dwi_use, &dx, &dh0, &db}) zero(*m);
      args.emplace(DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_use);
      args.emplace(DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_use);
      args.emplace(DNNL_ARG_DIFF_SRC_LAYER, dx);
      args.emplace(DNNL_ARG_DIFF_SRC_ITER, dh0);
      args.emplace(DNNL_ARG_DIFF_BIAS, db);
      args.emplace(DNNL_ARG_DIFF_DST_LAYER, mem(d.dst, off[10], "y gradient"));
      args.emplace(DNNL_ARG_DIFF_DST_ITER, mem(d.iter, off[11], "hT gradient"));
      if (lstm) {
        memory dc0 = mem(d.iter, off[15], "c0 gradient");
        zero(dc0);
        args.emplace(DNNL_ARG_DIFF_SRC_ITER_C, dc0);
        args.emplace(DNNL_ARG_DIFF_DST_ITER_C, mem(d.iter, off[12], "cT gradient"));
      }
      e->bwd.execute(strm(), args);
      if (e->re_dwl) e->from_dwl.execute(strm(), e->dwl_b, dwl);
      if (e->re_dwi) e->from_dwi.execute(strm(), e->dwi_b, dwi);
      strm().wait();
      last_impl = e->impl;
    });
    return nullptr;
  });
}

}  // namespace

void register_rnn(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> fns[] = {{"rnn", Rnn}, {"rnnWorkspace", RnnWorkspace}};
  for (const auto& [name, fn] : fns) {
    napi_value f;
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f) != napi_ok || napi_set_named_property(env, exports, name, f) != napi_ok) {
      napi_throw_error(env, nullptr, "d2l_native: could not register the rnn functions");
      return;
    }
  }
}
