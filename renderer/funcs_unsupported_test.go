package renderer

import (
	"errors"
	"testing"
)

// TestUnsupportedFuncs: a template naming a function of consul-template
// that harender leaves out fails to parse, at file:line:col, saying which
// part of consul-template it belongs to; other unknown functions are still
// "not defined".
func TestUnsupportedFuncs(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{name: "secret", text: "global\n  # a secret\n  crt {{ with secret \"pki/issue/web\" }}{{ .Data.certificate }}{{ end }}\n",
			want: `t.tmpl:3:15: function "secret" belongs to consul-template's Vault support and is not supported by harender`},
		{name: "secret in a branch never taken", text: `{{ if false }}{{ secrets "kv/" }}{{ end }}`,
			want: `t.tmpl:1:18: function "secrets" belongs to consul-template's Vault support and is not supported by harender`},
		{name: "pkiCert", text: `{{ with pkiCert "pki/issue/x" "common_name=a" }}{{ .Cert }}{{ end }}`,
			want: `t.tmpl:1:9: function "pkiCert" belongs to consul-template's Vault support and is not supported by harender`},
		{name: "nomadService", text: `{{ range nomadService "web" }}{{ .Address }}{{ end }}`,
			want: `t.tmpl:1:10: function "nomadService" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "nomadServices", text: `{{ nomadServices }}`,
			want: `t.tmpl:1:4: function "nomadServices" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "nomadVar", text: `{{ with nomadVar "nomad/jobs/x" }}{{ .password }}{{ end }}`,
			want: `t.tmpl:1:9: function "nomadVar" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "nomadVarExists", text: `{{ nomadVarExists "a" }}`,
			want: `t.tmpl:1:4: function "nomadVarExists" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "nomadVarList", text: `{{ nomadVarList "a" }}`,
			want: `t.tmpl:1:4: function "nomadVarList" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "nomadVarListSafe", text: `{{ nomadVarListSafe "a" }}`,
			want: `t.tmpl:1:4: function "nomadVarListSafe" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "caRoots", text: `{{ range caRoots }}{{ .RootCertPEM }}{{ end }}`,
			want: `t.tmpl:1:10: function "caRoots" belongs to consul-template's Consul Connect CA support and is not supported by harender`},
		{name: "caLeaf", text: "\n\n{{ with caLeaf \"web\" }}{{ .CertPEM }}{{ end }}",
			want: `t.tmpl:3:9: function "caLeaf" belongs to consul-template's Consul Connect CA support and is not supported by harender`},
		{name: "exportedServices", text: `{{ exportedServices "default" }}`,
			want: `t.tmpl:1:4: function "exportedServices" belongs to consul-template's Consul peering and admin partition support and is not supported by harender`},
		{name: "importedServices", text: `{{ importedServices "default" }}`,
			want: `t.tmpl:1:4: function "importedServices" belongs to consul-template's Consul peering and admin partition support and is not supported by harender`},
		{name: "partitions", text: `{{ partitions }}`,
			want: `t.tmpl:1:4: function "partitions" belongs to consul-template's Consul peering and admin partition support and is not supported by harender`},
		{name: "peerings", text: `{{ peerings }}`,
			want: `t.tmpl:1:4: function "peerings" belongs to consul-template's Consul peering and admin partition support and is not supported by harender`},
		{name: "custom delimiters", text: `[[ secret "x" ]]`,
			want: `t.tmpl:1:4: function "secret" belongs to consul-template's Vault support and is not supported by harender`},
		{name: "a typo is not defined", text: `{{ secert "x" }}`,
			want: `t.tmpl:1:4: function "secert" not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			if tc.name == "custom delimiters" {
				o.LeftDelim, o.RightDelim = "[[", "]]"
			}
			_, err := Parse("t.tmpl", tc.text, o)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %v, want a *TemplateError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// TestUnsupportedFuncsAreNotHelpers: none of the functions left out is
// registered under its name.
func TestUnsupportedFuncsAreNotHelpers(t *testing.T) {
	m := helperFuncs(helperTestEnv)
	for _, name := range []string{"secret", "secrets", "pkiCert", "nomadService", "nomadServices",
		"nomadVar", "nomadVarExists", "nomadVarList", "nomadVarListSafe", "caLeaf", "caRoots",
		"exportedServices", "importedServices", "partitions", "peerings"} {
		if _, ok := unsupportedFunc(name); !ok {
			t.Errorf("%s: not known as unsupported", name)
		}
		if _, ok := m[name]; ok {
			t.Errorf("%s is a helper", name)
		}
		if _, ok := execFuncs(false, false)[name]; ok {
			t.Errorf("%s is an exec function", name)
		}
		if _, ok := (consulFuncs{}).funcMap()[name]; ok {
			t.Errorf("%s is a Consul function", name)
		}
	}
}
