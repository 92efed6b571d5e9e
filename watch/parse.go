package watch

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
)

// Fragments of the query-string grammar, identical to consul-template
// v0.42.1 (dependency/dependency.go) so the same strings parse the same way.
const (
	dcRe          = `(@(?P<dc>[[:word:]\.\-\_]+))?`
	keyRe         = `/?(?P<key>[^@\?]+)`
	filterRe      = `(\|(?P<filter>[[:word:]\,]+))?`
	serviceNameRe = `(?P<name>[[:word:]\-\_]+)`
	queryRe       = `(\?(?P<query>[[:word:]\-\_\=\&]+))?`
	nodeNameRe    = `(?P<name>[[:word:]\.\-\_]+)`
	nearRe        = `(~(?P<near>[[:word:]\.\-\_]+))?`
	prefixRe      = `/?(?P<prefix>[^@\?]+)`
	tagRe         = `((?P<tag>[[:word:]=:\.\-\_]+)\.)?`
)

// Keys accepted after "?" in a query string.
const (
	queryNamespace     = "ns"
	queryPartition     = "partition"
	queryPeer          = "peer"
	querySamenessGroup = "sameness-group"
)

// The regular expressions of each query form. They are compiled per call
// rather than held in package variables; compiling is cheap next to a
// Consul round trip and parsing happens once per template execution.
func healthServiceRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + tagRe + serviceNameRe + queryRe + dcRe + nearRe + filterRe + `\z`)
}

func catalogServicesRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + queryRe + dcRe + `\z`)
}

func catalogServiceRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + tagRe + serviceNameRe + queryRe + dcRe + nearRe + `\z`)
}

func catalogNodeRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + nodeNameRe + queryRe + dcRe + `\z`)
}

func catalogNodesRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + queryRe + dcRe + nearRe + `\z`)
}

func kvGetRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + keyRe + queryRe + dcRe + `\z`)
}

func kvPrefixRe() *regexp.Regexp {
	return regexp.MustCompile(`\A` + prefixRe + queryRe + dcRe + `\z`)
}

// match returns the named groups of re's first match in s; an empty map
// when nothing matches.
func match(re *regexp.Regexp, s string) map[string]string {
	m := map[string]string{}
	sub := re.FindStringSubmatch(s)
	if sub == nil {
		return m
	}
	for i, name := range re.SubexpNames() {
		if name != "" {
			m[name] = sub[i]
		}
	}
	return m
}

// scope is the part of a query that selects where in Consul it looks.
type scope struct {
	dc            string
	namespace     string
	partition     string
	peer          string
	samenessGroup string
}

// parseScope reads the datacenter and the optional "?ns=..&partition=.."
// parameters out of matched groups, rejecting unknown keys exactly as
// consul-template does. label prefixes errors, e.g. "health.service".
func parseScope(m map[string]string, label string) (scope, error) {
	sc := scope{dc: m["dc"]}
	raw := m["query"]
	if raw == "" {
		return sc, nil
	}
	params, err := url.ParseQuery(raw)
	if err != nil {
		return scope{}, fmt.Errorf("%s: invalid query: %q: %w", label, raw, err)
	}
	// Sorted, so that the error names the same key every time
	// (consul-template names a random one when several are wrong).
	for _, key := range slices.Sorted(maps.Keys(params)) {
		switch key {
		case queryNamespace, queryPeer, queryPartition, querySamenessGroup:
		default:
			return scope{}, fmt.Errorf("%s: invalid query parameter key %q in query %q: supported keys: %s,%s,%s,%s",
				label, key, raw, queryNamespace, queryPeer, queryPartition, querySamenessGroup)
		}
	}
	sc.namespace = params.Get(queryNamespace)
	sc.partition = params.Get(queryPartition)
	sc.peer = params.Get(queryPeer)
	sc.samenessGroup = params.Get(querySamenessGroup)
	return sc, nil
}

// suffix renders the scope the way consul-template's String methods do:
// "@dc", then "@partition=", "@ns=", "@peer=", "@sameness-group=".
func (sc scope) suffix() string {
	var s string
	if sc.dc != "" {
		s += "@" + sc.dc
	}
	if sc.partition != "" {
		s += "@partition=" + sc.partition
	}
	if sc.namespace != "" {
		s += "@ns=" + sc.namespace
	}
	if sc.peer != "" {
		s += "@peer=" + sc.peer
	}
	if sc.samenessGroup != "" {
		s += "@sameness-group=" + sc.samenessGroup
	}
	return s
}
