{
  "targets": [
    {
      "target_name": "dfkd_native",
      "sources": ["native/src/addon.cc", "native/src/registry.cc", "native/src/args.cc", "native/src/creation.cc", "native/src/autograd.cc", "native/src/runtime.cc", "native/src/ops.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node native/config.js include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "<!@(node native/config.js defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node native/config.js ldflags)", "<!@(node native/config.js libs)"]
    }
  ]
}
