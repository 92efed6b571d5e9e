consul {
  max_removal_percent = 0
}
template {
  contents = "x"
  destination = "out"
}
