{
  # Builds against Debian's libtorch (libtorch-dev) by default. LIBTORCH=/path/to/libtorch builds against an
  # official distribution instead (e.g. a CUDA build): same headers layout under include/, libraries under lib/.
  # With Debian's libtorch the addon links OpenBLAS's OpenMP build (libopenblas0-openmp) ahead of libtorch, so that
  # BLAS runs on libtorch's own OpenMP threads. With OpenBLAS's pthread build (Debian's preferred libblas.so.3 when
  # both are installed) its threads and libgomp's spin-waiting ones compete for the same cores after every matmul
  # (on 2 cores, a 4096x256 -> 256 linear took 7-8 ms instead of 3.7). The addon's NEEDED libblas.so.3 and
  # liblapack.so.3 load before libtorch's, from its RUNPATH (the OpenMP build), so libtorch binds to that copy.
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")",
    "openblas_openmp%": "<!(node -p \"const d = '/usr/lib/' + require('child_process').execFileSync('gcc', ['-print-multiarch']).toString().trim() + '/openblas-openmp'; require('fs').existsSync(d + '/libblas.so.3') ? d : ''\")"
  },
  "targets": [
    {
      "target_name": "samtutor",
      "sources": ["addon.cc", "tensor.cc", "dispatch.cc", "autograd.cc", "runtime.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "conditions": [
        ["libtorch==''", {
          "include_dirs": ["/usr/include/torch/csrc/api/include"],
          "conditions": [
            ["openblas_openmp!=''", {
              "libraries": ["-Wl,--no-as-needed", "-Wl,-rpath,<(openblas_openmp)", "<(openblas_openmp)/libblas.so.3", "<(openblas_openmp)/liblapack.so.3"]
            }]
          ],
          "libraries": ["-ltorch", "-ltorch_cpu", "-lc10"]
        }, {
          "include_dirs": ["<(libtorch)/include", "<(libtorch)/include/torch/csrc/api/include"],
          "libraries": ["-L<(libtorch)/lib", "-Wl,-rpath,<(libtorch)/lib", "-ltorch", "-ltorch_cpu", "-lc10"]
        }]
      ]
    }
  ]
}
