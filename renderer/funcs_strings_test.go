package renderer

import (
	"strings"
	"testing"
)

func TestStringFuncs(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "indent", tmpl: `{{ "hello\nhello\r\nHELLO\r\nhello\nHELLO" | indent 4 }}`, want: "    hello\n    hello\r\n    HELLO\r\n    hello\n    HELLO"},
		{name: "indent skips empty lines", tmpl: `{{ "a\nb\n\nc\n" | indent 2 }}`, want: "  a\n  b\n\n  c\n"},
		{name: "indent zero", tmpl: `{{ "a\nb" | indent 0 }}`, want: "a\nb"},
		{name: "indent empty", tmpl: `{{ "" | indent 2 }}`, want: ""},
		{name: "indent negative", tmpl: `{{ "x" | indent -1 }}`, wantErr: "error calling indent: indent value must be a positive integer"},

		{name: "split and join", tmpl: `{{ "a,b,c" | split "," | join ";" }}`, want: "a;b;c"},
		{name: "split prints as list", tmpl: `{{ "a,b,c" | split "," }}`, want: "[a b c]"},
		{name: "split trims space first", tmpl: `{{ "  a,,b  " | split "," }}`, want: "[a  b]"},
		{name: "split blank is empty", tmpl: `{{ " " | split "," }} {{ " " | split "," | len }}`, want: "[] 0"},
		{name: "split empty sep", tmpl: `{{ "abc" | split "" }}`, want: "[a b c]"},
		{name: "join service tags", tmpl: `{{ .Tags | join "," }}`, data: struct{ Tags []string }{[]string{"a", "b"}}, want: "a,b"},

		{name: "splitToMap", tmpl: `{{ "a:x,b:y,c:z" | splitToMap "," ":" }}`, want: "map[a:x b:y c:z]"},
		{name: "splitToMap drops and overrides", tmpl: `{{ "a:x,b:y,c,d:e:f,a:z" | splitToMap "," ":" }}`, want: "map[a:z b:y d:e:f]"},
		{name: "splitToMap empty", tmpl: `{{ "" | splitToMap "," ":" }}`, want: "map[]"},

		{name: "trim is a cutset", tmpl: `{{ "!!hello world!!" | trim "!!" }} {{ "xyhixy" | trim "yx" }}`, want: "hello world hi"},
		{name: "trimPrefix", tmpl: `{{ "hello world!!" | trimPrefix "hello " }}`, want: "world!!"},
		{name: "trimSuffix", tmpl: `{{ "hello world!!" | trimSuffix " world!!" }}`, want: "hello"},
		{name: "trimSpace", tmpl: `{{ "\t hi\n " | trimSpace }}`, want: "hi"},

		{name: "replaceAll", tmpl: `{{ "hello my hello" | replaceAll "hello" "bye" }}`, want: "bye my bye"},
		{name: "regexReplaceAll", tmpl: `{{ "foo" | regexReplaceAll "\\w" "x" }}`, want: "xxx"},
		{name: "regexReplaceAll groups", tmpl: `{{ "foo-bar" | regexReplaceAll "(\\w+)-(\\w+)" "$2-$1" }}`, want: "bar-foo"},
		{name: "regexReplaceAll bad", tmpl: `{{ "foo" | regexReplaceAll "(" "x" }}`, wantErr: "error calling regexReplaceAll: error parsing regexp: missing closing ): `(`"},
		{name: "regexMatch", tmpl: `{{ "foo" | regexMatch "[a-z]+" }} {{ "foo" | regexMatch "^o" }}`, want: "true false"},
		{name: "regexMatch bad", tmpl: `{{ "foo" | regexMatch "[" }}`, wantErr: "error calling regexMatch: error parsing regexp: missing closing ]: `[`"},

		{name: "toLower", tmpl: `{{ "HI" | toLower }}`, want: "hi"},
		{name: "toUpper", tmpl: `{{ "hi straße" | toUpper }}`, want: "HI STRAßE"},
		{name: "toTitle", tmpl: `{{ "this is a sentence" | toTitle }}`, want: "This Is A Sentence"},
		{name: "toTitle keeps the rest", tmpl: `{{ "hELLO wORLD i'm here" | toTitle }}`, want: "HELLO WORLD I'm Here"},
		{name: "toTitle unicode", tmpl: "{{ \"this is a sentence\u2026and another sentence\u2026with a \xf0\x9f\x9a\x80rocket\" | toTitle }}", want: "This Is A Sentence\u2026And Another Sentence\u2026With A \xf0\x9f\x9a\x80Rocket"},
	})
}

// FuzzIndent checks indent against its definition: removing the prefix
// after every line start that is not itself a line end gives the input
// back.
func FuzzIndent(f *testing.F) {
	f.Add(0, "")
	f.Add(2, "a\nb\n\nc\n")
	f.Add(3, "\r\n\n x\r")
	f.Fuzz(func(t *testing.T, spaces int, s string) {
		spaces %= 16
		got, err := fnIndent(spaces, s)
		if spaces < 0 {
			if err == nil {
				t.Fatal("negative indent must fail")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		prefix := strings.Repeat(" ", spaces)
		var back strings.Builder
		rest := got
		for rest != "" {
			if rest[0] != '\n' {
				var ok bool
				if rest, ok = strings.CutPrefix(rest, prefix); !ok {
					t.Fatalf("indent(%d, %q) = %q: line without prefix", spaces, s, got)
				}
			}
			line, after, found := strings.Cut(rest, "\n")
			back.WriteString(line)
			if found {
				back.WriteByte('\n')
			}
			rest = after
		}
		if back.String() != s {
			t.Fatalf("indent(%d, %q) = %q, which does not strip back", spaces, s, got)
		}
	})
}
