template {
  contents = "x"
  destination = "out"
  perms = "rw-r--r--"
}
