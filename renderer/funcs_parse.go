package renderer

import (
	"encoding/json"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v2"
)

// The parse helpers turn the empty string into the zero value (an empty map
// for parseJSON and parseYAML) instead of failing, as consul-template does,
// so that a missing key renders as a default.

func fnParseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("parseBool: %w", err)
	}
	return v, nil
}

func fnParseFloat(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("parseFloat: %w", err)
	}
	return v, nil
}

// fnParseInt parses a base 10 int64.
func fnParseInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parseInt: %w", err)
	}
	return v, nil
}

// fnParseUint parses a base 10 uint64.
func fnParseUint(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parseUint: %w", err)
	}
	return v, nil
}

// fnParseJSON decodes s into maps, slices, strings, bools, nil and float64
// numbers (so 1 prints as 1, 1e21 as 1e+21). Errors are encoding/json's own
// text, without a prefix.
func fnParseJSON(s string) (any, error) {
	if s == "" {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// fnParseYAML decodes s with yaml.v2, as consul-template does: mappings
// become map[interface{}]interface{}, numbers int or float64. Errors are
// yaml.v2's own text.
func fnParseYAML(s string) (any, error) {
	if s == "" {
		return map[string]any{}, nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}
