package renderer

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/harender/harender/watch"
)

// byKey, byTag, byPort, byMeta and explode work on the slices the Consul
// functions return ([]*watch.KeyPair, []*watch.HealthService,
// []*watch.CatalogService, []*watch.CatalogSnippet). They find the fields
// they need by name through reflection, so any slice of pointers to structs
// with those fields works:
//
//	byKey, explode  Key string, Value string
//	byTag           ServiceTags or Tags, a []string kind
//	byPort          ServicePort or Port, an int kind
//	byMeta          ServiceMeta, a map[string]string kind
//
// A nil element is skipped (consul-template would fail on it with a nil
// pointer dereference; the Consul functions never return one).

// recordSlice checks that in is a slice or array of pointers to structs of
// which field (the first of names that exists and satisfies ok) is one, and
// returns the slice and that field's index. A nil in is an empty slice.
func recordSlice(in any, ok func(reflect.Type) bool, names ...string) (reflect.Value, []int, bool) {
	v := reflect.ValueOf(in)
	if k := v.Kind(); k != reflect.Slice && k != reflect.Array {
		return v, nil, false
	}
	et := v.Type().Elem()
	if et.Kind() != reflect.Pointer || et.Elem().Kind() != reflect.Struct {
		return v, nil, false
	}
	for _, name := range names {
		if f, found := et.Elem().FieldByName(name); found && ok(f.Type) {
			return v, f.Index, true
		}
	}
	return v, nil, false
}

// eachRecord calls fn with every non-nil element of the slice s and the
// field at index in it.
func eachRecord(s reflect.Value, index []int, fn func(rec, field reflect.Value) error) error {
	for i := 0; i < s.Len(); i++ {
		rec := s.Index(i)
		if rec.IsNil() {
			continue
		}
		if err := fn(rec, rec.Elem().FieldByIndex(index)); err != nil {
			return err
		}
	}
	return nil
}

func isStringType(t reflect.Type) bool { return t.Kind() == reflect.String }

func isStringSliceType(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

func isStringMapType(t reflect.Type) bool {
	return t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String
}

func isIntType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// fnByTag groups services by tag: map[tag][]service, each service under
// every tag it has, in input order. The values are []interface{} holding the
// original pointers, as in consul-template.
func fnByTag(in any) (map[string][]any, error) {
	m := make(map[string][]any)
	if in == nil {
		return m, nil
	}
	if list, ok := in.([]*watch.HealthService); ok {
		// What `service` returns, without reflection: the same map.
		for _, svc := range list {
			if svc == nil {
				continue
			}
			for _, t := range svc.Tags {
				m[t] = append(m[t], svc)
			}
		}
		return m, nil
	}
	s, index, ok := recordSlice(in, isStringSliceType, "ServiceTags", "Tags")
	if !ok {
		return nil, fmt.Errorf("byTag: wrong argument type %T", in)
	}
	_ = eachRecord(s, index, func(rec, tags reflect.Value) error {
		for i := 0; i < tags.Len(); i++ {
			t := tags.Index(i).String()
			m[t] = append(m[t], rec.Interface())
		}
		return nil
	})
	return m, nil
}

// fnByPort groups services by port: map[port][]service.
func fnByPort(in any) (map[int][]any, error) {
	m := make(map[int][]any)
	if in == nil {
		return m, nil
	}
	s, index, ok := recordSlice(in, isIntType, "ServicePort", "Port")
	if !ok {
		return nil, fmt.Errorf("byPort: wrong argument type %T", in)
	}
	_ = eachRecord(s, index, func(rec, port reflect.Value) error {
		p := int(port.Int())
		m[p] = append(m[p], rec.Interface())
		return nil
	})
	return m, nil
}

// fnByMeta groups services by the values of one or more ServiceMeta keys,
// given as "key1,key2|int,...". The group name joins the values with "_",
// after turning every character outside [a-zA-Z0-9_-] into "_". A missing
// or empty value is "_no_<key>_"; for a key with the suffix "|int" it is 0,
// and the value is parsed as an int and zero padded to five digits, so that
// the groups sort numerically. The result is a map[string][]T for the
// []T that came in.
func fnByMeta(meta string, services any) (any, error) {
	if services == nil {
		return map[string][]any{}, nil
	}
	s, index, ok := recordSlice(services, isStringMapType, "ServiceMeta")
	if !ok {
		return nil, fmt.Errorf("byMeta: wrong argument type %T", services)
	}
	keys := strings.Split(meta, ",")
	listType := reflect.SliceOf(s.Type().Elem())
	groups := reflect.MakeMap(reflect.MapOf(reflect.TypeFor[string](), listType))
	err := eachRecord(s, index, func(rec, sm reflect.Value) error {
		parts := make([]string, 0, len(keys))
		for _, key := range keys {
			value, err := metaGroupPart(sm, key)
			if err != nil {
				return err
			}
			parts = append(parts, value)
		}
		group := reflect.ValueOf(strings.Join(parts, "_"))
		list := groups.MapIndex(group)
		if !list.IsValid() {
			list = reflect.MakeSlice(listType, 0, 1)
		}
		groups.SetMapIndex(group, reflect.Append(list, rec))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return groups.Interface(), nil
}

// metaGroupPart is the part of a byMeta group name that key contributes.
func metaGroupPart(sm reflect.Value, key string) (string, error) {
	name, isInt := strings.CutSuffix(key, "|int")
	value := ""
	if v := sm.MapIndex(reflect.ValueOf(name).Convert(sm.Type().Key())); v.IsValid() {
		value = v.String()
	}
	switch {
	case value != "":
	case isInt:
		value = "0"
	default:
		value = "_no_" + name + "_"
	}
	if isInt {
		n, err := strconv.Atoi(value)
		if err != nil {
			// The space before the colon is consul-template's.
			return "", fmt.Errorf("cannot parse %v as number : %w", value, err)
		}
		value = fmt.Sprintf("%05d", n)
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, value), nil
}

// fnByKey groups key/value pairs by the first segment of their key:
// "redis/a/b" lands in m["redis"]["a/b"], as a copy of the pair whose Key is
// "a/b". Pairs with nothing after the first segment are dropped. The result
// is a map[string]map[string]*T for the []*T that came in.
func fnByKey(pairs any) (any, error) {
	if pairs == nil {
		return map[string]map[string]any{}, nil
	}
	s, index, ok := recordSlice(pairs, isStringType, "Key")
	if !ok {
		return nil, fmt.Errorf("byKey: wrong argument type %T", pairs)
	}
	ptrType := s.Type().Elem()
	inner := reflect.MapOf(reflect.TypeFor[string](), ptrType)
	m := reflect.MakeMap(reflect.MapOf(reflect.TypeFor[string](), inner))
	_ = eachRecord(s, index, func(rec, key reflect.Value) error {
		top, rest, _ := strings.Cut(key.String(), "/")
		if rest == "" {
			return nil
		}
		topV := reflect.ValueOf(top)
		group := m.MapIndex(topV)
		if !group.IsValid() {
			group = reflect.MakeMap(inner)
			m.SetMapIndex(topV, group)
		}
		cp := reflect.New(ptrType.Elem())
		cp.Elem().Set(rec.Elem())
		cp.Elem().FieldByIndex(index).SetString(rest)
		group.SetMapIndex(reflect.ValueOf(rest), cp)
		return nil
	})
	return m.Interface(), nil
}

// explodePairs calls fn with the Key and Value of every pair, for fnExplode.
func explodePairs(pairs any, fn func(key, value string) error) error {
	if pairs == nil {
		return nil
	}
	s, keyIndex, ok := recordSlice(pairs, isStringType, "Key")
	if !ok {
		return fmt.Errorf("explode: wrong argument type %T", pairs)
	}
	_, valueIndex, ok := recordSlice(pairs, isStringType, "Value")
	if !ok {
		return fmt.Errorf("explode: wrong argument type %T", pairs)
	}
	return eachRecord(s, keyIndex, func(rec, key reflect.Value) error {
		return fn(key.String(), rec.Elem().FieldByIndex(valueIndex).String())
	})
}
