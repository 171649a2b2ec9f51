{
  "targets": [
    {
      "target_name": "famfs_dax",
      "sources": ["native/dax.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
