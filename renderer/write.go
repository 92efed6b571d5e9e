package renderer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteOptions says how a destination is written.
type WriteOptions struct {
	// Perms for the file; 0 keeps the current file's, or 0644 for a new one.
	Perms os.FileMode
	// Backup keeps the previous file as DEST.bak.
	Backup bool
	// CreateDestDirs makes missing parent directories.
	CreateDestDirs bool
}

// CandidateSuffix names the staged file beside a destination. A candidate
// HAProxy rejects is left there, so its line numbers point somewhere real.
const CandidateSuffix = ".candidate"

// Staged is rendered output written and synced beside its destination, not
// yet in place.
type Staged struct {
	Dest string
	Path string
	opts WriteOptions
}

// Unchanged reports whether dest already holds exactly data.
func Unchanged(dest string, data []byte) bool {
	cur, err := os.ReadFile(dest)
	return err == nil && bytes.Equal(cur, data)
}

// Stage writes data to DEST.candidate, created with its permissions before
// any byte is written, and fsyncs it.
func Stage(dest string, data []byte, o WriteOptions) (*Staged, error) {
	return stage(dest, data, o, true)
}

// Draft is Stage without the fsync, for a candidate that is only checked
// and then discarded: a commit stages it again. Under load an fsync here
// cost up to 20 ms on the path from a Consul change to HAProxy.
func Draft(dest string, data []byte, o WriteOptions) (*Staged, error) {
	return stage(dest, data, o, false)
}

func stage(dest string, data []byte, o WriteOptions, sync bool) (*Staged, error) {
	dir := filepath.Dir(dest)
	if o.CreateDestDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create dest dirs: %w", err)
		}
	}
	perms := o.Perms
	if perms == 0 {
		perms = 0o644
		if fi, err := os.Stat(dest); err == nil {
			perms = fi.Mode().Perm()
		}
	}
	o.Perms = perms
	path := dest + CandidateSuffix
	f, err := createExact(path, perms)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", dest, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("stage %s: %w", dest, err)
	}
	var syncErr error
	if sync {
		syncErr = f.Sync()
	}
	if err := errors.Join(syncErr, f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("stage %s: %w", dest, err)
	}
	return &Staged{Dest: dest, Path: path, opts: o}, nil
}

// createExact creates path as a new file with exactly perms before a byte
// is in it. A candidate left by an earlier run (a kill, a rejected check)
// is removed first, not truncated: truncating would keep its mode, and a
// secret rendered with perms 0600 would be written into a file that others
// can read until the chmod. O_EXCL|O_NOFOLLOW refuse a file or a symlink
// planted in between; the mode the umask narrowed is set back at once.
func createExact(path string, perms os.FileMode) (*os.File, error) {
	// Unlink, not os.Remove: a directory in the way is an error, not
	// something to remove.
	if err := syscall.Unlink(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perms)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perms); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// Commit renames the staged file over the destination and fsyncs the
// directory, keeping DEST.bak first when asked. Readers see the old file or
// the new one, never a mix.
func (s *Staged) Commit() error {
	if s.opts.Backup {
		if err := backup(s.Dest); err != nil {
			return err
		}
	}
	if err := os.Rename(s.Path, s.Dest); err != nil {
		return fmt.Errorf("write %s: %w", s.Dest, err)
	}
	return syncDir(filepath.Dir(s.Dest))
}

// Discard removes the staged file.
func (s *Staged) Discard() {
	os.Remove(s.Path)
}

// WriteFile writes data to dest atomically. It writes nothing, and reports
// false, when dest already holds the same bytes.
func WriteFile(dest string, data []byte, o WriteOptions) (bool, error) {
	if Unchanged(dest, data) {
		return false, nil
	}
	s, err := Stage(dest, data, o)
	if err != nil {
		return false, err
	}
	if err := s.Commit(); err != nil {
		s.Discard()
		return false, err
	}
	return true, nil
}

// backup copies dest to dest.bak through a temp file, so that the .bak is
// whole and dest never goes missing.
func backup(dest string) error {
	src, err := os.Open(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup %s: %w", dest, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("backup %s: %w", dest, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".bak-*")
	if err != nil {
		return fmt.Errorf("backup %s: %w", dest, err)
	}
	_, err = io.Copy(tmp, src)
	err = errors.Join(err, tmp.Chmod(fi.Mode().Perm()), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), dest+".bak")
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("backup %s: %w", dest, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
