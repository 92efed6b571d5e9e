template {
  contents     = "x"
  destination  = "out"
  sandbox_path = ["/srv/a", "/srv/b"]
}
