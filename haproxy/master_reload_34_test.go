package haproxy

import (
	"errors"
	"testing"
)

// TestReloadInProgress: 3.1+ turns a reload down while a worker is still
// starting. That is no refused config: it must not read as ErrReloadFailed.
func TestReloadInProgress(t *testing.T) {
	path := fakeMaster(t, func(cmd string) string {
		if cmd == "show proc" {
			return "1 master 0 [failed: 0] 0d 3.4.0\n# workers\n2 worker 0 0d 3.4.0\n"
		}
		return "Success=0\n--\nAnother reload is still in progress.\n"
	})
	_, err := (&Master{Path: path}).Reload(t.Context())
	if !errors.Is(err, ErrReloadInProgress) || errors.Is(err, ErrReloadFailed) {
		t.Fatalf("err = %v; want ErrReloadInProgress, not ErrReloadFailed", err)
	}
}
