package renderer

import (
	"fmt"
	"regexp"
)

// unsupportedFunc names the part of consul-template v0.42.1 that a function
// of its funcMap belongs to, for the functions harender leaves out on
// purpose. They are not registered, so text/template rejects a template
// that names one when parsing it, even in a branch that check's dry run
// would not take; unsupportedCause turns its "not defined" into a message
// that says why.
func unsupportedFunc(name string) (part string, ok bool) {
	switch name {
	case "secret", "secrets", "pkiCert":
		return "Vault", true
	case "nomadService", "nomadServices", "nomadVar", "nomadVarExists",
		"nomadVarList", "nomadVarListSafe":
		return "Nomad", true
	case "caLeaf", "caRoots":
		return "Consul Connect CA", true
	case "exportedServices", "importedServices", "partitions", "peerings":
		return "Consul peering and admin partition", true
	}
	return "", false
}

var notDefinedRE = regexp.MustCompile(`^function "([^"]+)" not defined$`)

// unsupportedCause rewrites text/template's parse error cause for a
// function unsupportedFunc knows; any other cause is returned unchanged.
func unsupportedCause(cause string) string {
	m := notDefinedRE.FindStringSubmatch(cause)
	if m == nil {
		return cause
	}
	part, ok := unsupportedFunc(m[1])
	if !ok {
		return cause
	}
	return fmt.Sprintf("function %q belongs to consul-template's %s support and is not supported by harender", m[1], part)
}
