// d2l-ts native kernels: oneDNN batch normalization, pooling, eltwise, softmax and layer normalization, on
// float32 data in the wasm backend's heap, in place (see addon.cc for the conventions).
#include "common.h"

void register_ops(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
