package watch

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// DefaultTimeout bounds a Consul request that does not block, and is the
// margin a blocking query gets beyond its wait. A local agent answers in
// milliseconds; a query forwarded to another datacenter waits out Consul's
// own RPC hold timeout (7s) at worst.
const DefaultTimeout = 10 * time.Second

// maxQueryTime is the longest wait Consul grants a blocking query, and
// defaultQueryTime the wait it takes when a blocking query names none.
const (
	maxQueryTime     = 10 * time.Minute
	defaultQueryTime = 5 * time.Minute
)

// tokenHeader is where the ACL token travels: never in a URL, so never in
// an error that quotes one.
const tokenHeader = "X-Consul-Token"

// ClientConfig holds the Consul connection settings. Every field is
// optional: an empty field keeps what api.DefaultConfig read from the
// standard environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY,
// CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY,
// CONSUL_TLS_SERVER_NAME); a set field overrides it.
type ClientConfig struct {
	// Address is host:port, or a URL such as https://consul:8501 or
	// unix:///run/consul.sock.
	Address string
	// Token is the ACL token. It is sent only in the X-Consul-Token header,
	// never in a URL, so it does not show up in errors.
	Token string
	// TokenFile wins over Token. It is read when the client is made, and
	// again before any request once it has changed: a rotated token is
	// used from the next request on. So is CONSUL_HTTP_TOKEN_FILE's.
	TokenFile string

	CAFile     string
	CAPath     string
	CertFile   string
	KeyFile    string
	ServerName string
	// SSL forces https even when Address has no scheme.
	SSL                bool
	InsecureSkipVerify bool

	// Datacenter, Namespace and Partition are defaults for every query that
	// does not name its own.
	Datacenter string
	Namespace  string
	Partition  string

	// Timeout bounds a request that does not block; a blocking query gets
	// its wait, plus Consul's jitter of a sixteenth of it, plus Timeout.
	// A request past its bound fails with a *TimeoutError instead of
	// hanging on a connection that a partition left silent. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// NewClient makes a Consul API client from the environment, overridden by
// c. Its error never contains the token.
func NewClient(c ClientConfig) (*api.Client, error) {
	cfg := api.DefaultConfig()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Address, c.Address)
	set(&cfg.Token, c.Token)
	set(&cfg.TokenFile, c.TokenFile)
	set(&cfg.TLSConfig.CAFile, c.CAFile)
	set(&cfg.TLSConfig.CAPath, c.CAPath)
	set(&cfg.TLSConfig.CertFile, c.CertFile)
	set(&cfg.TLSConfig.KeyFile, c.KeyFile)
	set(&cfg.TLSConfig.Address, c.ServerName)
	set(&cfg.Datacenter, c.Datacenter)
	set(&cfg.Namespace, c.Namespace)
	set(&cfg.Partition, c.Partition)
	if c.SSL {
		cfg.Scheme = "https"
	}
	if c.InsecureSkipVerify {
		cfg.TLSConfig.InsecureSkipVerify = true
	}
	fail := func(err error) (*api.Client, error) {
		// api's errors name the token file, never its content; scrub the
		// token anyway in case a future version echoes it.
		return nil, fmt.Errorf("make consul client: %w", redact(err, cfg.Token))
	}

	rt := &transport{timeout: c.Timeout, static: cfg.Token}
	if rt.timeout <= 0 {
		rt.timeout = DefaultTimeout
	}
	// api's precedence: the given file, the given token, the file named
	// in the environment, the token in the environment.
	if path := tokenFilePath(c); path != "" {
		tf, err := newTokenFile(path)
		if err != nil {
			return fail(err)
		}
		rt.file = tf
		// What api sends by itself: the file's first read, else the
		// token it had before reading the file.
		if tf.token != "" {
			rt.static = tf.token
		}
	}
	if strings.HasPrefix(cfg.Address, "unix://") {
		// api would swap in a client of its own for a socket, without
		// our transport: dial the socket ourselves, as it would.
		path := strings.TrimPrefix(cfg.Address, "unix://")
		cfg.Transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		cfg.Address = path
	}
	hc, err := api.NewHttpClient(cfg.Transport, cfg.TLSConfig)
	if err != nil {
		return fail(err)
	}
	rt.base = hc.Transport
	rt.shared = sharedTransport(cfg.Transport)
	hc.Transport = rt
	cfg.HttpClient = hc

	client, err := api.NewClient(cfg)
	if err != nil {
		return fail(err)
	}
	return client, nil
}

// tokenFilePath is the token file that api.NewClient reads, if any.
func tokenFilePath(c ClientConfig) string {
	switch {
	case c.TokenFile != "":
		return c.TokenFile
	case c.Token != "":
		return ""
	default:
		return os.Getenv(api.HTTPTokenFileEnvName)
	}
}

// transport is the client's http.RoundTripper: it bounds every request in
// time, and sends the token file's current token.
type transport struct {
	base    http.RoundTripper
	timeout time.Duration
	// file, if set, holds the token; static is the token api puts in the
	// header by itself, which the file's current token replaces. A token
	// given per query (QueryOptions.Token) is left alone.
	file   *tokenFile
	static string
	// shared carries the requests of the shared queries (shared_hub.go),
	// over at most SharedMaxConns connections.
	shared http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.file != nil {
		tok, err := t.file.current()
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		if h := req.Header.Get(tokenHeader); tok != "" && tok != h && (h == "" || h == t.static) {
			req = req.Clone(req.Context())
			req.Header.Set(tokenHeader, tok)
		}
	}
	wait, blocking := blockingWait(req.URL.Query())
	limit := t.timeout
	if blocking {
		limit += wait + wait/16
	}
	parent := req.Context()
	ctx, cancel := context.WithTimeout(parent, limit)
	base := t.base
	if t.shared != nil && isShared(parent) {
		base = t.shared
	}
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timedOut := ctx.Err() != nil && parent.Err() == nil
		cancel()
		if timedOut {
			return nil, &TimeoutError{Limit: limit, Wait: wait, err: err}
		}
		return nil, err
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, ctx: ctx, parent: parent, cancel: cancel, limit: limit, wait: wait}
	if err := sinkBody(parent, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// blockingWait reports whether a query blocks (it names an index) and for
// how long Consul may hold it.
func blockingWait(q map[string][]string) (time.Duration, bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if idx, err := strconv.ParseUint(get("index"), 10, 64); err != nil || idx == 0 {
		return 0, false
	}
	wait := defaultQueryTime
	if d, err := time.ParseDuration(get("wait")); err == nil && d > 0 {
		wait = d
	}
	return min(wait, maxQueryTime), true
}

// boundedBody is an answer's body, read within the request's bound; Close
// releases the bound's timer.
type boundedBody struct {
	io.ReadCloser
	ctx, parent context.Context
	cancel      context.CancelFunc
	limit, wait time.Duration
}

func (b *boundedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.ctx.Err() != nil && b.parent.Err() == nil {
		err = &TimeoutError{Limit: b.limit, Wait: b.wait, err: err}
	}
	return n, err
}

func (b *boundedBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// TimeoutError is a Consul request that got no whole answer within its
// bound: Consul, or the network to it, went silent.
type TimeoutError struct {
	Limit time.Duration // the bound
	Wait  time.Duration // the blocking query's wait; 0 if it did not block
	err   error
}

func (e *TimeoutError) Error() string {
	if e.Wait > 0 {
		return fmt.Sprintf("no answer from consul within %s (a blocking query of %s, plus jitter and margin)", e.Limit, e.Wait)
	}
	return fmt.Sprintf("no answer from consul within %s", e.Limit)
}

// Unwrap gives the cause, which is context.DeadlineExceeded or wraps it.
func (e *TimeoutError) Unwrap() error { return e.err }

// Timeout marks the error as a timeout for net.Error-style checks.
func (e *TimeoutError) Timeout() bool { return true }
