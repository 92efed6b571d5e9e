package renderer

import "testing"

func TestDebugFuncs(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "spew_sdump", tmpl: `{{ timestamp "2006-01-02" | spew_sdump }}`, want: "(string) (len=10) \"2024-02-29\"\n"},
		{name: "spew_sdump list", tmpl: `{{ "a,b,c" | split "," | spew_sdump }}`, want: "([]string) (len=3 cap=3) {\n (string) (len=1) \"a\",\n (string) (len=1) \"b\",\n (string) (len=1) \"c\"\n}\n"},
		{name: "spew_sprintf", tmpl: `{{ spew_sprintf "%v|%+v" 1 "x" }}`, want: "1|x"},
	})
}
