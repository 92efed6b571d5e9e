package renderer

import (
	"strings"
	"testing"
)

// loopbackIPv4 is the example: this host's IPv4 loopback address,
// found the way consul-template users bind HAProxy to it.
const loopbackIPv4 = `sockaddr "GetAllInterfaces | include \"flag\" \"loopback\" | include \"type\" \"IPv4\" | sort \"address\" | limit 1 | attr \"address\""`

func TestSockaddr(t *testing.T) {
	// Every Linux host, container or not, has lo with 127.0.0.1/8.
	runHelperCases(t, []helperCase{
		{name: "loopback", tmpl: `bind {{ ` + loopbackIPv4 + ` }}:8080`, want: "bind 127.0.0.1:8080"},
		{name: "arguments joined with spaces", tmpl: `{{ sockaddr "GetAllInterfaces | include \"name\" \"^lo$\"" "| include \"type\" \"IPv4\" | attr \"address\"" }}`, want: "127.0.0.1"},
		{name: "loopback is not forwardable", tmpl: `[{{ sockaddr "GetInterfaceIP \"lo\"" }}]`, want: "[]"},
		{name: "join", tmpl: `{{ sockaddr "GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\" | join \"address\" \",\"" }}`, want: "127.0.0.1"},
		{name: "math", tmpl: `{{ sockaddr "GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\" | math \"address\" \"+2\" | attr \"address\"" }}`, want: "127.0.0.3"},
		{name: "no match", tmpl: `[{{ sockaddr "GetAllInterfaces | include \"name\" \"^no-such-if$\" | attr \"address\"" }}]`, want: "[]"},
		{name: "unknown go-sockaddr function", tmpl: `{{ sockaddr "GetAllInterfacs" }}`,
			wantErr: `error calling sockaddr: unable to parse template "{{ GetAllInterfacs }}": template: sockaddr.Parse:1: function "GetAllInterfacs" not defined`},
		{name: "bad attribute", tmpl: `{{ sockaddr "GetAllInterfaces | attr \"colour\"" }}`,
			wantErr: `unsupported attribute name "colour"`},
	})
}

// TestSockaddrNoExec checks that under NoExec sockaddr reads nothing and
// gives "", but still reports an expression go-sockaddr cannot parse, in
// the words it would use when rendering.
func TestSockaddrNoExec(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl, want, wantErr string
	}{
		{name: "valid", tmpl: `bind [{{ ` + loopbackIPv4 + ` }}]:8080`, want: "bind []:8080"},
		{name: "a bad attribute is only found by running it", tmpl: `[{{ sockaddr "GetAllInterfaces | attr \"colour\"" }}]`, want: "[]"},
		{name: "parse error", tmpl: `{{ sockaddr "GetAllInterfacs" }}`,
			wantErr: `t:1:3: at <sockaddr "GetAllInterfacs">: error calling sockaddr: unable to parse template "{{ GetAllInterfacs }}": template: sockaddr.Parse:1: function "GetAllInterfacs" not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse("t", tc.tmpl, Options{NoExec: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := tmpl.Execute(nil)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.wantErr)
				}
				// The same words as when it runs.
				_, runErr := execHelperTemplate(tc.tmpl, nil)
				if runErr == nil || !strings.HasSuffix(runErr.Error(), tc.wantErr[strings.Index(tc.wantErr, "error calling"):]) {
					t.Errorf("rendering says %v", runErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Output) != tc.want {
				t.Errorf("output %q, want %q", res.Output, tc.want)
			}
		})
	}
}
