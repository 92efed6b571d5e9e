wait {
  min = "5 parsecs"
}
template {
  contents = "x"
  destination = "out"
}
