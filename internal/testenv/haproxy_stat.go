package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/harender/harender/haproxy"
)

// Stats is a parsed `show stat`: one row per proxy and server, keyed
// "PXNAME/SVNAME" ("gateway/FRONTEND", "gateway/BACKEND", "gateway/gw-1"),
// each a map of column to value.
type Stats map[string]map[string]string

// Int is row key's column col as a number; ok is false when either is
// missing or the value is not a number (HAProxy prints "" for a column
// that does not apply).
func (s Stats) Int(key, col string) (n int64, ok bool) {
	v, found := s[key][col]
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// ShowStat asks the runtime API at socket for `show stat` and parses it.
func ShowStat(ctx context.Context, socket string) (Stats, error) {
	reply, err := (&haproxy.Runtime{Path: socket}).Command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	return ParseShowStat(reply)
}

// ParseShowStat parses show stat's CSV: a "# pxname,svname,..." header,
// then one line per row. Names hold no comma (HAProxy allows none).
func ParseShowStat(reply string) (Stats, error) {
	lines := strings.Split(strings.TrimSpace(reply), "\n")
	header, ok := strings.CutPrefix(lines[0], "# ")
	if !ok {
		return nil, fmt.Errorf("show stat: no header line: %q", lines[0])
	}
	cols := strings.Split(header, ",")
	st := Stats{}
	for i, l := range lines[1:] {
		if l == "" {
			continue
		}
		f := strings.Split(l, ",")
		if len(f) < 2 {
			return nil, fmt.Errorf("show stat: line %d: %q", i+2, l)
		}
		row := map[string]string{}
		for j, c := range cols {
			if j < len(f) && c != "" {
				row[c] = f[j]
			}
		}
		st[f[0]+"/"+f[1]] = row
	}
	return st, nil
}
