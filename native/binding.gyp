{
  "targets": [
    {
      "target_name": "afpacket",
      "sources": ["afpacket.c"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
