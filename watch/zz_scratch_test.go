package watch

import (
	"fmt"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

type traceRT struct {
	t  *testing.T
	rt http.RoundTripper
}

func (x traceRT) RoundTrip(r *http.Request) (*http.Response, error) {
	ts := func() string { return time.Now().Format("05.000") }
	tr := &httptrace.ClientTrace{
		GotConn:      func(i httptrace.GotConnInfo) { x.t.Logf("%s gotconn reused=%v local=%v", ts(), i.Reused, i.Conn.LocalAddr()) },
		ConnectStart: func(n, a string) { x.t.Logf("%s connect start", ts()) },
		ConnectDone:  func(n, a string, err error) { x.t.Logf("%s connect done %v", ts(), err) },
		WroteRequest: func(i httptrace.WroteRequestInfo) { x.t.Logf("%s wrote %v", ts(), i.Err) },
	}
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), tr))
	x.t.Logf("%s RT start %s", ts(), r.URL.RawQuery)
	resp, err := x.rt.RoundTrip(r)
	x.t.Logf("%s RT end err=%v", ts(), err)
	return resp, err
}

func TestScratchRestart(t *testing.T) {
	a := startConsulAgent(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, _ := api.NewClient(&api.Config{Address: a.Addr, HttpClient: &http.Client{Transport: traceRT{t, tr}}})
	for i := 1; i <= 3; i++ {
		a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: fmt.Sprint("web-", i), Name: "web", Port: 8000 + i})
	}
	time.Sleep(500 * time.Millisecond)
	_, m, err := c.Health().Service("web", "", true, nil)
	t.Log(m.LastIndex, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e, m2, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: m.LastIndex, WaitTime: 5 * time.Second})
		if err != nil { t.Logf("%s err %v", time.Now().Format("05.000"), err); return }; t.Logf("%s answer %d items idx %d", time.Now().Format("05.000"), len(e), m2.LastIndex)
	}()
	time.Sleep(300 * time.Millisecond)
	t.Logf("%s restart", time.Now().Format("05.000"))
	a.Restart(t)
	t.Logf("%s restarted", time.Now().Format("05.000"))
	_, m3, _ := a.Client.Health().Service("web", "", true, nil)
	t.Logf("new agent index %d", m3.LastIndex)
	for i := 1; i <= 3; i++ {
		a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: fmt.Sprint("web-", i), Name: "web", Port: 8000 + i})
	}
	<-done
}
