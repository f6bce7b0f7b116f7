{
  "targets": [
    {
      "target_name": "keel_sys",
      "sources": ["keel_sys.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
