package renderer

import "testing"

func TestEncodingFuncs(t *testing.T) {
	const doc = `{"b":[1,"x",null,true],"a":{"c":1.5}}`
	runHelperCases(t, []helperCase{
		{name: "toJSON list", tmpl: `{{ "a,b,c" | split "," | toJSON }}`, want: `["a","b","c"]`},
		{name: "toJSON sorts keys", tmpl: `{{ .Doc | parseJSON | toJSON }}`, data: map[string]string{"Doc": doc}, want: `{"a":{"c":1.5},"b":[1,"x",null,true]}`},
		{name: "toJSON escapes HTML", tmpl: `{{ parseJSON "{\"b\":\"<&>\"}" | toJSON }}`, want: `{"b":"\u003c\u0026\u003e"}`},
		{name: "toJSON nil", tmpl: `{{ toJSON nil }}`, want: "null"},
		{name: "toJSON line separator", tmpl: "{{ toJSON \"a\u2028\" }}", want: `"a\u2028"`},
		{name: "toJSON unsupported", tmpl: `{{ toJSON .F }}`, data: map[string]any{"F": func() {}}, wantErr: "error calling toJSON: toJSON: json: unsupported type: func()"},
		{name: "toJSONPretty", tmpl: `{{ .Doc | parseJSON | toJSONPretty }}`, data: map[string]string{"Doc": doc}, want: "{\n  \"a\": {\n    \"c\": 1.5\n  },\n  \"b\": [\n    1,\n    \"x\",\n    null,\n    true\n  ]\n}"},
		{name: "toJSONPretty empty", tmpl: `{{ parseJSON "[]" | toJSONPretty }} {{ parseJSON "{}" | toJSONPretty }}`, want: "[] {}"},
		{name: "toUnescapedJSON", tmpl: `{{ "a?b&c,x?y&z" | split "," | toUnescapedJSON }}`, want: `["a?b&c","x?y&z"]`},
		{name: "toUnescapedJSONPretty", tmpl: `{{ parseJSON "{\"x\":\"y&z\",\"a\":\"b&c\",\"k\":\"<>&&\"}" | toUnescapedJSONPretty }}`, want: "{\n  \"a\": \"b&c\",\n  \"k\": \"<>&&\",\n  \"x\": \"y&z\"\n}"},

		{name: "toYAML", tmpl: `{{ "{\"foo\":\"bar\"}" | parseJSON | toYAML }}`, want: "foo: bar"},
		{name: "toYAML nested", tmpl: `{{ parseJSON "{\"b\":\"<&>\",\"a\":[1,2],\"c\":{\"d\":1.5,\"e\":null}}" | toYAML }}`, want: "a:\n- 1\n- 2\nb: <&>\nc:\n  d: 1.5\n  e: null"},
		{name: "toYAML of parseYAML", tmpl: `{{ parseYAML "a: 1\nb: [1, 2.5, x]\nc: {d: true}" | toYAML }}`, want: "a: 1\nb:\n- 1\n- 2.5\n- x\nc:\n  d: true"},
		{name: "toYAML scalars", tmpl: `{{ toYAML nil }} {{ toYAML "" }}`, want: `null ""`},

		{name: "toTOML", tmpl: `{{ "{\"foo\":\"bar\"}" | parseJSON | toTOML }}`, want: `foo = "bar"`},
		// JSON numbers are floats, so TOML gets 1.0; tables are indented.
		{name: "toTOML nested", tmpl: `{{ parseJSON "{\"b\":\"<&>\",\"a\":[1,2],\"c\":{\"d\":1.5,\"e\":\"x\"}}" | toTOML }}`, want: "a = [1.0, 2.0]\nb = \"<&>\"\n\n[c]\n  d = 1.5\n  e = \"x\""},
		{name: "toTOML drops null", tmpl: `{{ parseJSON "{\"a\":null}" | toTOML }}`, want: ""},

		{name: "base64Encode", tmpl: `{{ "hello" | base64Encode }}`, want: "aGVsbG8="},
		{name: "base64Decode", tmpl: `{{ "aGVsbG8=" | base64Decode }}`, want: "hello"},
		{name: "base64Decode bad", tmpl: `{{ "%%%" | base64Decode }}`, wantErr: "error calling base64Decode: base64Decode: illegal base64 data at input byte 0"},
		{name: "base64URLEncode", tmpl: `{{ "???" | base64URLEncode }}`, want: "Pz8_"},
		{name: "base64URLDecode", tmpl: `{{ "Pz8_" | base64URLDecode }}`, want: "???"},
		{name: "base64URLDecode bad", tmpl: `{{ "%%%" | base64URLDecode }}`, wantErr: "error calling base64URLDecode: base64URLDecode: illegal base64 data at input byte 0"},

		{name: "sha256Hex", tmpl: `{{ "bladibla" | sha256Hex }}`, want: "54cf4c66bcabb5c20e25331c01dd600b73369e97a947861bd8d3a0e0b8b3d70b"},
		{name: "md5sum", tmpl: `{{ "bladibla" | md5sum }}`, want: "c6886abd136f7daece35aebb01f1b713"},
		{name: "hmacSHA256Hex", tmpl: `{{ hmacSHA256Hex "bladibla" "foobar" }}`, want: "82cd4c36fa45a1936e93d005ea2fd008350339bb9246a3ba0c8dfecb9d77155b"},
		// Piped, the value becomes the key: hmac(message="key", key="msg").
		{name: "hmacSHA256Hex piped", tmpl: `{{ "msg" | hmacSHA256Hex "key" }}`, want: "108c2ab4adc527ea7478e97310776218e674dfb2bb67ae6954ce684f7e3a1c45"},
	})
}
