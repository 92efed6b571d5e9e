package renderer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pmezard/go-difflib/difflib"
)

// Diff returns a unified diff of dest's current content against data, or
// "" when they are the same. A missing dest diffs as empty.
func Diff(dest string, data []byte) (string, error) {
	cur, err := os.ReadFile(dest)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("diff %s: %w", dest, err)
	}
	if string(cur) == string(data) {
		return "", nil
	}
	d := difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(cur)),
		B:        difflib.SplitLines(string(data)),
		FromFile: dest,
		ToFile:   dest + " (rendered)",
		Context:  3,
	}
	out, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", dest, err)
	}
	return out, nil
}
