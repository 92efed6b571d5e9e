consul {
  retry { backoff = "1s"  max_backoff = "2s" }
}
