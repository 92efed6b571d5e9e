package renderer

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseFuncs(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "parseBool", tmpl: `{{ "true" | parseBool }} {{ "T" | parseBool }} {{ "0" | parseBool }}`, want: "true true false"},
		{name: "parseBool empty", tmpl: `{{ "" | parseBool }}`, want: "false"},
		{name: "parseBool bad", tmpl: `{{ "yes" | parseBool }}`, wantErr: `error calling parseBool: parseBool: strconv.ParseBool: parsing "yes": invalid syntax`},
		{name: "parseFloat", tmpl: `{{ "1.2" | parseFloat }}`, want: "1.2"},
		{name: "parseFloat drops zeros", tmpl: `{{ "1.50" | parseFloat }} {{ "1.0" | parseFloat }}`, want: "1.5 1"},
		{name: "parseFloat format", tmpl: `{{ "1.0" | parseFloat | printf "%.1f" }}`, want: "1.0"},
		{name: "parseFloat exponent", tmpl: `{{ "1e21" | parseFloat }}`, want: "1e+21"},
		{name: "parseFloat empty", tmpl: `{{ "" | parseFloat }}`, want: "0"},
		{name: "parseFloat bad", tmpl: `{{ "x" | parseFloat }}`, wantErr: `error calling parseFloat: parseFloat: strconv.ParseFloat: parsing "x": invalid syntax`},
		{name: "parseInt", tmpl: `{{ "-1" | parseInt }}`, want: "-1"},
		{name: "parseInt empty", tmpl: `{{ "" | parseInt }}`, want: "0"},
		{name: "parseInt bad", tmpl: `{{ "abc" | parseInt }}`, wantErr: `error calling parseInt: parseInt: strconv.ParseInt: parsing "abc": invalid syntax`},
		{name: "parseInt not hex", tmpl: `{{ "0x10" | parseInt }}`, wantErr: `error calling parseInt: parseInt: strconv.ParseInt: parsing "0x10": invalid syntax`},
		{name: "parseUint", tmpl: `{{ "1" | parseUint }}`, want: "1"},
		{name: "parseUint negative", tmpl: `{{ "-1" | parseUint }}`, wantErr: `error calling parseUint: parseUint: strconv.ParseUint: parsing "-1": invalid syntax`},

		{name: "parseJSON", tmpl: `{{ "{\"foo\": \"bar\"}" | parseJSON }}`, want: "map[foo:bar]"},
		{name: "parseJSON number field", tmpl: `{{ (parseJSON "{\"a\":1}").a }}`, want: "1"},
		{name: "parseJSON floats", tmpl: `{{ parseJSON "{\"a\":1e21, \"b\": 123456789012}" }}`, want: "map[a:1e+21 b:1.23456789012e+11]"},
		{name: "parseJSON scalars", tmpl: `{{ parseJSON "1" }} {{ parseJSON "\"s\"" }} {{ parseJSON "null" }} {{ parseJSON "[1,\"a\"]" }}`, want: "1 s <no value> [1 a]"},
		{name: "parseJSON empty", tmpl: `{{ parseJSON "" }}`, want: "map[]"},
		{name: "parseJSON bad", tmpl: `{{ parseJSON "[1,2" }}`, wantErr: "error calling parseJSON: unexpected end of JSON input"},
		{name: "parseJSON missing key", tmpl: `{{ (parseJSON "{}").a }}`, want: "<no value>"},

		{name: "parseYAML", tmpl: `{{ "foo: bar" | parseYAML }}`, want: "map[foo:bar]"},
		{name: "parseYAML v2", tmpl: `{{ "foo: bar\nbaz: \"foo\"" | parseYAML }}`, want: "map[baz:foo foo:bar]"},
		{name: "parseYAML nested", tmpl: `{{ "foo:\n  bar: \"baz\"\n  baz: 7" | parseYAML }}`, want: "map[foo:map[bar:baz baz:7]]"},
		{name: "parseYAML field", tmpl: `{{ (parseYAML "a: 1").a }}`, want: "1"},
		{name: "parseYAML empty", tmpl: `{{ parseYAML "" }}`, want: "map[]"},
		{name: "parseYAML bad", tmpl: `{{ parseYAML ": :" }}`, wantErr: "error calling parseYAML: yaml: did not find expected key"},
		// yaml.v2 mappings are map[interface{}]interface{}, which JSON cannot
		// encode; consul-template fails the same way.
		{name: "parseYAML toJSON", tmpl: `{{ parseYAML "a: 1" | toJSON }}`, wantErr: "error calling toJSON: toJSON: json: unsupported type: map[interface {}]interface {}"},
	})
}

// FuzzParseJSON checks that parseJSON never panics and that whatever it
// parses survives toJSON and parseJSON again unchanged.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{``, `{}`, `[]`, `1`, `"s"`, `null`, `{"a":[1,2.5,"x",null,true],"b":{"c":"<&>"}}`, `1e400`, `"\u2028"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := fnParseJSON(s)
		if err != nil {
			return
		}
		out, err := fnToJSON(v)
		if err != nil {
			t.Fatalf("toJSON(parseJSON(%q)): %v", s, err)
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("toJSON gave invalid JSON %q", out)
		}
		back, err := fnParseJSON(out)
		if err != nil {
			t.Fatalf("parseJSON(%q): %v", out, err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Fatalf("round trip of %q: %#v != %#v", s, v, back)
		}
	})
}
