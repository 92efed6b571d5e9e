haproxy {
  reconcile_interval = "10 fortnights"
}
template {
  contents = "x"
  destination = "out"
}
