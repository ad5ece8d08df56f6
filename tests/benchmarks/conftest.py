"""Keep the benchmark scripts out of the default pytest run (run them with python instead)."""

collect_ignore_glob = ["*"]
