package watch

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/hashicorp/consul/api"
)

// filePollInterval is how often a watched file is checked for a change.
const filePollInterval = time.Second

// FileQuery is the `file` template function's dependency: a local file's
// contents, re-read when its size or modification time changes. It rides
// the same blocking loop as the Consul queries; its index stands for the
// file's size and modification time.
type FileQuery struct {
	path string
}

// NewFileQuery watches the file at path.
func NewFileQuery(path string) (*FileQuery, error) {
	if path == "" {
		return nil, fmt.Errorf("file: invalid format: %q", path)
	}
	return &FileQuery{path: path}, nil
}

func (d *FileQuery) String() string { return fmt.Sprintf("file(%s)", d.path) }

// Fetch returns the file's contents once its index differs from
// q.WaitIndex, or after q.WaitTime with the same index.
func (d *FileQuery) Fetch(ctx context.Context, _ *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	deadline := time.Now().Add(q.WaitTime)
	for {
		fi, err := os.Stat(d.path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d, err)
		}
		idx := fileIndex(fi)
		if idx != q.WaitIndex || !time.Now().Before(deadline) {
			b, err := os.ReadFile(d.path)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", d, err)
			}
			return string(b), &api.QueryMeta{LastIndex: idx, KnownLeader: true}, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(filePollInterval):
		}
	}
}

// fileIndex folds a file's size and modification time into a non-zero index.
func fileIndex(fi os.FileInfo) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", fi.Size(), fi.ModTime().UnixNano())
	return h.Sum64() | 1
}
