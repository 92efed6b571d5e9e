package apply

import "testing"

func TestNewLines(t *testing.T) {
	tests := []struct{ before, after, want string }{
		{"", "a\nb", "a\nb"},
		{"a\nb", "a\nb\nc\nd", "c\nd"},
		{"a\nb\nc", "b\nc\nd", "d"}, // the tail window slid
		{"a\nb", "a\nb", ""},
		{"x", "y\nz", "y\nz"}, // nothing in common: all of it
	}
	for _, tt := range tests {
		if got := newLines(tt.before, tt.after); got != tt.want {
			t.Errorf("newLines(%q, %q) = %q, want %q", tt.before, tt.after, got, tt.want)
		}
	}
}
