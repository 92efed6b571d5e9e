consul {
  max_stale = "-1s"
}
template {
  contents = "x"
  destination = "out"
}
