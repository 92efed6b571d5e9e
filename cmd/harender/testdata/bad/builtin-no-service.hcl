template {
  builtin = "gateway"
  destination = "out"
}
