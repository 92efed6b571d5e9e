package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// A body sink reads a query's answer as it arrives, in the transport
// (client.go), instead of api decoding all of it at once: api then decodes
// an empty list. The checks trigger's answer is every check in the
// catalog (5 MB at 10,000 checks); whole, with json's buffer, it held
// more than 20 MB at each wake.
type bodySinkKey struct{}

// bodySink is what the context holds. Its caller clears fn once the query
// is over: request contexts outlived their requests (inside net/http, most
// likely), and a heap profile under churn showed 40 answers' worth of
// checks held through the closure.
type bodySink struct {
	fn    func(io.Reader) error
	began time.Time // when the body began to be read (the headers are in)
}

func withBodySink(ctx context.Context, sink *bodySink) context.Context {
	return context.WithValue(ctx, bodySinkKey{}, sink)
}

// checkSink hands each check of a list answer to each, decoded one at a
// time.
func checkSink(each func(*api.HealthCheck)) *bodySink {
	return &bodySink{fn: func(r io.Reader) error {
		dec := json.NewDecoder(r)
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode checks: %w", err)
		}
		if tok == nil {
			return nil // null: no checks
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("decode checks: want a list, got %v", tok)
		}
		for dec.More() {
			c := new(api.HealthCheck)
			if err := dec.Decode(c); err != nil {
				return fmt.Errorf("decode checks: %w", err)
			}
			each(c)
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("decode checks: %w", err)
		}
		return nil
	}}
}

// sinkBody gives a 200 answer's body to the sink in ctx, if any, and
// leaves api an empty list in its place.
func sinkBody(ctx context.Context, resp *http.Response) error {
	sink, ok := ctx.Value(bodySinkKey{}).(*bodySink)
	if !ok || sink.fn == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	sink.began = time.Now()
	err := sink.fn(resp.Body)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body) // to EOF: the connection is kept
	}
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(strings.NewReader("[]"))
	resp.ContentLength = 2
	return nil
}
