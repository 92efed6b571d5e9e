package watch

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unsafe"

	"github.com/hashicorp/consul/api"
)

// The checks trigger reads the answer one check at a time: it keeps every
// check slim, and whole only those new or changed since its last answer;
// a body that is not a list of checks is an error, not an empty catalog.
func TestChecksTriggerStreams(t *testing.T) {
	body := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consul-Index", "7")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{Address: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string, idx int) string {
		return fmt.Sprintf(`{"Node":"n1","CheckID":%q,"Status":"passing","ServiceID":"s-%s","ServiceName":"s","ModifyIndex":%d}`, id, id, idx)
	}
	tr := &checksTrigger{}
	body = "[" + check("a", 3) + "," + check("b", 4) + "]"
	meta, err := tr.query(c, &api.QueryOptions{})
	if err != nil || meta.LastIndex != 7 {
		t.Fatalf("first answer: %v %+v", err, meta)
	}
	if len(tr.next) != 2 || len(tr.full) != 0 {
		t.Fatalf("first answer: %d slim, %d whole; want 2 and none (nothing to compare with)", len(tr.next), len(tr.full))
	}
	tr.prev = tr.next

	body = "[" + check("a", 3) + "," + check("b", 9) + "," + check("c", 9) + "]"
	if _, err := tr.query(c, &api.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(tr.next) != 3 || len(tr.full) != 2 || tr.full[checkKey{"n1", "b"}].ModifyIndex != 9 || tr.full[checkKey{"n1", "c"}] == nil {
		t.Fatalf("second answer: %d slim, whole %v; want 3, and b and c whole", len(tr.next), tr.full)
	}
	if a := tr.next[checkKey{"n1", "a"}]; unsafe.StringData(a.serviceID) != unsafe.StringData(tr.prev[checkKey{"n1", "a"}].serviceID) {
		t.Error("check a, unchanged: the second answer keeps a second copy of its strings")
	}
	d := diffChecks(tr.prev, tr.next, tr.full, 9)
	if len(d.changed) != 1 || d.changed[0].CheckID != "b" || !d.names["s"] || len(d.at) != 1 {
		t.Errorf("diff: %+v, want b patched and c named", d)
	}

	for _, bad := range []string{`{"not":"a list"}`, `[{"Node":`, `[1,2]`} {
		body = bad
		if _, err := tr.query(c, &api.QueryOptions{}); err == nil || !strings.Contains(err.Error(), "decode checks") {
			t.Errorf("body %s: err %v, want a decode error", bad, err)
		}
	}
	body = "null"
	if _, err := tr.query(c, &api.QueryOptions{}); err != nil || len(tr.next) != 0 {
		t.Errorf("null: %v, %d checks", err, len(tr.next))
	}
}
