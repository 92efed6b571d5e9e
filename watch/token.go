package watch

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// racyWindow is how long after a file's modification time its stamp
// (size, modification time, inode) is not trusted to show the next change.
// File systems stamp modification times from a coarse clock: a token
// rewritten in place with one of the same length (Consul's secret IDs are
// all 36 bytes) within one tick of the previous write keeps its stamp. As
// git does with its index, a file modified that recently is read again
// instead of being judged by its stamp.
const racyWindow = 2 * time.Second

// tokenFile is a Consul ACL token kept in a file, re-read whenever the
// file changes, so that a rotated token is used from the next request on,
// without a restart. A stat per request is the whole cost while the file
// stays as it is.
type tokenFile struct {
	path string

	mu     sync.Mutex
	stamp  os.FileInfo // the file as it was when token was read; nil: read again
	readAt time.Time   // when token was read
	token  string
}

// newTokenFile reads the token at path. An unreadable file is an error
// that names the path, never a token.
func newTokenFile(path string) (*tokenFile, error) {
	f := &tokenFile{path: path}
	if _, err := f.current(); err != nil {
		return nil, err
	}
	return f, nil
}

// current is the token the file holds now. An empty file, as while an
// editor or `echo tok > file` rewrites it in place, keeps the last token
// read, and is read again at the next request. A file that cannot be read
// is an error: requests fail (and are retried) rather than go out with a
// token that was rotated away.
func (f *tokenFile) current() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("consul token file: %w", err)
	}
	if f.stamp != nil && sameStamp(f.stamp, fi) && f.readAt.Sub(fi.ModTime()) > racyWindow {
		return f.token, nil
	}
	// Stat before reading: a change between the two shows as a new stamp
	// next time, and the file is read again.
	data, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("consul token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		f.stamp = nil
		return f.token, nil
	}
	f.token, f.stamp, f.readAt = tok, fi, time.Now()
	return tok, nil
}

// sameStamp reports whether two stats of one path show the same file,
// unmodified.
func sameStamp(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
