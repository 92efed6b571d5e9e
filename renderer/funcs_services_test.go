package renderer

import (
	"reflect"
	"testing"

	"github.com/harender/harender/watch"
)

func TestServiceFuncs(t *testing.T) {
	health := []*watch.HealthService{
		{ID: "a", Address: "1.2.3.4", Port: 80, Tags: watch.ServiceTags{"prod", "staging"}},
		{ID: "b", Address: "5.6.7.8", Port: 8080, Tags: watch.ServiceTags{"staging"}},
		nil,
		{ID: "c", Address: "9.9.9.9", Port: 80},
	}
	catalog := []*watch.CatalogService{
		{ServiceID: "x", ServiceAddress: "10.0.0.1", ServicePort: 443, ServiceTags: watch.ServiceTags{"edge"}},
		{ServiceID: "y", ServiceAddress: "10.0.0.2", ServicePort: 443, ServiceTags: watch.ServiceTags{"edge", "tls"}},
	}
	snippets := []*watch.CatalogSnippet{
		{Name: "web", Tags: watch.ServiceTags{"http"}},
		{Name: "db", Tags: watch.ServiceTags{"sql", "http"}},
	}
	pairs := []*watch.KeyPair{
		{Key: "", Value: ""},
		{Key: "foo/bar", Value: "a", Path: "p/foo/bar", Flags: 7},
		{Key: "zip/zap", Value: "b"},
		{Key: "redis/a/b", Value: "c"},
		{Key: "top", Value: "dropped"},
		{Key: "dir/", Value: ""},
	}
	data := map[string]any{"H": health, "C": catalog, "S": snippets, "KV": pairs}
	runHelperCases(t, []helperCase{
		{name: "byTag health", tmpl: `{{ range $tag, $services := .H | byTag }}{{ $tag }}:{{ range $services }}{{ .Address }}{{ end }} {{ end }}`, data: data, want: "prod:1.2.3.4 staging:1.2.3.45.6.7.8 "},
		{name: "byTag catalog", tmpl: `{{ range $tag, $s := byTag .C }}{{ $tag }}={{ range $s }}{{ .ServiceID }}{{ end }};{{ end }}`, data: data, want: "edge=xy;tls=y;"},
		{name: "byTag snippets", tmpl: `{{ range $tag, $s := byTag .S }}{{ $tag }}={{ range $s }}{{ .Name }}{{ end }};{{ end }}`, data: data, want: "http=webdb;sql=db;"},
		{name: "byTag values are interfaces", tmpl: `{{ range $tag, $s := byTag .S }}{{ printf "%T" $s }}{{ break }}{{ end }}`, data: data, want: "[]interface {}"},
		{name: "byTag nil", tmpl: `{{ byTag nil }}`, want: "map[]"},
		{name: "byTag wrong type", tmpl: `{{ byTag "x" }}`, wantErr: "error calling byTag: byTag: wrong argument type string"},
		{name: "byTag pairs", tmpl: `{{ byTag .KV }}`, data: data, wantErr: "error calling byTag: byTag: wrong argument type []*watch.KeyPair"},

		{name: "byPort health", tmpl: `{{ range $port, $s := byPort .H }}{{ $port }}={{ range $s }}{{ .ID }}{{ end }};{{ end }}`, data: data, want: "80=ac;8080=b;"},
		{name: "byPort catalog", tmpl: `{{ range $port, $s := byPort .C }}{{ $port }}={{ range $s }}{{ .ServiceID }}{{ end }};{{ end }}`, data: data, want: "443=xy;"},
		{name: "byPort snippets", tmpl: `{{ byPort .S }}`, data: data, wantErr: "error calling byPort: byPort: wrong argument type []*watch.CatalogSnippet"},

		{name: "byKey", tmpl: `{{ range $key, $pairs := .KV | byKey }}{{ $key }}:{{ range $pairs }}{{ .Key }}={{ .Value }}{{ end }};{{ end }}`, data: data, want: "foo:bar=a;redis:a/b=c;zip:zap=b;"},
		{name: "byKey copies the pair", tmpl: `{{ with index (byKey .KV) "foo" "bar" }}{{ .Path }} {{ .Flags }}{{ end }} {{ (index .KV 1).Key }}`, data: data, want: "p/foo/bar 7 foo/bar"},
		{name: "byKey nil", tmpl: `{{ byKey nil }}`, want: "map[]"},
		{name: "byKey wrong type", tmpl: `{{ byKey "x" }}`, wantErr: "error calling byKey: byKey: wrong argument type string"},

		{name: "explode", tmpl: `{{ range $k, $v := .KV | explode }}{{ $k }}{{ $v }};{{ end }}`, data: data, want: "dirmap[];foomap[bar:a];redismap[a:map[b:c]];topdropped;zipmap[zap:b];"},
		{name: "explode merge", tmpl: `{{ $base := "{\"voo\":{\"bar\":\"v\"}}" | parseJSON }}{{ range $k, $v := .KV | explode | mergeMap $base }}{{ $k }}{{ $v }}{{ end }}`, data: map[string]any{"KV": pairs[:3]}, want: "foomap[bar:a]voomap[bar:v]zipmap[zap:b]"},
		{name: "explode conflict", tmpl: `{{ explode .KV }}`, data: map[string]any{"KV": []*watch.KeyPair{{Key: "a", Value: "1"}, {Key: "a/b", Value: "2"}}}, wantErr: `error calling explode: explode: not a map: "a/b": "a" already has value "1"`},
		{name: "explode nil", tmpl: `{{ explode nil }}`, want: "map[]"},
	})
}

func TestByMeta(t *testing.T) {
	svc := func(id string, meta map[string]string) *watch.HealthService {
		return &watch.HealthService{ID: id, ServiceMeta: meta}
	}
	a := svc("svcA", map[string]string{"version": "v2", "version_num": "2", "bad_version_num": "1zz", "env": "dev"})
	b := svc("svcB", map[string]string{"version": "v11", "version_num": "11", "bad_version_num": "1zz", "env": "prod"})
	c := svc("svcC", map[string]string{"version": "v11", "version_num": "11", "bad_version_num": "1zz", "env": "prod"})
	d := svc("svcD", map[string]string{"version": "1.2 beta/x", "version_num": "-3"})
	all := []*watch.HealthService{a, b, c}

	tests := []struct {
		name     string
		meta     string
		services []*watch.HealthService
		want     map[string][]*watch.HealthService
		wantErr  string
	}{
		{name: "string", meta: "version", services: all, want: map[string][]*watch.HealthService{"v11": {b, c}, "v2": {a}}},
		{name: "int", meta: "version_num|int", services: all, want: map[string][]*watch.HealthService{"00011": {b, c}, "00002": {a}}},
		{name: "bad int", meta: "bad_version_num|int", services: all, wantErr: `cannot parse 1zz as number : strconv.Atoi: parsing "1zz": invalid syntax`},
		{name: "several", meta: "env,version_num|int,version", services: all, want: map[string][]*watch.HealthService{"dev_00002_v2": {a}, "prod_00011_v11": {b, c}}},
		{name: "missing and normalized", meta: "env,version,nope|int,version_num|int", services: []*watch.HealthService{d}, want: map[string][]*watch.HealthService{"_no_env__1_2_beta_x_00000_-0003": {d}}},
		{name: "no services", meta: "env", services: nil, want: map[string][]*watch.HealthService{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fnByMeta(tt.meta, tt.services)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("byMeta = %#v, want %#v", got, tt.want)
			}
		})
	}

	runHelperCases(t, []helperCase{
		{name: "template", tmpl: `{{ range $g, $s := byMeta "env" .H }}{{ $g }}:{{ range $s }}{{ .ID }}{{ end }};{{ end }}`, data: map[string]any{"H": all}, want: "dev:svcA;prod:svcBsvcC;"},
		{name: "template wrong type", tmpl: `{{ byMeta "env" "x" }}`, wantErr: "error calling byMeta: byMeta: wrong argument type string"},
	})
}
