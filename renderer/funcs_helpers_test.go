package renderer

import (
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// helperCase is one template run through the helper functions. Expected
// outputs and error texts are those of consul-template v0.42.1.
type helperCase struct {
	name string
	tmpl string
	data any
	// want is the exact output when wantErr is empty.
	want string
	// wantErr is the end of the execution error ("error calling f: ..."),
	// the part consul-template and harender share.
	wantErr string
}

// helperTestNow is the clock behind timestamp in tests.
var helperTestNow = time.Date(2024, 2, 29, 13, 4, 5, 0, time.UTC)

func helperTestEnv(name string) (string, bool) {
	v, ok := map[string]string{"HR_SET": "val", "HR_EMPTY": ""}[name]
	return v, ok
}

// runHelperCases executes each case with a fresh scratch, named "t".
func runHelperCases(t *testing.T, cases []helperCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execHelperTemplate(tc.tmpl, tc.data)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got output %q, want error ending in %q", got, tc.wantErr)
				}
				if !strings.HasSuffix(err.Error(), tc.wantErr) {
					t.Fatalf("error\n got: %s\nwant: ...%s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Fatalf("output\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

func execHelperTemplate(src string, data any) (string, error) {
	s := newScratch()
	tmpl, err := template.New("t").
		Funcs(helperFuncsAt(helperTestEnv, func() time.Time { return helperTestNow })).
		Funcs(template.FuncMap{"scratch": func() *Scratch { return s }}).
		Option("missingkey=zero").
		Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = tmpl.Execute(&b, data)
	return b.String(), err
}

func TestHelperFuncsNames(t *testing.T) {
	m := helperFuncs(helperTestEnv)
	// Every helper of consul-template v0.42.1's funcMap but the ones left
	// out on purpose (see funcs_helpers.go).
	want := []string{
		"add", "base64Decode", "base64Encode", "base64URLDecode",
		"base64URLEncode", "byKey", "byMeta", "byPort", "byTag", "contains",
		"containsAll", "containsAny", "containsNone", "containsNotAll",
		"divide", "env", "envOrDefault", "explode", "explodeMap",
		"hmacSHA256Hex", "in", "indent", "join", "loop", "maximum", "md5sum",
		"mergeMap", "mergeMapWithOverride", "minimum", "modulo", "multiply",
		"mustEnv", "parseBool", "parseFloat", "parseInt", "parseJSON",
		"parseUint", "parseYAML", "plugin", "regexMatch", "regexReplaceAll",
		"replaceAll", "sha256Hex", "sockaddr", "spew_dump", "spew_printf",
		"spew_sdump", "spew_sprintf", "split", "splitToMap", "subtract",
		"timestamp", "toJSON", "toJSONPretty", "toLower", "toTOML", "toTitle",
		"toUnescapedJSON", "toUnescapedJSONPretty", "toUpper", "toYAML",
		"trim", "trimPrefix", "trimSpace", "trimSuffix", "writeToFile",
	}
	var own []string
	for name := range m {
		if !strings.HasPrefix(name, "sprig_") {
			own = append(own, name)
		}
	}
	slices.Sort(own)
	if !slices.Equal(own, want) {
		t.Errorf("helper names\n got: %v\nwant: %v", own, want)
	}

	sp := sprig.HermeticTxtFuncMap()
	if got := len(m) - len(own); got != len(sp) {
		t.Errorf("got %d sprig_ functions, want %d", got, len(sp))
	}
	for name := range sp {
		if _, ok := m["sprig_"+name]; !ok {
			t.Errorf("sprig_%s missing", name)
		}
	}
	for _, name := range []string{"sprig_env", "sprig_expandenv", "executeTemplate", "scratch"} {
		if _, ok := m[name]; ok {
			t.Errorf("%s should not be a helper", name)
		}
	}
}

func TestHelperFuncsSprig(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "reverse is a list function", tmpl: `{{ sprig_list 1 2 3 | sprig_reverse }}`, want: "[3 2 1]"},
		{name: "trunc", tmpl: `{{ "abcde" | sprig_trunc 3 }}`, want: "abc"},
		{name: "list", tmpl: `{{ sprig_list 1 "a" | sprig_join "," }}`, want: "1,a"},
		{name: "default", tmpl: `{{ "" | sprig_default "x" }}`, want: "x"},
		{name: "add is sprig's own", tmpl: `{{ sprig_add 1 2 3 }}`, want: "6"},
		{name: "unprefixed sprig is not defined", tmpl: `{{ list 1 }}`, wantErr: `function "list" not defined`},
		{name: "sprig env is not hermetic", tmpl: `{{ sprig_env "HOME" }}`, wantErr: `function "sprig_env" not defined`},
	})
}
