template {
  contents          = "x"
  destination       = "out"
  function_denylist = "plugin"
}
