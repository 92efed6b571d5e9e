package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// LoadedSuffix names the record, beside HAProxy's config, of the config
// HAProxy last loaded: a header line, then that config, byte for byte.
// Servers changed since through the runtime API are not in it: show
// servers state says what runs.
const LoadedSuffix = ".loaded"

// loadedRecord is what HAProxy loaded, and which HAProxy: the master's pid
// and reload count when it was confirmed. When show proc reports other
// numbers, HAProxy was restarted or reloaded by someone else, and what it
// runs is unknown.
type loadedRecord struct {
	masterPID  int
	reloads    int
	generation string // hash of the config and its companion files
	config     []byte
	parsed     *haproxy.Config
}

const loadedHeader = "# harender: HAProxy master pid %d, reload %d, generation %s\n"

// matches reports whether the record describes the HAProxy of p.
func (r *loadedRecord) matches(p haproxy.Procs) bool {
	return r != nil && r.masterPID == p.Master.PID && r.reloads == p.Master.Reloads
}

func readLoaded(config string) (*loadedRecord, error) {
	b, err := os.ReadFile(config + LoadedSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	head, body, ok := bytes.Cut(b, []byte("\n"))
	r := &loadedRecord{config: body}
	if !ok {
		return nil, fmt.Errorf("%s%s: no header line", config, LoadedSuffix)
	}
	if _, err := fmt.Sscanf(string(head)+"\n", loadedHeader, &r.masterPID, &r.reloads, &r.generation); err != nil {
		return nil, fmt.Errorf("%s%s: header %q: %w", config, LoadedSuffix, head, err)
	}
	if r.parsed, err = haproxy.ParseConfig(body); err != nil {
		return nil, fmt.Errorf("%s%s: %w", config, LoadedSuffix, err)
	}
	return r, nil
}

// writeLoaded records that the HAProxy of p runs g.
func writeLoaded(config string, p haproxy.Procs, g *generation) (*loadedRecord, error) {
	r := &loadedRecord{masterPID: p.Master.PID, reloads: p.Master.Reloads, generation: g.hash, config: g.config, parsed: g.parsed}
	b := append(fmt.Appendf(nil, loadedHeader, r.masterPID, r.reloads, r.generation), g.config...)
	if _, err := renderer.WriteFile(config+LoadedSuffix, b, renderer.WriteOptions{Perms: 0o600}); err != nil {
		return r, fmt.Errorf("record what haproxy loaded: %w", err)
	}
	return r, nil
}
