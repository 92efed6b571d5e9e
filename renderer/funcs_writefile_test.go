package renderer

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

func TestWriteToFile(t *testing.T) {
	type file struct {
		content string
		perm    os.FileMode
	}
	for _, tc := range []struct {
		name string
		// before is the file before the render; nil: none.
		before *file
		// call is the template; .path is the file, under a fresh dir.
		call    string
		want    file
		wantErr string
	}{
		{name: "new file", call: `{{ "hello" | writeToFile .path "" "" "0644" }}`, want: file{"hello", 0o644}},
		{name: "new file 0600", call: `{{ "hello" | writeToFile .path "" "" "0600" }}`, want: file{"hello", 0o600}},
		{name: "mode 0000, not subject to the umask", call: `{{ "hello" | writeToFile .path "" "" "0000" }}`, want: file{"hello", 0}},
		{name: "mode 0777, not subject to the umask", call: `{{ "hello" | writeToFile .path "" "" "0777" }}`, want: file{"hello", 0o777}},
		{name: "replaces content and mode", before: &file{"a much longer old content\n", 0o644},
			call: `{{ "new" | writeToFile .path "" "" "0640" }}`, want: file{"new", 0o640}},
		{name: "newline", call: `{{ "hello" | writeToFile .path "" "" "0644" "newline" }}`, want: file{"hello\n", 0o644}},
		{name: "append", before: &file{"a\n", 0o644},
			call: `{{ "b" | writeToFile .path "" "" "0600" "append" }}`, want: file{"a\nb", 0o600}},
		{name: "append and newline", before: &file{"a\n", 0o644},
			call: `{{ "b" | writeToFile .path "" "" "0644" "append,newline" }}`, want: file{"a\nb\n", 0o644}},
		{name: "newline,append in any order", before: &file{"a\n", 0o644},
			call: `{{ "b" | writeToFile .path "" "" "0644" "newline append" }}`, want: file{"a\nb\n", 0o644}},
		{name: "append creates the file", call: `{{ "b" | writeToFile .path "" "" "0640" "append" }}`, want: file{"b", 0o640}},
		{name: "unknown flag is no flag", before: &file{"a\n", 0o644},
			call: `{{ "b" | writeToFile .path "" "" "0644" "appendix" }}`, want: file{"a\nb", 0o644}},
		{name: "empty flags", before: &file{"a\n", 0o644},
			call: `{{ "b" | writeToFile .path "" "" "0644" "" }}`, want: file{"b", 0o644}},
		{name: "flags ignored after more than two extra arguments, as in consul-template", before: &file{"a\n", 0o644},
			call: `{{ writeToFile .path "" "" "0644" "append" "newline" "b" }}`, want: file{"b", 0o644}},
		{name: "empty content", before: &file{"a\n", 0o644},
			call: `{{ "" | writeToFile .path "" "" "0644" }}`, want: file{"", 0o644}},

		{name: "permissions not octal", before: &file{"a\n", 0o644},
			call:    `{{ "b" | writeToFile .path "" "" "0x644" }}`,
			wantErr: `error calling writeToFile: writeToFile: permissions: strconv.ParseUint: parsing "0x644": invalid syntax`,
			want:    file{"a\n", 0o644}},
		{name: "no content", before: &file{"a\n", 0o644},
			call:    `{{ writeToFile .path "" "" "0644" }}`,
			wantErr: `error calling writeToFile: writeToFile: wrong number of arguments, expected 5 or 6, but got 4`,
			want:    file{"a\n", 0o644}},
		{name: "unknown owner", before: &file{"a\n", 0o644},
			call:    `{{ "b" | writeToFile .path "no-such-user-hr" "" "0644" }}`,
			wantErr: `: owner: user: unknown user no-such-user-hr`,
			want:    file{"a\n", 0o644}},
		{name: "unknown group", before: &file{"a\n", 0o644},
			call:    `{{ "b" | writeToFile .path "" "no-such-group-hr" "0644" }}`,
			wantErr: `: group: group: unknown group no-such-group-hr`,
			want:    file{"a\n", 0o644}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.txt")
			if tc.before != nil {
				writeTestFile(t, path, tc.before.content, tc.before.perm)
			}
			out, err := execHelperTemplate(tc.call, map[string]string{"path": path})
			if tc.wantErr != "" {
				if err == nil || !bytes.HasSuffix([]byte(err.Error()), []byte(tc.wantErr)) {
					t.Fatalf("error\n got: %v\nwant: ...%s", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if out != "" {
				t.Errorf("output %q, want none", out)
			}
			got, perm := readTestFile(t, path)
			if got != tc.want.content || perm != tc.want.perm {
				t.Errorf("file %q %04o, want %q %04o", got, perm, tc.want.content, tc.want.perm)
			}
			assertNoCandidate(t, path)
		})
	}
}

// TestWriteToFilePath covers where writeToFile is willing to write.
func TestWriteToFilePath(t *testing.T) {
	t.Run("makes missing parent directories", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "out.txt")
		if _, err := fnWriteToFile(path, "", "", "0644", "x"); err != nil {
			t.Fatal(err)
		}
		if got, _ := readTestFile(t, path); got != "x" {
			t.Errorf("file %q", got)
		}
	})
	t.Run("refuses a symlink", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		writeTestFile(t, target, "keep", 0o644)
		link := filepath.Join(dir, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		for _, flags := range []string{"", "append"} {
			_, err := fnWriteToFile(link, "", "", "0644", flags, "x")
			if err == nil || err.Error() != "writeToFile "+link+": refusing to write to a symlink" {
				t.Errorf("flags %q: error %v", flags, err)
			}
		}
		if got, _ := readTestFile(t, target); got != "keep" {
			t.Errorf("target changed to %q", got)
		}
	})
	t.Run("refuses a symlinked directory", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(dir, "real")
		if err := os.Mkdir(real, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, filepath.Join(dir, "linked")); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "linked", "out.txt")
		_, err := fnWriteToFile(path, "", "", "0644", "x")
		if err == nil || err.Error() != "writeToFile "+path+": refusing to write through symlinked directory "+filepath.Join(dir, "linked") {
			t.Errorf("error %v", err)
		}
		if _, err := os.Stat(filepath.Join(real, "out.txt")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("wrote through the link: %v", err)
		}
	})
}

// TestWriteToFileOwner sets the owner and group by name and by id. Only
// root can give a file away, so other owners are tested as root only.
func TestWriteToFileOwner(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	type tc struct {
		name, owner, group string
		uid, gid           int
	}
	cases := []tc{
		{name: "defaults", uid: uid, gid: gid},
		{name: "names", owner: me.Username, group: grp.Name, uid: uid, gid: gid},
		{name: "ids", owner: me.Uid, group: me.Gid, uid: uid, gid: gid},
		{name: "group only", group: grp.Name, uid: uid, gid: gid},
	}
	if uid == 0 {
		cases = append(cases,
			tc{name: "another id", owner: "65534", group: "65533", uid: 65534, gid: 65533},
			tc{name: "another owner only", owner: "65534", uid: 65534, gid: 0})
	}
	for _, c := range cases {
		for _, flags := range []string{"", "append"} {
			t.Run(c.name+" "+flags, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "out.txt")
				if _, err := fnWriteToFile(path, c.owner, c.group, "0640", flags, "x"); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if int(st.Uid) != c.uid || int(st.Gid) != c.gid || fi.Mode().Perm() != 0o640 {
					t.Errorf("owner %d:%d mode %04o, want %d:%d 0640", st.Uid, st.Gid, fi.Mode().Perm(), c.uid, c.gid)
				}
			})
		}
	}
}

// TestWriteToFileUnchanged: a file that already holds the content is not
// rewritten (as harender's destinations), but gets the mode asked for.
func TestWriteToFileUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	writeTestFile(t, path, "same", 0o644)
	before := inode(t, path)
	if _, err := fnWriteToFile(path, "", "", "0600", "same"); err != nil {
		t.Fatal(err)
	}
	if inode(t, path) != before {
		t.Error("file was rewritten")
	}
	if got, perm := readTestFile(t, path); got != "same" || perm != 0o600 {
		t.Errorf("file %q %04o", got, perm)
	}
	if _, err := fnWriteToFile(path, "", "", "0600", "changed"); err != nil {
		t.Fatal(err)
	}
	if inode(t, path) == before {
		t.Error("changed content was written in place, not renamed over")
	}
}

// TestWriteToFileAtomic: a reader never sees a half-written file, nor no
// file, while writeToFile replaces it again and again; and a failed write
// leaves the old file.
func TestWriteToFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	const size = 1 << 20
	contents := []string{string(bytes.Repeat([]byte("A"), size)), string(bytes.Repeat([]byte("B"), size+1))}
	if _, err := fnWriteToFile(path, "", "", "0644", contents[0]); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			b, err := os.ReadFile(path)
			switch {
			case err != nil:
				bad = append(bad, err.Error())
			case string(b) != contents[0] && string(b) != contents[1]:
				bad = append(bad, "read "+strconv.Itoa(len(b))+" bytes of neither content")
			}
		}
	}()
	for i := range 40 {
		if _, err := fnWriteToFile(path, "", "", "0644", contents[i%2]); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d bad reads, first: %s", len(bad), bad[0])
	}

	// A staging failure (the staged file's name is taken by a directory)
	// leaves the destination as it was.
	if err := os.Mkdir(path+CandidateSuffix, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fnWriteToFile(path, "", "", "0644", "new"); err == nil {
		t.Fatal("no error")
	}
	if got, _ := readTestFile(t, path); got != contents[1] {
		t.Errorf("destination changed after a failed write: %d bytes", len(got))
	}
}

// TestWriteToFileNoExec: under NoExec (harender check) writeToFile writes
// nothing, whether set when parsing or on a parsed template, and looks up
// no owner (check may run where the owner does not exist), but still
// reports arguments it cannot use.
func TestWriteToFileNoExec(t *testing.T) {
	const unknownOwner = "no-such-user-hr"
	for _, tc := range []struct {
		name      string
		parse     Options
		noExec    bool
		owner     string
		perms     string
		wantErr   string
		wantWrote bool
	}{
		{name: "writes by default", perms: "0644", wantWrote: true},
		{name: "Options.NoExec", parse: Options{NoExec: true}, owner: unknownOwner, perms: "0644"},
		{name: "WithNoExec", noExec: true, owner: unknownOwner, perms: "0644"},
		{name: "WithNoExec, bad permissions", noExec: true, perms: "644x",
			wantErr: `writeToFile: permissions: strconv.ParseUint: parsing "644x": invalid syntax`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "out.txt")
			tmpl, err := Parse("t", `[{{ "x" | writeToFile "`+path+`" "`+tc.owner+`" "" "`+tc.perms+`" }}]`, tc.parse)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noExec {
				tmpl = tmpl.WithNoExec()
			}
			res, err := tmpl.Execute(nil)
			if tc.wantErr != "" {
				if err == nil || !bytes.HasSuffix([]byte(err.Error()), []byte(tc.wantErr)) {
					t.Errorf("error\n got: %v\nwant: ...%s", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if string(res.Output) != "[]" {
				t.Errorf("output %q", res.Output)
			}
			// Not even the parent directory is made under NoExec.
			_, err = os.Stat(filepath.Dir(path))
			if (err == nil) != tc.wantWrote {
				t.Errorf("directory made: %v, want %v", err == nil, tc.wantWrote)
			}
			if _, err := os.Stat(path); (err == nil) != tc.wantWrote {
				t.Errorf("file written: %v, want %v", err == nil, tc.wantWrote)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

// readTestFile returns a file's content and mode, even when the mode lets
// no one read it.
func readTestFile(t *testing.T, path string) (string, os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	perm := fi.Mode().Perm()
	if perm&0o400 == 0 {
		if err := os.Chmod(path, perm|0o400); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), perm
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func assertNoCandidate(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path + CandidateSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staged file left behind: %v", err)
	}
}
