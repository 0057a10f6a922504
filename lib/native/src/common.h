// Shared by the addon's translation units (addon.cc, rnn.cc, ops.cc): oneDNN's engine
// and stream, the primitive cache, the thread policy for small work, and the N-API
// helpers (arguments, the heap, errors). Everything here is inline, so each static
// (engine, stream, cache, last_impl) exists once in the addon.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <omp.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <list>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dnnl.hpp"

namespace d2l {

using dnnl::memory;
using dims = memory::dims;
using tag = memory::format_tag;
constexpr size_t CACHE_CAPACITY = 256;

inline dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
inline dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

// A cached primitive with the descriptors its memories need.
struct Entry {
  dnnl::primitive prim;
  memory::desc a, b, c, bias;  // matmul: src, weights, dst, bias; conv: src/diff_src, weights/diff_weights, dst/diff_dst, bias
  std::string impl;
  // Convolutions: oneDNN's fast kernels want the filter in a blocked layout of their
  // choice. `blocked` holds it; `to_blocked` reorders tfjs's HWIO filter into it
  // (forward, backward data), `to_hwio` reorders the blocked filter gradient into
  // the HWIO output (backward weights). Empty when the primitive takes HWIO as is.
  memory::desc hwio;
  memory blocked;
  dnnl::reorder to_blocked, to_hwio;
  bool reorder = false;
};

class Lru {
 public:
  std::shared_ptr<Entry> get(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void put(const std::string& key, std::shared_ptr<Entry> e) {
    order_.emplace_front(key, std::move(e));
    map_[key] = order_.begin();
    while (order_.size() > CACHE_CAPACITY) {
      map_.erase(order_.back().first);
      order_.pop_back();
    }
  }
  size_t size() const { return order_.size(); }

 private:
  std::list<std::pair<std::string, std::shared_ptr<Entry>>> order_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::shared_ptr<Entry>>>::iterator> map_;
};

inline Lru& cache() {
  static Lru c;
  return c;
}
inline std::string last_impl;

// The cached oneDNN eltwise forward (inference) primitive `alg` over n floats, under `key`.
inline std::shared_ptr<Entry> eltwise_entry(const std::string& key, dnnl::algorithm alg, int64_t n) {
  auto e = cache().get(key);
  if (e) return e;
  memory::desc md({n}, memory::data_type::f32, tag::a);
  dnnl::eltwise_forward::primitive_desc pd(dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, 0.f, 0.f), eng());
  e = std::make_shared<Entry>();
  e->prim = dnnl::eltwise_forward(pd);
  e->a = md;
  e->impl = pd.impl_info_str();
  cache().put(key, e);
  return e;
}

// Work below this many flops runs on the calling thread alone: waking oneDNN's OpenMP
// threads costs more than a small product saves (a 256x256x10 product took 0.9 ms with two
// threads, most of it waiting; a 256x784x10 product, 4.01 MFLOP, of a softmax-regression step
// 108 us on two threads against 81 on one, and up to 700 us inside a step on a busy machine;
// one thread stays faster up to about 16 MFLOP). The choice depends on the shapes only, so a
// cached primitive always runs with the thread count it was created with.
constexpr double SMALL_FLOPS = 16e6;

// Runs f with OpenMP limited to one thread when `small`, restoring the setting after.
template <typename F>
inline void with_threads(bool small, F&& f) {
  if (!small) return f();
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  try {
    f();
  } catch (...) {
    omp_set_num_threads(before);
    throw;
  }
  omp_set_num_threads(before);
}

// ------------------------------------------------------------------ N-API

struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define CHECK_NAPI(call)                                   \
  do {                                                     \
    if ((call) != napi_ok) throw JsError("N-API call failed: " #call); \
  } while (0)

inline double number(napi_env env, napi_value v, const char* what) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw JsError(std::string(what) + " must be a number");
  return d;
}

inline std::vector<double> numbers(napi_env env, napi_value v, const char* what) {
  bool is_array = false;
  CHECK_NAPI(napi_is_array(env, v, &is_array));
  if (!is_array) throw JsError(std::string(what) + " must be an array of numbers");
  uint32_t n = 0;
  CHECK_NAPI(napi_get_array_length(env, v, &n));
  std::vector<double> out(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    CHECK_NAPI(napi_get_element(env, v, i, &e));
    if (napi_get_value_double(env, e, &out[i]) != napi_ok) throw JsError(std::string(what) + " must hold numbers only");
  }
  return out;
}

struct Heap {
  uint8_t* data = nullptr;
  size_t bytes = 0;
  // A float pointer to `count` floats at byte offset `off`, after a bounds check.
  float* at(double off, int64_t count, const char* what) const {
    if (off < 0 || off != static_cast<double>(static_cast<int64_t>(off)) ||
        static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > bytes) {
      std::ostringstream m;
      m << what << ": " << count << " floats at byte " << off << " do not fit in the " << bytes << "-byte heap";
      throw JsError(m.str());
    }
    return reinterpret_cast<float*>(data + static_cast<size_t>(off));
  }
};

inline Heap heap_of(napi_env env, napi_value v) {
  bool is_ab = false;
  CHECK_NAPI(napi_is_arraybuffer(env, v, &is_ab));
  if (!is_ab) throw JsError("the first argument must be an ArrayBuffer (the wasm heap, not a SharedArrayBuffer)");
  Heap h;
  void* data = nullptr;
  CHECK_NAPI(napi_get_arraybuffer_info(env, v, &data, &h.bytes));
  h.data = static_cast<uint8_t*>(data);
  return h;
}

inline std::vector<napi_value> args_of(napi_env env, napi_callback_info info, size_t want) {
  size_t argc = want;
  std::vector<napi_value> argv(want);
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
  if (argc < want) throw JsError("expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
  return argv;
}

template <typename F>
inline napi_value guarded(napi_env env, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "D2L_NATIVE_ONEDNN", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "D2L_NATIVE", e.what());
  }
  return nullptr;
}

inline int64_t product(const dims& d) {
  int64_t p = 1;
  for (auto v : d) p *= v;
  return p;
}

inline std::string key_of(const char* kind, const std::vector<double>& a, const std::vector<double>& b) {
  std::string k(kind);
  for (double v : a) k += "," + std::to_string(static_cast<int64_t>(v));
  k += "|";
  for (double v : b) k += "," + std::to_string(v);
  return k;
}

inline dnnl::primitive_attr activation_attr(int act, float alpha) {
  dnnl::primitive_attr attr;
  dnnl::post_ops po;
  switch (act) {
    case 0: break;
    case 1: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case 2: po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case 3: po.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case 4: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case 5: po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    default: throw JsError("unknown activation code " + std::to_string(act));
  }
  attr.set_post_ops(po);
  return attr;
}

// Contiguous row-major strides of `d`.
inline dims contiguous(const dims& d) {
  dims s(d.size());
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

}  // namespace d2l

// Each translation unit adds its functions to the addon's exports.
void register_rnn(napi_env env, napi_value exports);
void register_ops(napi_env env, napi_value exports);
void register_fused(napi_env env, napi_value exports);
