package renderer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// fileWrite is one call of writeToFile, its arguments parsed.
type fileWrite struct {
	path            string
	owner, group    string
	perm            os.FileMode
	append, newline bool
	content         []byte
}

// parseWriteToFile reads writeToFile's arguments the way consul-template
// v0.42.1 does: path, owner, group, octal permissions, then the content
// (the piped value) last, with a flags argument before it only when there
// are exactly two ("append", "newline" or "append,newline"; matched as
// substrings). With more than two, the flags are ignored, as there.
func parseWriteToFile(path, owner, group, perms string, args []string) (fileWrite, error) {
	if len(args) == 0 {
		return fileWrite{}, errors.New("writeToFile: wrong number of arguments, expected 5 or 6, but got 4")
	}
	var flags string
	if len(args) == 2 {
		flags = args[0]
	}
	p, err := strconv.ParseUint(perms, 8, 32)
	if err != nil {
		return fileWrite{}, fmt.Errorf("writeToFile: permissions: %w", err)
	}
	return fileWrite{
		path:    filepath.Clean(path),
		owner:   owner,
		group:   group,
		perm:    os.FileMode(p),
		append:  strings.Contains(flags, "append"),
		newline: strings.Contains(flags, "newline"),
		content: []byte(args[len(args)-1]),
	}, nil
}

// fnWriteToFile is consul-template's writeToFile:
//
//	{{ key "tls/cert" | writeToFile "/etc/haproxy/certs/site.pem" "haproxy" "haproxy" "0600" }}
//	{{ key "log/line" | writeToFile "/var/log/x.log" "" "" "0644" "append,newline" }}
//
// Owner and group are names or numeric ids, "" meaning harender's own;
// with both "" the file is not chowned. It returns "". The file is replaced atomically
// (see fileWrite.replace), or appended to with the "append" flag (see
// fileWrite.appendTo). It runs every time the template executes, as in
// consul-template, but never under Options.NoExec.
func fnWriteToFile(path, owner, group, perms string, args ...string) (string, error) {
	w, err := parseWriteToFile(path, owner, group, perms, args)
	if err != nil {
		return "", err
	}
	if w.newline {
		w.content = append(w.content, '\n')
	}
	if err := w.do(); err != nil {
		return "", fmt.Errorf("writeToFile %s: %w", w.path, err)
	}
	return "", nil
}

// checkWriteToFile is writeToFile under NoExec: it checks the arguments
// and writes nothing. It looks up no owner or group: they need not exist
// on the machine that runs check.
func checkWriteToFile(path, owner, group, perms string, args ...string) (string, error) {
	_, err := parseWriteToFile(path, owner, group, perms, args)
	return "", err
}

func (w fileWrite) do() error {
	o, err := lookupOwner(w.owner, w.group)
	if err != nil {
		return err
	}
	if err := w.checkPath(); err != nil {
		return err
	}
	if w.append {
		return w.appendTo(o)
	}
	return w.replace(o)
}

// checkPath makes the parent directory if it is missing, and refuses a
// parent directory or a file that is a symlink, as consul-template does, so
// that a planted link cannot redirect the write.
func (w fileWrite) checkPath() error {
	dir := filepath.Dir(w.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	di, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if di.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("refusing to write through symlinked directory %s", dir)
	}
	fi, err := os.Lstat(w.path)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return errors.New("refusing to write to a symlink")
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// replace writes the file as harender writes every destination: staged
// beside it, owned and permissioned, synced, then renamed over it, so that
// a reader sees the old content or the new, never a part. When the file
// already holds the content, only its owner and mode are set, in place.
func (w fileWrite) replace(o fileOwner) error {
	if Unchanged(w.path, w.content) {
		return o.apply(w.path, w.perm)
	}
	s, err := Stage(w.path, w.content, WriteOptions{Perms: w.perm})
	if err != nil {
		return err
	}
	if err := o.apply(s.Path, w.perm); err != nil {
		s.Discard()
		return err
	}
	if err := s.Commit(); err != nil {
		s.Discard()
		return err
	}
	return nil
}

// appendTo adds the content at the end of the file. An append cannot be a
// rename, and must not be: the file may be appended to by others. What
// keeps it safe instead: O_APPEND puts the one write at the end of the file
// as it is at that moment, so the bytes already there are never rewritten
// and concurrent appenders do not overwrite each other; O_NOFOLLOW refuses
// a symlink planted after checkPath; a write that fails part way is cut back
// off when nothing else was appended meanwhile, so a failed render leaves no
// half line behind; and the file is synced before writeToFile returns.
func (w fileWrite) appendTo(o fileOwner) error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, w.perm)
	if err != nil {
		return err
	}
	before, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if n, err := f.Write(w.content); err != nil {
		if fi, serr := f.Stat(); serr == nil && fi.Size() == before.Size()+int64(n) {
			err = errors.Join(err, f.Truncate(before.Size()))
		}
		f.Close()
		return err
	}
	return errors.Join(o.set(f, w.perm), f.Sync(), f.Close())
}

// fileOwner is writeToFile's owner and group, resolved.
type fileOwner struct {
	uid, gid int
	// chown is false when neither was given: the file keeps the owner it
	// was created with.
	chown bool
}

// lookupOwner resolves writeToFile's owner and group, each a name or a
// numeric id, as consul-template does: "" is harender's own user or group.
func lookupOwner(owner, group string) (fileOwner, error) {
	o := fileOwner{uid: os.Getuid(), gid: os.Getgid(), chown: owner != "" || group != ""}
	if owner != "" {
		u, err := user.Lookup(owner)
		if err == nil {
			o.uid, err = strconv.Atoi(u.Uid)
		} else if id, aerr := strconv.Atoi(owner); aerr == nil {
			o.uid, err = id, nil
		}
		if err != nil {
			return o, fmt.Errorf("owner: %w", err)
		}
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err == nil {
			o.gid, err = strconv.Atoi(g.Gid)
		} else if id, aerr := strconv.Atoi(group); aerr == nil {
			o.gid, err = id, nil
		}
		if err != nil {
			return o, fmt.Errorf("group: %w", err)
		}
	}
	return o, nil
}

// apply sets the owner and mode of the file at path by name: a descriptor
// could not be opened on a file whose mode lets its owner neither read nor
// write. Lchown does not follow a symlink; checkPath has refused one at the
// destination, and Stage has just created the staged file.
func (o fileOwner) apply(path string, perm os.FileMode) error {
	if o.chown {
		if err := os.Lchown(path, o.uid, o.gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, perm)
}

// set chowns (when asked) and then chmods f: a chown may clear mode bits.
func (o fileOwner) set(f *os.File, perm os.FileMode) error {
	if o.chown {
		if err := f.Chown(o.uid, o.gid); err != nil {
			return err
		}
	}
	return f.Chmod(perm)
}
