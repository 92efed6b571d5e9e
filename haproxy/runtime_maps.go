package haproxy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrUnknownMap marks a map file that the running HAProxy has not loaded
// (a config that names it was not loaded yet): only a reload brings it in.
var ErrUnknownMap = errors.New("haproxy has no such map")

// MapEntry is one line of a map file: the key, and the value HAProxy
// returns for it.
type MapEntry struct {
	Key, Value string
}

func (e MapEntry) String() string { return e.Key + " " + e.Value }

// maxMapLine bounds an entry that the runtime API carries: HAProxy reads a
// CLI payload into one buffer (tune.bufsize, 16 kB by default), and a map
// file line longer than that buffer is split in two by HAProxy's reader.
const maxMapLine = 1024

// ParseMap reads a map file as HAProxy does (pat_ref_read_from_file_smp):
// a line that starts with '#' is a comment; leading blanks are dropped, and
// a line left empty is skipped; the key is the first word; the value is the
// rest of the line, blanks around it dropped. Entries keep the file's order,
// which is the order HAProxy matches map_beg, map_sub and the other list
// kinds in. ok is false when the file holds a byte the runtime API cannot
// carry as HAProxy would read it (see CheckMapEntry): such a map is changed
// by reloads only.
func ParseMap(data []byte) (entries []MapEntry, ok bool) {
	ok = true
	for line := range strings.SplitSeq(string(data), "\n") {
		if len(line) >= maxMapLine {
			ok = false
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '\r' || line[0] == 0 {
			continue
		}
		k := strings.IndexAny(line, " \t\r\x00")
		if k < 0 {
			k = len(line)
		}
		value := strings.TrimLeft(line[k:], " \t")
		if v := strings.IndexAny(value, "\r\x00"); v >= 0 {
			value = value[:v]
		}
		e := MapEntry{Key: line[:k], Value: strings.TrimRight(value, " \t")}
		if CheckMapEntry(e) != nil {
			ok = false
		}
		entries = append(entries, e)
	}
	return entries, ok
}

// CheckMapEntry refuses an entry that the CLI would not carry as it is: a
// key or value with a blank, a control character, a ';', a quote or a
// backslash (the CLI splits and unescapes on those), an empty key, a key
// that HAProxy's file reader would take for a comment, or a line too long
// for one CLI buffer.
func CheckMapEntry(e MapEntry) error {
	if e.Key == "" || strings.HasPrefix(e.Key, "#") {
		return fmt.Errorf("%w: map key %q", ErrUnsafeWord, e.Key)
	}
	if len(e.Key)+len(e.Value)+1 > maxMapLine {
		return fmt.Errorf("%w: map entry %.40q... is longer than %d bytes", ErrUnsafeWord, e.Key, maxMapLine)
	}
	if err := CheckWords(e.Key); err != nil {
		return fmt.Errorf("map key: %w", err)
	}
	if e.Value != "" {
		if err := CheckWords(e.Value); err != nil {
			return fmt.Errorf("map value of %q: %w", e.Key, err)
		}
	}
	return nil
}

// ShowMap asks HAProxy for the entries of the map loaded from file, in the
// order it matches them. HAProxy names a map by the path its config wrote.
func (r *Runtime) ShowMap(ctx context.Context, file string) ([]MapEntry, error) {
	if err := CheckWords(file); err != nil {
		return nil, fmt.Errorf("show map: %w", err)
	}
	reply, err := r.Command(ctx, "show map "+file)
	if err != nil {
		return nil, err
	}
	return parseShowMap(file, reply)
}

// showMapLine is one entry of show map: its reference, its key, its value.
var showMapLine = regexp.MustCompile(`^0x[0-9a-fA-F]+ (\S+)(?: (.*))?$`)

// parseShowMap reads show map's reply. Every line must be an entry; an
// unknown map is ErrUnknownMap; anything else is HAProxy refusing.
func parseShowMap(file, reply string) ([]MapEntry, error) {
	if strings.HasPrefix(reply, "Unknown map identifier") {
		return nil, fmt.Errorf("show map %s: %w", file, ErrUnknownMap)
	}
	var entries []MapEntry
	for line := range strings.SplitSeq(strings.TrimRight(reply, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := showMapLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("show map %s: %w: %q", file, ErrRuntimeRejected, firstLine(strings.TrimSpace(reply)))
		}
		entries = append(entries, MapEntry{Key: m[1], Value: strings.TrimRight(m[2], " \t")})
	}
	return entries, nil
}

// mapChunk bounds one add map payload, well inside HAProxy's CLI buffer.
const mapChunk = 8 << 10

// ReplaceMap makes entries, in their order, the map loaded from file, in
// one atomic step: prepare map allocates a new version, add map fills it
// (a payload of several entries per command), and commit map makes it the
// one matched, dropping the old. Requests see the old map or the new one,
// never a mix. Every entry is checked first: nothing is sent if one is
// unsafe. Each reply is checked exactly.
func (r *Runtime) ReplaceMap(ctx context.Context, file string, entries []MapEntry) error {
	if err := CheckWords(file); err != nil {
		return fmt.Errorf("replace map: %w", err)
	}
	for _, e := range entries {
		if err := CheckMapEntry(e); err != nil {
			return fmt.Errorf("replace map %s: %w", file, err)
		}
	}
	reply, err := r.Command(ctx, "prepare map "+file)
	if err != nil {
		return err
	}
	ver, err := parsePrepared(file, reply)
	if err != nil {
		return err
	}
	for _, cmd := range addMapCommands(ver, file, entries) {
		reply, err := r.Command(ctx, cmd)
		if err != nil {
			return err
		}
		if strings.TrimSpace(reply) != "" {
			return fmt.Errorf("add map @%d %s: %w: %s", ver, file, ErrRuntimeRejected, firstLine(strings.TrimSpace(reply)))
		}
	}
	reply, err = r.Command(ctx, fmt.Sprintf("commit map @%d %s", ver, file))
	if err != nil {
		return err
	}
	if strings.TrimSpace(reply) != "" {
		return fmt.Errorf("commit map @%d %s: %w: %s", ver, file, ErrRuntimeRejected, firstLine(strings.TrimSpace(reply)))
	}
	return nil
}

// parsePrepared reads "New version created: N" from prepare map.
func parsePrepared(file, reply string) (uint32, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(reply), "New version created: ")
	if ok {
		if v, err := strconv.ParseUint(s, 10, 32); err == nil {
			return uint32(v), nil
		}
	}
	if strings.HasPrefix(reply, "Unknown map identifier") {
		return 0, fmt.Errorf("prepare map %s: %w", file, ErrUnknownMap)
	}
	return 0, fmt.Errorf("prepare map %s: %w: %s", file, ErrRuntimeRejected, firstLine(strings.TrimSpace(reply)))
}

// addMapCommands are the add map commands that fill version ver with
// entries, as payloads ("<<", one entry a line, an empty line ending it)
// of at most mapChunk bytes each.
func addMapCommands(ver uint32, file string, entries []MapEntry) []string {
	head := fmt.Sprintf("add map @%d %s <<\n", ver, file)
	var cmds []string
	var b strings.Builder
	for _, e := range entries {
		if b.Len() > 0 && b.Len()+len(e.Key)+len(e.Value)+2 > mapChunk {
			cmds = append(cmds, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(head)
		}
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	if b.Len() > 0 {
		// exchange ends the command with a newline: the empty line that
		// ends the payload.
		cmds = append(cmds, b.String())
	}
	return cmds
}

// mapUse finds a map converter's file argument: ",map(FILE" or
// ",map_beg(FILE", ",map_str_int(FILE" and so on, followed by ',' or ')'.
var mapUse = regexp.MustCompile(`,map(?:_[a-z]+){0,2}\(([^,)\s]+)[,)]`)

// RuntimeMaps returns those of files that config uses only as the file of
// map converters: maps that the runtime API can replace with the same
// effect as reloading them. A file named anywhere else too (an ACL's -f,
// a set-map action, an errorfile, a longer path that holds it) is not one.
func RuntimeMaps(config []byte, files []string) []string {
	uses := map[string]int{}
	for _, m := range mapUse.FindAllSubmatch(config, -1) {
		uses[string(m[1])]++
	}
	text := string(config)
	var maps []string
	for _, f := range files {
		if n := uses[f]; n > 0 && n == strings.Count(text, f) {
			maps = append(maps, f)
		}
	}
	return maps
}
