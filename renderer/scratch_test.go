package renderer

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestScratch(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "set get", tmpl: `{{ scratch.Set "k" "v" }}{{ scratch.Get "k" }}`, want: "v"},
		{name: "set overwrites", tmpl: `{{ scratch.Set "k" 1 }}{{ scratch.Set "k" 2 }}{{ scratch.Get "k" }}`, want: "2"},
		{name: "setX keeps", tmpl: `{{ scratch.Set "k" 1 }}{{ scratch.SetX "k" 2 }}{{ scratch.SetX "n" 3 }}{{ scratch.Get "k" }}{{ scratch.Get "n" }}`, want: "13"},
		{name: "key", tmpl: `{{ scratch.Key "k" }} {{ scratch.Set "k" nil }}{{ scratch.Key "k" }}`, want: "false true"},
		{name: "get missing", tmpl: `{{ scratch.Get "nope" }}`, want: "<no value>"},
		{name: "map values sorted", tmpl: `{{ scratch.MapSet "m" "b" "2" }}{{ scratch.MapSet "m" "a" "1" }}{{ scratch.MapSetX "m" "a" "x" }}{{ scratch.MapSetX "m" "c" "3" }}{{ scratch.MapValues "m" }}`, want: "[1 2 3]"},
		{name: "map set overwrites", tmpl: `{{ scratch.MapSet "m" "a" "1" }}{{ scratch.MapSet "m" "a" "2" }}{{ scratch.MapValues "m" }}`, want: "[2]"},
		{name: "map values missing", tmpl: `{{ scratch.MapValues "nope" }} {{ scratch.Set "s" "x" }}{{ scratch.MapValues "s" }}`, want: "[] []"},
		{name: "map set on a value", tmpl: `{{ scratch.Set "k" 1 }}{{ scratch.MapSet "k" "a" 1 }}`, wantErr: `error calling MapSet: "k" is not a map`},
		{name: "map setX on a value", tmpl: `{{ scratch.Set "k" 1 }}{{ scratch.MapSetX "k" "a" 1 }}`, wantErr: `error calling MapSetX: "k" is not a map`},
		{name: "parsed map is a map", tmpl: `{{ scratch.Set "k" (parseJSON "{\"b\":1}") }}{{ scratch.MapSet "k" "a" 2 }}{{ scratch.MapValues "k" }}`, want: "[2 1]"},
	})
}

func TestScratchZeroValue(t *testing.T) {
	var s Scratch
	if s.Key("a") || s.Get("a") != nil {
		t.Fatal("zero Scratch is not empty")
	}
	if v, err := s.MapValues("a"); v != nil || err != nil {
		t.Fatalf("MapValues = %v, %v", v, err)
	}
	if _, err := s.MapSet("m", "k", 1); err != nil {
		t.Fatal(err)
	}
	s.SetX("a", 1)
	if got, _ := s.MapValues("m"); !reflect.DeepEqual(got, []any{1}) {
		t.Fatalf("MapValues = %v", got)
	}
}

func TestScratchConcurrent(t *testing.T) {
	s := newScratch()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				k := fmt.Sprint(i, "-", j)
				s.Set(k, j)
				s.SetX(k, -1)
				if _, err := s.MapSet("m", k, j); err != nil {
					t.Error(err)
				}
				s.MapSetX("m", k, -1)
				s.Key(k)
				s.Get(k)
				s.MapValues("m")
			}
		})
	}
	wg.Wait()
	if got, _ := s.MapValues("m"); len(got) != 800 {
		t.Fatalf("got %d map values, want 800", len(got))
	}
}
