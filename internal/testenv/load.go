package testenv

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Load sends requests over keep-alive connections until stopped, and
// counts what came back.
type Load struct {
	mu       sync.Mutex
	OK       int
	Failed   int
	Errors   []string
	ByAnswer map[string]int
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// StartLoad starts conns clients looping GET url.
func StartLoad(url string, conns int) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{ByAnswer: map[string]int{}, cancel: cancel}
	for i := 0; i < conns; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for ctx.Err() == nil {
				ans, err := Get(c, url)
				if ctx.Err() != nil {
					return
				}
				l.record(ans, err)
			}
		}()
	}
	return l
}

func (l *Load) record(ans string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.Failed++
		if len(l.Errors) < 10 {
			l.Errors = append(l.Errors, err.Error())
		}
		return
	}
	l.OK++
	l.ByAnswer[ans]++
}

// Stop stops the clients and waits for them.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Snapshot returns the counts so far.
func (l *Load) Snapshot() (ok, failed int, byAnswer map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int{}
	for k, v := range l.ByAnswer {
		m[k] = v
	}
	return l.OK, l.Failed, m
}

// Get fetches url and returns the trimmed body; a non-200 is an error.
func Get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return strings.TrimSpace(string(b)), nil
}

// StatusError is a reply that was not 200.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return http.StatusText(e.Code) + ": " + e.Body }

// Answers sends n requests on fresh connections and counts the answers.
func Answers(url string, n int) (map[string]int, error) {
	m := map[string]int{}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		ans, err := Get(c, url)
		if err != nil {
			return m, err
		}
		m[ans]++
	}
	return m, nil
}
