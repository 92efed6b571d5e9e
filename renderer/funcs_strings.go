package renderer

import (
	"errors"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// The string helpers are the strings package with the subject last, so that
// it can be piped: {{ .Name | trimPrefix "web-" }}.

// fnIndent puts spaces in front of every line that is not empty. A "\r\n"
// line end counts as a line end; a lone "\n" line stays empty.
func fnIndent(spaces int, s string) (string, error) {
	if spaces < 0 {
		return "", errors.New("indent value must be a positive integer")
	}
	prefix := strings.Repeat(" ", spaces)
	var b strings.Builder
	b.Grow(len(s))
	atLineStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if atLineStart && c != '\n' {
			b.WriteString(prefix)
		}
		b.WriteByte(c)
		atLineStart = c == '\n'
	}
	return b.String(), nil
}

func fnJoin(sep string, a []string) (string, error) {
	return strings.Join(a, sep), nil
}

// fnTrim removes every leading and trailing character that is in cutset (a
// set of characters, not a prefix).
func fnTrim(cutset, s string) (string, error) {
	return strings.Trim(s, cutset), nil
}

func fnTrimPrefix(prefix, s string) (string, error) {
	return strings.TrimPrefix(s, prefix), nil
}

func fnTrimSuffix(suffix, s string) (string, error) {
	return strings.TrimSuffix(s, suffix), nil
}

func fnTrimSpace(s string) (string, error) {
	return strings.TrimSpace(s), nil
}

// fnReplaceAll replaces every from in s with to.
func fnReplaceAll(from, to, s string) (string, error) {
	return strings.ReplaceAll(s, from, to), nil
}

// replaceAll replaces every match of re in s with repl, which may
// refer to groups as $1 or ${name}. A bad expression is the regexp error,
// unwrapped, as in consul-template.
func (c *regexCache) replaceAll(re, repl, s string) (string, error) {
	compiled, err := c.compile(re)
	if err != nil {
		return "", err
	}
	return compiled.ReplaceAllString(s, repl), nil
}

// match reports whether s contains a match of re.
func (c *regexCache) match(re, s string) (bool, error) {
	compiled, err := c.compile(re)
	if err != nil {
		return false, err
	}
	return compiled.MatchString(s), nil
}

// regexCache compiles each expression once per template, not once per
// call: a range over 1,000 instances otherwise spends most of its time and
// memory compiling the same pattern.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

// maxCachedRegexps bounds the cache; beyond it, patterns are compiled per call.
const maxCachedRegexps = 256

func (c *regexCache) compile(re string) (*regexp.Regexp, error) {
	c.mu.Lock()
	compiled, ok := c.m[re]
	c.mu.Unlock()
	if ok {
		return compiled, nil
	}
	compiled, err := regexp.Compile(re)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*regexp.Regexp{}
	}
	if len(c.m) < maxCachedRegexps {
		c.m[re] = compiled
	}
	c.mu.Unlock()
	return compiled, nil
}

// fnSplit splits s, after trimming space around it, at every sep; an empty
// (or all-space) s gives an empty list rather than [""].
func fnSplit(sep, s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []string{}, nil
	}
	return strings.Split(s, sep), nil
}

// fnSplitToMap splits s at sep1 into items and each item at its first sep2
// into key and value. Items without sep2 are dropped; a later duplicate key
// wins.
func fnSplitToMap(sep1, sep2, s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return map[string]string{}, nil
	}
	items := strings.Split(s, sep1)
	m := make(map[string]string, len(items))
	for _, item := range items {
		if k, v, ok := strings.Cut(item, sep2); ok {
			m[k] = v
		}
	}
	return m, nil
}

func fnToLower(s string) (string, error) {
	return strings.ToLower(s), nil
}

func fnToUpper(s string) (string, error) {
	return strings.ToUpper(s), nil
}

// fnToTitle upper-cases the first letter of every word and leaves the rest
// alone ("hELLO wORLD" becomes "HELLO WORLD").
func fnToTitle(s string) (string, error) {
	return cases.Title(language.Und, cases.NoLower).String(s), nil
}
