// Package renderer turns templates and Consul data into bytes, and bytes
// into files that are never seen half-written.
package renderer

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/harender/harender/watch"
)

// Recaller hands a render the data that has arrived so far; watch.Snapshot
// is one.
type Recaller interface {
	Get(d watch.Dependency) (any, bool)
}

// Options changes how a template is parsed and executed.
type Options struct {
	LeftDelim, RightDelim string
	// ErrMissingKey makes a missing map key an error instead of "<no value>".
	ErrMissingKey bool
	// LookupEnv backs env and envOrDefault; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Params are read by param and paramOr: the settings of a built-in
	// template, set in its template block.
	Params map[string]string
	// NoExec makes the functions that run programs (plugin) return ""
	// without running anything, for a check that must need nothing and
	// change nothing.
	NoExec bool
	// NoWrite makes writeToFile write nothing (render --dry-run).
	NoWrite bool
	// FunctionDenylist names functions the template may not call, '*'
	// matching any run of characters (sandbox: denyFuncs).
	FunctionDenylist []string
	// SandboxPath, if set, is the directory file and writeToFile must stay
	// in (sandbox: resolveInSandbox).
	SandboxPath string
	// HAProxy backs haproxyVersion and haproxyHas (funcs_haproxy.go).
	HAProxy HAProxyInfo
}

// Template is a parsed template, named by its path so that errors say
// file:line:col. It is safe for concurrent use.
type Template struct {
	name string
	text string
	tmpl *template.Template
	opts Options
	// queries and lastSize are shared by the copies WithNoExec and
	// WithNoWrite make.
	queries  *queryCache
	lastSize *atomic.Int64 // bytes of the latest output: the next buffer starts that big
	// bound holds clones with their functions bound, each to its own
	// execution: cloning and binding cost a tenth of a 10,000-instance
	// render. Not shared by the copies, whose functions differ.
	bound *sync.Pool
}

// boundTemplate is a clone of the parsed template whose functions read x.
type boundTemplate struct {
	tmpl *template.Template
	x    *execution
}

// Result is the outcome of one execution.
type Result struct {
	Output []byte
	// Used lists every dependency the template asked for, in first-use order.
	Used []watch.Dependency
	// Missing lists those of Used that have no data yet. The output is not
	// to be written while any are missing.
	Missing []watch.Dependency
}

// Parse parses text as the template called name (its path).
func Parse(name, text string, o Options) (*Template, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	t := &Template{name: name, text: text, opts: o, queries: &queryCache{}, lastSize: &atomic.Int64{}, bound: &sync.Pool{}}
	tmpl := template.New(name).Delims(o.LeftDelim, o.RightDelim)
	tmpl.Funcs(denyFuncs(helperFuncs(o.LookupEnv), o.FunctionDenylist))
	tmpl.Funcs(denyFuncs(paramFuncs(o.Params), o.FunctionDenylist))
	tmpl.Funcs(denyFuncs(routeFuncs(), o.FunctionDenylist))
	tmpl.Funcs(denyFuncs(haproxyFuncs(o.HAProxy), o.FunctionDenylist))
	tmpl.Funcs(t.boundFuncs(tmpl, &execution{used: &depSet{}, missing: &depSet{}})) // names, for Parse
	if o.ErrMissingKey {
		tmpl.Option("missingkey=error")
	} else {
		tmpl.Option("missingkey=zero")
	}
	if _, err := tmpl.Parse(text); err != nil {
		return nil, templateError(name, text, err)
	}
	t.tmpl = tmpl
	return t, nil
}

// ParseFile reads and parses the template at path.
func ParseFile(path string, o Options) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(path, string(b), o)
}

// Name is the template's name, usually its path.
func (t *Template) Name() string { return t.name }

// WithNoExec returns t executing as under Options.NoExec.
func (t *Template) WithNoExec() *Template {
	c := *t
	c.opts.NoExec = true
	c.bound = &sync.Pool{}
	return &c
}

// WithNoWrite returns t executing as under Options.NoWrite.
func (t *Template) WithNoWrite() *Template {
	c := *t
	c.opts.NoWrite = true
	c.bound = &sync.Pool{}
	return &c
}

// Execute renders the template with the data r holds. Functions whose data
// has not arrived yield empty values and are listed in Result.Missing. On a
// template error the Result is still returned, without Output.
func (t *Template) Execute(r Recaller) (*Result, error) {
	bt, _ := t.bound.Get().(*boundTemplate)
	if bt == nil {
		var err error
		if bt, err = t.bind(); err != nil {
			return nil, err
		}
	}
	used, missing := &depSet{}, &depSet{}
	*bt.x = execution{r: r, used: used, missing: missing}
	defer func() {
		*bt.x = execution{} // hold no data between executions
		t.bound.Put(bt)
	}()
	var b bytes.Buffer
	b.Grow(int(t.lastSize.Load()))
	err := bt.tmpl.Execute(&b, nil)
	t.lastSize.Store(int64(b.Len()))
	res := &Result{Output: b.Bytes(), Used: used.list, Missing: missing.list}
	if err != nil {
		// Used and Missing stay valid: a template may fail only because
		// its data has not arrived yet (index of an empty list).
		res.Output = nil
		return res, templateError(t.name, t.text, err)
	}
	return res, nil
}

// bind clones the parsed template and binds the functions that hold the
// state of an execution (its data, its scratch, the template itself) to
// a new execution record. The stateless helpers were added at parse time.
func (t *Template) bind() (*boundTemplate, error) {
	tmpl, err := t.tmpl.Clone()
	if err != nil {
		return nil, fmt.Errorf("%s: clone: %w", t.name, err)
	}
	x := &execution{}
	tmpl.Funcs(t.boundFuncs(tmpl, x))
	return &boundTemplate{tmpl: tmpl, x: x}, nil
}

// boundFuncs are the functions that read execution x, for template tmpl.
func (t *Template) boundFuncs(tmpl *template.Template, x *execution) template.FuncMap {
	c := consulFuncs{x: x, queries: t.queries}
	m := c.funcMap()
	maps.Copy(m, serfFuncs{c}.funcMap())
	m["scratch"] = func() *Scratch {
		if x.scratch == nil {
			x.scratch = newScratch()
		}
		return x.scratch
	}
	m["executeTemplate"] = executeTemplate(tmpl)
	maps.Copy(m, execFuncs(t.opts.NoExec, t.opts.NoWrite))
	sandboxFuncs(t.opts.SandboxPath, m, t.opts.NoExec)
	return denyFuncs(m, t.opts.FunctionDenylist)
}

func executeTemplate(t *template.Template) func(string, ...any) (string, error) {
	return func(name string, data ...any) (string, error) {
		var dot any
		switch len(data) {
		case 0:
		case 1:
			dot = data[0]
		default:
			return "", fmt.Errorf("executeTemplate: wrong number of arguments, expected 1 or 2"+
				", but got %d", len(data)+1)
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, name, dot); err != nil {
			return "", err
		}
		return b.String(), nil
	}
}

// depSet is an ordered set of dependencies keyed by String.
type depSet struct {
	seen map[string]bool
	list []watch.Dependency
}

func (s *depSet) add(d watch.Dependency) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if k := d.String(); !s.seen[k] {
		s.seen[k] = true
		s.list = append(s.list, d)
	}
}

// paramFuncs read a template block's params.
func paramFuncs(params map[string]string) template.FuncMap {
	return template.FuncMap{
		"param": func(k string) (string, error) {
			if v, ok := params[k]; ok && v != "" {
				return v, nil
			}
			return "", fmt.Errorf("param %q is not set; set it in the template block's params", k)
		},
		"paramOr": func(k, def string) string {
			if v, ok := params[k]; ok && v != "" {
				return v
			}
			return def
		},
	}
}
