package renderer

import (
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strings"

	"dario.cat/mergo"
)

// fnIn reports whether l holds v: an element of a slice or array (ints
// compare with ints, floats with floats, strings only with strings of the
// same type), or a substring of a string. Anything else is false. The
// reflection mirrors consul-template's line for line, panics on odd input
// included (text/template turns those into errors).
func fnIn(l, v any) (bool, error) {
	lv := reflect.ValueOf(l)
	vv := reflect.ValueOf(v)

	switch lv.Kind() {
	case reflect.Array, reflect.Slice:
		// The elements of a []interface{} must be unwrapped to see their
		// dynamic kind.
		var ifaces []any
		if reflect.TypeOf(l).Elem().Kind() == reflect.Interface {
			ifaces = l.([]any)
		}
		for i := 0; i < lv.Len(); i++ {
			var e reflect.Value
			if ifaces != nil {
				e = reflect.ValueOf(ifaces[i])
			} else {
				e = lv.Index(i)
			}
			if inEqual(e, vv) {
				return true, nil
			}
		}
	case reflect.String:
		if vv.Type() == lv.Type() && strings.Contains(lv.String(), vv.String()) {
			return true, nil
		}
	}
	return false, nil
}

// inEqual is one element test of fnIn.
func inEqual(e, vv reflect.Value) bool {
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch vv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return vv.Int() == e.Int()
		}
	case reflect.Float32, reflect.Float64:
		switch vv.Kind() {
		case reflect.Float32, reflect.Float64:
			return vv.Float() == e.Float()
		}
	case reflect.String:
		return vv.Type() == e.Type() && vv.String() == e.String()
	}
	return false
}

// fnContains is fnIn with its arguments swapped, for piping the list:
// {{ if .Tags | contains "prod" }}.
func fnContains(v, l any) (bool, error) {
	return fnIn(l, v)
}

// fnContainsSome builds containsAll (true, true), containsAny (false, false),
// containsNone (true, false) and containsNotAll (false, true): it walks v,
// stops at the first element whose membership in l differs from invert and
// returns !retTrue, or retTrue if there is none.
func fnContainsSome(retTrue, invert bool) func([]any, any) (bool, error) {
	return func(v []any, l any) (bool, error) {
		for _, x := range v {
			if ok, _ := fnIn(l, x); ok != invert {
				return !retTrue, nil
			}
		}
		return retTrue, nil
	}
}

// fnLoop yields start, start+1, ..., stop-1; with one argument start is 0.
// Arguments may be any int or uint kind, or a string holding a base 10 int.
func fnLoop(args ...any) (iter.Seq[int64], error) {
	var from, to any
	switch len(args) {
	case 1:
		from, to = 0, args[0]
	case 2:
		from, to = args[0], args[1]
	default:
		return nil, fmt.Errorf("loop: wrong number of arguments, expected "+
			"1 or 2, but got %d", len(args))
	}
	start, err := loopBound(from)
	if err != nil {
		return nil, err
	}
	stop, err := loopBound(to)
	if err != nil {
		return nil, err
	}
	return func(yield func(int64) bool) {
		for i := start; i < stop; i++ {
			if !yield(i) {
				return
			}
		}
	}, nil
}

func loopBound(x any) (int64, error) {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint()), nil
	case reflect.String:
		return fnParseInt(v.String())
	}
	return 0, fmt.Errorf("loop: bad argument type: %T", x)
}

// fnMergeMap merges src into dst (deeply, keeping what dst already has) and
// returns dst. Like consul-template it changes dst itself, so a map held in
// a variable sees the merge too.
func fnMergeMap(dst, src map[string]any) (map[string]any, error) {
	return mergeMaps(dst, src)
}

// fnMergeMapWithOverride is fnMergeMap where src wins over dst.
func fnMergeMapWithOverride(dst, src map[string]any) (map[string]any, error) {
	return mergeMaps(dst, src, mergo.WithOverride)
}

func mergeMaps(dst, src map[string]any, opts ...func(*mergo.Config)) (map[string]any, error) {
	if err := mergo.Map(&dst, src, opts...); err != nil {
		return nil, err
	}
	return dst, nil
}

// fnExplode turns key/value pairs ("a/b/c" = "v") into nested maps
// (map[a:map[b:map[c:v]]]). pairs is a slice of pointers to structs with
// string fields Key and Value, such as []*watch.KeyPair.
func fnExplode(pairs any) (map[string]any, error) {
	m := make(map[string]any)
	err := explodePairs(pairs, func(key, value string) error {
		if err := explodeInto(m, key, value, key); err != nil {
			return fmt.Errorf("explode: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// fnExplodeMap does what fnExplode does, for a flat map, in key order.
func fnExplodeMap(in map[string]any) (map[string]any, error) {
	out := make(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if err := explodeInto(out, k, in[k], k); err != nil {
			return nil, fmt.Errorf("explodeMap: %w", err)
		}
	}
	return out, nil
}

// explodeInto stores v at path k below m; p is the path as it was one level
// up, for the error. An empty last segment ("a/") stores nothing but still
// creates the map above it.
func explodeInto(m map[string]any, k string, v any, p string) error {
	top, rest, nested := strings.Cut(k, "/")
	if !nested {
		if k != "" {
			m[k] = v
		}
		return nil
	}
	if _, ok := m[top]; !ok {
		m[top] = make(map[string]any)
	}
	sub, ok := m[top].(map[string]any)
	if !ok {
		return fmt.Errorf("not a map: %q: %q already has value %q", p, top, m[top])
	}
	return explodeInto(sub, rest, v, k)
}
