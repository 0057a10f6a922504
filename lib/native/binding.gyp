{
  "targets": [
    {
      "target_name": "d2l_native",
      "sources": ["src/addon.cc", "src/rnn.cc", "src/ops.cc", "src/fused.cc", "src/blas.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-fopenmp", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-ldl"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
