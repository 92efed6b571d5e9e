package renderer

// The helper functions of consul-template v0.42.1: every entry of its
// template funcMap that needs neither Consul, Vault, Nomad nor the template
// itself, plus sprig's hermetic text functions under the "sprig_" prefix.
// Names, argument order (the piped value is always the last argument),
// result types and error texts follow consul-template, so that existing
// templates render byte for byte the same.
//
// Left out on purpose:
//   - executeTemplate, scratch: need the template or the execution; the
//     renderer core registers them.
//   - The Consul data functions (key, service, ...): funcs_consul.go.
//   - The Vault, Nomad, Connect CA and Consul peering/partition functions
//     harender does not support: a template that names one fails to parse
//     with a message that says so (funcs_unsupported.go).
//
// Deviations that cannot show in sensible templates:
//   - loop returns an iter.Seq[int64] instead of a channel fed by a goroutine,
//     so a render that fails half way through a range leaks nothing. Ranging
//     with one variable (or none) and {{else}} behave the same; printing the
//     result or taking its len differs (both were meaningless before).
//   - byKey, byTag, byPort, byMeta and explode accept any slice of pointers
//     to structs with the right field names (see funcs_services.go), and
//     report a wrong argument type in their own words rather than
//     text/template's "wrong type for value".

import (
	"maps"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// helperFuncs returns the consul-template helper functions. lookupEnv backs
// env, mustEnv and envOrDefault (consul-template consults its configured
// environment first, then the process's; the caller folds both into
// lookupEnv).
func helperFuncs(lookupEnv func(string) (string, bool)) template.FuncMap {
	return helperFuncsAt(lookupEnv, func() time.Time { return time.Now().UTC() })
}

// helperFuncsAt is helperFuncs with the clock behind timestamp made explicit.
func helperFuncsAt(lookupEnv func(string) (string, bool), now func() time.Time) template.FuncMap {
	regexps := &regexCache{}
	m := template.FuncMap{
		// Services and key/value pairs.
		"byKey":  fnByKey,
		"byMeta": fnByMeta,
		"byPort": fnByPort,
		"byTag":  fnByTag,

		// Collections.
		"contains":             fnContains,
		"containsAll":          fnContainsSome(true, true),
		"containsAny":          fnContainsSome(false, false),
		"containsNone":         fnContainsSome(true, false),
		"containsNotAll":       fnContainsSome(false, true),
		"explode":              fnExplode,
		"explodeMap":           fnExplodeMap,
		"in":                   fnIn,
		"loop":                 fnLoop,
		"mergeMap":             fnMergeMap,
		"mergeMapWithOverride": fnMergeMapWithOverride,

		// Strings.
		"indent":          fnIndent,
		"join":            fnJoin,
		"regexMatch":      regexps.match,
		"regexReplaceAll": regexps.replaceAll,
		"replaceAll":      fnReplaceAll,
		"split":           fnSplit,
		"splitToMap":      fnSplitToMap,
		"toLower":         fnToLower,
		"toTitle":         fnToTitle,
		"toUpper":         fnToUpper,
		"trim":            fnTrim,
		"trimPrefix":      fnTrimPrefix,
		"trimSpace":       fnTrimSpace,
		"trimSuffix":      fnTrimSuffix,

		// Parsing.
		"parseBool":  fnParseBool,
		"parseFloat": fnParseFloat,
		"parseInt":   fnParseInt,
		"parseJSON":  fnParseJSON,
		"parseUint":  fnParseUint,
		"parseYAML":  fnParseYAML,

		// Encoding and hashing.
		"base64Decode":          fnBase64Decode,
		"base64Encode":          fnBase64Encode,
		"base64URLDecode":       fnBase64URLDecode,
		"base64URLEncode":       fnBase64URLEncode,
		"hmacSHA256Hex":         fnHmacSHA256Hex,
		"md5sum":                fnMd5sum,
		"sha256Hex":             fnSha256Hex,
		"toJSON":                fnToJSON,
		"toJSONPretty":          fnToJSONPretty,
		"toTOML":                fnToTOML,
		"toUnescapedJSON":       fnToUnescapedJSON,
		"toUnescapedJSONPretty": fnToUnescapedJSONPretty,
		"toYAML":                fnToYAML,

		// Environment, clock, host, subprocesses and files. plugin,
		// sockaddr and writeToFile are bound again per execution, to
		// honour Options.NoExec (execFuncs).
		"env":          fnEnv(lookupEnv),
		"envOrDefault": fnEnvOrDefault(lookupEnv),
		"mustEnv":      fnMustEnv(lookupEnv),
		"plugin":       fnPlugin,
		"sockaddr":     fnSockaddr,
		"timestamp":    fnTimestamp(now),
		"writeToFile":  fnWriteToFile,

		// Math.
		"add":      fnAdd,
		"divide":   fnDivide,
		"maximum":  fnMaximum,
		"minimum":  fnMinimum,
		"modulo":   fnModulo,
		"multiply": fnMultiply,
		"subtract": fnSubtract,

		// Debugging.
		"spew_dump":    fnSpewDump,
		"spew_printf":  fnSpewPrintf,
		"spew_sdump":   fnSpewSdump,
		"spew_sprintf": fnSpewSprintf,
	}
	maps.Copy(m, sprigFuncs())
	return m
}

// sprigFuncs returns sprig's hermetic text functions (no env, no expandenv)
// each under "sprig_" + its name, as consul-template registers them.
func sprigFuncs() template.FuncMap {
	src := sprig.HermeticTxtFuncMap()
	m := make(template.FuncMap, len(src))
	for k, v := range src {
		m["sprig_"+k] = v
	}
	return m
}
