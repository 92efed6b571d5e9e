template {
  contents = "{{ servce \"web\" }}"
  destination = "out"
}
