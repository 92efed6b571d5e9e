package renderer

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v2"
)

// fnToJSON encodes v compactly with map keys sorted and <, >, & escaped as
// \u003c, \u003e, \u0026 (encoding/json's default).
func fnToJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toJSON: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// fnToJSONPretty is fnToJSON indented by two spaces.
func fnToJSONPretty(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("toJSONPretty: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// fnToUnescapedJSON is fnToJSON without the HTML escaping.
func fnToUnescapedJSON(v any) (string, error) {
	return unescapedJSON("toUnescapedJSON", v, "")
}

// fnToUnescapedJSONPretty is fnToJSONPretty without the HTML escaping.
func fnToUnescapedJSONPretty(v any) (string, error) {
	return unescapedJSON("toUnescapedJSONPretty", v, "  ")
}

func unescapedJSON(name string, v any, indent string) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return strings.TrimRight(buf.String(), "\r\n"), nil
}

// fnToYAML encodes v with yaml.v2, without the trailing newline.
func fnToYAML(v any) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toYAML: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// fnToTOML encodes v (a map or struct) with BurntSushi/toml, without the
// surrounding space.
func fnToTOML(v any) (string, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return "", fmt.Errorf("toTOML: %w", err)
	}
	return string(bytes.TrimSpace(buf.Bytes())), nil
}

func fnBase64Encode(s string) (string, error) {
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("base64Decode: %w", err)
	}
	return string(b), nil
}

func fnBase64URLEncode(s string) (string, error) {
	return base64.URLEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64URLDecode(s string) (string, error) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("base64URLDecode: %w", err)
	}
	return string(b), nil
}

func fnSha256Hex(s string) (string, error) {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

func fnMd5sum(s string) (string, error) {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

// fnHmacSHA256Hex returns the hex HMAC-SHA256 of message under key; the
// message comes first, so {{ "msg" | hmacSHA256Hex "key" }} is not what it
// looks like: it is hmac(message="key", key="msg"), as in consul-template.
func fnHmacSHA256Hex(message, key string) (string, error) {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(message))
	return hex.EncodeToString(h.Sum(nil)), nil
}
