package renderer

import (
	"testing"
)

func TestCollectionFuncs(t *testing.T) {
	tags := map[string]any{"Tags": []string{"prod", "staging"}}
	runHelperCases(t, []helperCase{
		{name: "in list", tmpl: `{{ if "prod" | in .Tags }}yes{{ end }}`, data: tags, want: "yes"},
		{name: "contains", tmpl: `{{ .Tags | contains "prod" }} {{ .Tags | contains "dev" }}`, data: tags, want: "true false"},
		{name: "in interface list", tmpl: `{{ $l := parseJSON "[\"a\",1,2.5]" }}{{ in $l "a" }} {{ in $l 1 }} {{ in $l 2.5 }} {{ in $l 2 }} {{ in $l "b" }}`, want: "true false true false false"},
		{name: "in int list", tmpl: `{{ in .L 2 }} {{ in .L 2.0 }}`, data: map[string]any{"L": []int{1, 2}}, want: "true false"},
		{name: "in substring", tmpl: `{{ in "foobar" "oba" }} {{ in "foobar" "x" }} {{ "oba" | in "foobar" }}`, want: "true false true"},
		{name: "in scalar", tmpl: `{{ in 5 5 }}`, want: "false"},
		{name: "in nil", tmpl: `{{ in nil "a" }}`, want: "false"},

		{name: "containsAll", tmpl: `{{ $l := parseJSON "[\"a\",\"b\"]" }}{{ split "," "a,b,c" | containsAll $l }} {{ split "," "a,c" | containsAll $l }}`, want: "true false"},
		{name: "containsAny", tmpl: `{{ $l := parseJSON "[\"a\",\"b\"]" }}{{ split "," "c" | containsAny $l }} {{ split "," "a" | containsAny $l }}`, want: "false true"},
		{name: "containsNone", tmpl: `{{ $l := parseJSON "[\"a\",\"b\"]" }}{{ split "," "c" | containsNone $l }} {{ split "," "a" | containsNone $l }}`, want: "true false"},
		{name: "containsNotAll", tmpl: `{{ $l := parseJSON "[\"a\",\"b\"]" }}{{ split "," "a" | containsNotAll $l }} {{ split "," "a,b" | containsNotAll $l }}`, want: "true false"},
		{name: "contains some of empty", tmpl: `{{ $l := parseJSON "[]" }}{{ .Tags | containsAll $l }} {{ .Tags | containsAny $l }} {{ .Tags | containsNone $l }} {{ .Tags | containsNotAll $l }}`, data: tags, want: "true false true false"},
		{name: "containsAll needs interface list", tmpl: `{{ $l := split "," "a,b" }}{{ split "," "a,b,c" | containsAll $l }}`, wantErr: "wrong type for value; expected []interface {}; got []string"},

		{name: "loop", tmpl: `{{ range loop 3 }}1{{ end }}`, want: "111"},
		{name: "loop index", tmpl: `{{ range $i := loop 3 }}{{ $i }}{{ end }}`, want: "012"},
		{name: "loop start", tmpl: `{{ range loop 2 5 }}{{ . }}{{ end }}`, want: "234"},
		{name: "loop text", tmpl: `{{ range loop 1 "3" }}1{{ end }}`, want: "11"},
		{name: "loop parseInt", tmpl: `{{ $i := print "3" | parseInt }}{{ range loop 1 $i }}1{{ end }}`, want: "11"},
		{name: "loop var", tmpl: `{{ $n := 3 }}{{ range $i := loop $n }}{{ $i }}{{ end }}`, want: "012"},
		{name: "loop int64 math", tmpl: `{{ range $i := loop 3 }}{{ $i | add 1 }}{{ end }}`, want: "123"},
		{name: "loop empty", tmpl: `{{ range loop 0 }}x{{ else }}empty{{ end }}|{{ range loop 5 2 }}x{{ end }}`, want: "empty|"},
		{name: "loop break", tmpl: `{{ range $i := loop 10 }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $i }}{{ end }}`, want: "01"},
		{name: "loop bad text", tmpl: `{{ range loop "a" }}x{{ end }}`, wantErr: `error calling loop: parseInt: strconv.ParseInt: parsing "a": invalid syntax`},
		{name: "loop float", tmpl: `{{ range loop 1.5 }}x{{ end }}`, wantErr: "error calling loop: loop: bad argument type: float64"},
		{name: "loop three args", tmpl: `{{ range loop 1 2 3 }}x{{ end }}`, wantErr: "error calling loop: loop: wrong number of arguments, expected 1 or 2, but got 3"},

		// mergeMap changes its first argument, as in consul-template.
		{name: "mergeMap", tmpl: `{{ $a := parseJSON "{\"a\":{\"x\":1},\"b\":2}" }}{{ $b := parseJSON "{\"a\":{\"y\":2,\"x\":3},\"c\":3,\"b\":5}" }}{{ mergeMap $a $b }}|{{ $a }}`, want: "map[a:map[x:1 y:2] b:2 c:3]|map[a:map[x:1 y:2] b:2 c:3]"},
		{name: "mergeMapWithOverride", tmpl: `{{ $a := parseJSON "{\"a\":{\"x\":1},\"b\":2}" }}{{ $b := parseJSON "{\"a\":{\"y\":2,\"x\":3},\"c\":3,\"b\":5}" }}{{ mergeMapWithOverride $a $b }}|{{ $a }}`, want: "map[a:map[x:3 y:2] b:5 c:3]|map[a:map[x:3 y:2] b:5 c:3]"},
		{name: "mergeMap keeps scalar over map", tmpl: `{{ mergeMap (parseJSON "{\"a\":\"s\"}") (parseJSON "{\"a\":{\"y\":2}}") }}`, want: "map[a:s]"},
		{name: "mergeMapWithOverride replaces scalar", tmpl: `{{ mergeMapWithOverride (parseJSON "{\"a\":\"s\"}") (parseJSON "{\"a\":{\"y\":2}}") }}`, want: "map[a:map[y:2]]"},

		{name: "explodeMap", tmpl: `{{ scratch.MapSet "explode-test" "foo/bar" "a" }}{{ scratch.MapSet "explode-test" "qux" "c" }}{{ scratch.MapSet "explode-test" "zip/zap" "d" }}{{ scratch.Get "explode-test" | explodeMap }}`, want: "map[foo:map[bar:a] qux:c zip:map[zap:d]]"},
		{name: "explodeMap edge keys", tmpl: `{{ scratch.MapSet "m" "c/" "3" }}{{ scratch.MapSet "m" "/d" "4" }}{{ scratch.MapSet "m" "a/b/c" "5" }}{{ scratch.Get "m" | explodeMap }}`, want: "map[:map[d:4] a:map[b:map[c:5]] c:map[]]"},
		{name: "explodeMap conflict", tmpl: `{{ scratch.MapSet "m" "a" "2" }}{{ scratch.MapSet "m" "a/b" "1" }}{{ scratch.Get "m" | explodeMap }}`, wantErr: `error calling explodeMap: explodeMap: not a map: "a/b": "a" already has value "2"`},
	})
}
