package renderer

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// TemplateError is a template that failed to parse or execute. Its text
// starts with file:line:col, the form editors and CI logs link to.
type TemplateError struct {
	File      string
	Line, Col int
	Cause     string
	Err       error
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Cause)
}

func (e *TemplateError) Unwrap() error { return e.Err }

var (
	// template: NAME:LINE:COL: executing "NAME" at <...>: cause
	execErrRE = regexp.MustCompile(`^template: (.*?):(\d+):(\d+): (?:executing ".*?" )?(.*)$`)
	// template: NAME:LINE: cause
	parseErrRE = regexp.MustCompile(`^template: (.*?):(\d+): (.*)$`)
	quotedRE   = regexp.MustCompile(`"([^"]+)"|<([^>]+)>`)
)

// templateError rewrites a text/template error as a *TemplateError. Parse
// errors carry no column, so it is found by looking for the quoted token
// from the message on the named line.
func templateError(name, text string, err error) error {
	msg := err.Error()
	var ee template.ExecError
	if errors.As(err, &ee) {
		msg = ee.Err.Error()
	}
	msg = strings.TrimSpace(msg)
	if m := execErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		return &TemplateError{File: name, Line: line, Col: col, Cause: m[4], Err: err}
	}
	if m := parseErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		return &TemplateError{File: name, Line: line, Col: guessCol(text, line, m[3]), Cause: unsupportedCause(m[3]), Err: err}
	}
	return &TemplateError{File: name, Line: 1, Col: 1, Cause: strings.TrimPrefix(msg, "template: "), Err: err}
}

// guessCol finds the column of the token a parse error names, or of the
// first action on the line, or 1.
func guessCol(text string, line int, cause string) int {
	lines := strings.Split(text, "\n")
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	for _, m := range quotedRE.FindAllStringSubmatch(cause, -1) {
		tok := m[1] + m[2]
		if i := strings.Index(l, tok); i >= 0 {
			return i + 1
		}
	}
	if i := strings.Index(l, "{{"); i >= 0 {
		return i + 1
	}
	return 1
}
