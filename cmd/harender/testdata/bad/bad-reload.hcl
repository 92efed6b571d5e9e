haproxy {
  reload = "sometimes"
}
