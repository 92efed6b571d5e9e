package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// compatHostCase is a template of the corpus that uses sockaddr or
// writeToFile; the latter writes under $COMPAT_WRITE_DIR, a directory of
// each run's own, which is why these live here and not in testdata/compat.
type compatHostCase struct {
	name, text string
	// before are the files (relative path: content) laid before each run.
	before map[string]string
}

func compatHostCases() []compatHostCase {
	return []compatHostCase{
		{
			// The template: bind HAProxy to this host's loopback
			// address, and the other go-sockaddr sources and helpers. Both
			// tools read the same host.
			name: "21-sockaddr",
			text: `bind {{ sockaddr "GetAllInterfaces | include \"flag\" \"loopback\" | include \"type\" \"IPv4\" | sort \"address\" | limit 1 | attr \"address\"" }}:8080
lo={{ sockaddr "GetAllInterfaces | include \"name\" \"^lo$\"" "| include \"type\" \"IPv4\" | attr \"address\"" }}
all={{ sockaddr "GetAllInterfaces | sort \"type,address\" | join \"address\" \" \"" }}
names={{ sockaddr "GetAllInterfaces | unique \"name\" | sort \"name\" | join \"name\" \",\"" }}
private=[{{ sockaddr "GetPrivateIP" }}] [{{ sockaddr "GetPrivateIPs" }}]
public=[{{ sockaddr "GetPublicIP" }}] [{{ sockaddr "GetPublicIPs" }}]
default=[{{ sockaddr "GetDefaultInterfaces | attr \"name\"" }}]
iface=[{{ sockaddr "GetInterfaceIP \"lo\"" }}] [{{ sockaddr "GetInterfaceIPs \"lo\"" }}]
math={{ sockaddr "GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\" | math \"address\" \"+2\" | attr \"address\"" }}
attrs={{ with $lo := "GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\"" }}{{ range $a := split "," "network,netmask,mask_bits,size,broadcast,first_usable,last_usable,flags,type,string" }} {{ $a }}={{ sockaddr $lo "| attr" (printf "%q" $a) }}{{ end }}{{ end }}
none=[{{ sockaddr "GetAllInterfaces | include \"name\" \"^no-such-interface$\" | attr \"address\"" }}]
{{ with $ip := sockaddr "GetAllInterfaces | include \"flag\" \"loopback\" | include \"type\" \"IPv4\" | attr \"address\"" }}  server local {{ $ip }}:80 check
{{ end }}`,
		},
		{
			// writeToFile with every flag and mode, into new and existing
			// files and a new directory; owner and group given as this
			// user's ids, which both tools may set.
			name: "22-writeToFile",
			text: `{{- $d := env "COMPAT_WRITE_DIR" -}}
{{- "plain" | writeToFile (printf "%s/plain.txt" $d) "" "" "0644" -}}
{{- "replaced" | writeToFile (printf "%s/existing.txt" $d) "" "" "0640" -}}
{{- "private" | writeToFile (printf "%s/tls/site.key" $d) (env "COMPAT_UID") (env "COMPAT_GID") "0600" "newline" -}}
{{- "line 2" | writeToFile (printf "%s/log.txt" $d) "" "" "0600" "append,newline" -}}
{{- "tail" | writeToFile (printf "%s/log2.txt" $d) "" "" "0644" "append" -}}
{{- "new" | writeToFile (printf "%s/new-log.txt" $d) "" "" "0644" "append,newline" -}}
{{- writeToFile (printf "%s/ignored-flags.txt" $d) "" "" "0644" "append" "newline" "last argument" -}}
{{- "" | writeToFile (printf "%s/empty.txt" $d) "" "" "0444" -}}
rendered [{{ "x" | writeToFile (printf "%s/x.txt" $d) "" "" "0644" }}]
`,
			before: map[string]string{
				"existing.txt":      "old content, longer than the new\n",
				"log.txt":           "line 1\n",
				"log2.txt":          "head ",
				"ignored-flags.txt": "old\n",
			},
		},
		{
			// writeToFile fed by Consul data, rendered once all of it has
			// arrived. Only replacing writes: both tools execute a
			// template once per pass while data arrives, and an append
			// would append once per pass, a number the two need not share.
			name: "23-writeToFile-consul",
			text: `{{- $d := env "COMPAT_WRITE_DIR" -}}
{{- key "motd" | writeToFile (printf "%s/motd" $d) "" "" "0644" -}}
{{- $servers := "" -}}
{{- range service "web" }}{{ $servers = printf "%s%s:%d\n" $servers .Address .Port }}{{ end -}}
{{- $servers | writeToFile (printf "%s/web.servers" $d) "" "" "0640" -}}
{{- range service "web" }}
server {{ .ID }} {{ .Address }}:{{ .Port }}
{{- end }}
`,
		},
	}
}

// compatFiles is the directory writeToFile writes into during one
// comparison.
type compatFiles struct {
	dir    string
	before map[string]string
}

// lay empties the directory and writes the files of before, mode 0644.
func (f *compatFiles) lay(t *testing.T) {
	t.Helper()
	if f == nil {
		return
	}
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range f.before {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// list describes every file and directory under the directory: path,
// mode, owner and content, one per line, sorted.
func (f *compatFiles) list(t *testing.T) string {
	t.Helper()
	if f == nil {
		return ""
	}
	var lines []string
	err := filepath.WalkDir(f.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == f.dir {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, path)
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %q", b)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
