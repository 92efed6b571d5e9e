package haproxy

import (
	"strings"
	"testing"
)

func TestKeepServerState(t *testing.T) {
	state := `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 gateway 1 gw-1 127.0.0.1 2 0 1 1 10 6 3 4 6 0 0 0 - 8001 - 0 0 - - 0
3 gateway 2 gw-2 127.0.0.1 0 0 1 1 10 6 3 0 6 0 0 0 - 8002 - 0 0 - - 0
3 gateway 3 gw-3 127.0.0.1 2 0 1 1 10 6 3 4 6 0 0 0 - 8003 - 0 0 - - 0
`
	cfg := mustParse(t, `backend gateway
    server gw-1 127.0.0.1:8001 check
    server gw-2 127.0.0.1:9002 check
`)
	got := KeepServerState(state, cfg)
	if !strings.Contains(got, " gw-1 ") || strings.Contains(got, " gw-2 ") || strings.Contains(got, " gw-3 ") {
		t.Errorf("kept:\n%s\nwant gw-1 only (gw-2 moved, gw-3 gone)", got)
	}
	if !strings.HasPrefix(got, "1\n# be_id") {
		t.Errorf("version and header lost:\n%s", got)
	}
}
