{
  "targets": [
    {
      "target_name": "strata_fuse",
      "sources": ["src/strata_fuse.c", "src/fuse_ops.c", "src/native_open.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
