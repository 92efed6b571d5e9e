package renderer

import (
	"github.com/davecgh/go-spew/spew"
)

// The spew_ helpers dump values with go-spew's default configuration, as
// consul-template does. spew_sdump and spew_sprintf return the text;
// spew_dump and spew_printf write it to the process's standard output and
// return "".

func fnSpewSdump(args ...any) (string, error) {
	return spew.Sdump(args...), nil
}

func fnSpewSprintf(format string, args ...any) (string, error) {
	return spew.Sprintf(format, args...), nil
}

func fnSpewDump(args ...any) (string, error) {
	spew.Dump(args...)
	return "", nil
}

func fnSpewPrintf(format string, args ...any) (string, error) {
	spew.Printf(format, args...)
	return "", nil
}
