package haproxy

import (
	"strconv"
	"strings"
)

// The rule for the server-state-file: nothing that HAProxy will restore
// from it may contradict the desired config. It is written from the
// desired state plus the health that HAProxy observed, never from a stale
// admin state. How HAProxy applies a line (src/server_state.c,
// srv_state_srv_update, identical in 2.6 and 3.0):
//
//   - srv_admin_state: the inherited bits (IMAINT, IDRAIN, RMAINT, HMAINT)
//     are dropped. If its CMAINT bit differs from the new config, the config
//     wins. If they agree, FMAINT in the file puts an enabled server in
//     maintenance (how a runtime `disable server` used to survive reloads),
//     and a file without FMAINT makes a config-`disabled` server READY: so a
//     disabled server must be written as HAProxy writes it, CMAINT|FMAINT.
//     FDRAIN in the file drains the server.
//   - srv_uweight replaces the config's weight whenever the file's
//     srv_iweight equals the new config's; otherwise the config wins.
//   - srv_op_state and the srv_check_* fields restore health: STOPPED marks
//     the server down until its checks rise again (forever without checks).
//   - srv_check_state and srv_agent_state may only clear ENABLED (a runtime
//     `disable health` / `disable agent`).
//   - fields 20-24 (srv_use_ssl, check and agent address and port) are
//     optional; when present they override the config's.

// stateColumns are the fields of a version 1 line, in the order HAProxy
// reads them (it reads by position; the "#" header is a comment to it).
var stateColumns = [...]string{
	"be_id", "be_name", "srv_id", "srv_name", "srv_addr",
	"srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_time_since_last_change",
	"srv_check_status", "srv_check_result", "srv_check_health", "srv_check_state", "srv_agent_state",
	"bk_f_forced_id", "srv_f_forced_id", "srv_fqdn", "srv_port", "srvrecord",
	// Optional, and never written: each would override the config.
	"srv_use_ssl", "srv_check_port", "srv_check_addr", "srv_agent_addr", "srv_agent_port",
}

// Positions in stateColumns of the fields StateFileFor rewrites.
const (
	colAdminState = 6
	colUWeight    = 7
	colIWeight    = 8
	colCheckState = 13
	colAgentState = 14
)

// stateFields is how many of stateColumns a written line carries: the
// mandatory ones (SRV_STATE_FILE_MIN_FIELDS_VERSION_1).
const stateFields = 20

// Check state bits of srv_check_state and srv_agent_state (CHK_ST_*).
const (
	checkConfigured = 0x02
	checkEnabled    = 0x04
)

// maintBits are the admin bits under which HAProxy stops a server and
// pauses its checks, so that its op state and health say nothing of it.
const maintBits = AdminForcedMaint | AdminInheritedMaint | AdminConfigMaint | AdminResolutionMaint

// StateFileFor renders a server-state-file for cfg, the config about to be
// loaded, from what HAProxy reports now. It writes one line per server that
// exists in cfg's backend and listen sections and in obs at the same
// address and port, keeping the health HAProxy observed (op state, check
// status, result and health, time since the last change), with the admin
// state and weight that cfg gives:
//   - srv_admin_state: 0 for an enabled server, so that no forced
//     maintenance or drain survives; CMAINT|FMAINT for a `disabled` one,
//     which is what HAProxy itself writes for it;
//   - srv_uweight and srv_iweight: cfg's weight, or 1 when cfg gives none
//     (should a default-server weight make the config's differ, HAProxy
//     finds srv_iweight changed and takes the config's weight anyway);
//   - srv_check_state, srv_agent_state: ENABLED wherever CONFIGURED, so a
//     runtime `disable health` does not survive either;
//   - none of the optional fields, so that ssl and the check and agent
//     addresses and ports are the config's.
//
// Left out: servers not in cfg or moved (HAProxy would restore an old
// health that says nothing of the new address), and servers that obs shows
// in maintenance while cfg enables them: their op state and health were
// forced by the maintenance (checks are paused), and restoring them would
// keep the server DOWN. Without a line HAProxy starts them as the config
// says, as `enable server` would: up, and checked at once.
func StateFileFor(obs *ServersState, cfg *Config) []byte {
	var b strings.Builder
	b.WriteString("1\n# " + strings.Join(stateColumns[:stateFields], " ") + "\n")
	if obs == nil || cfg == nil {
		return []byte(b.String())
	}
	col := make([]int, len(stateColumns))
	for i, name := range stateColumns {
		col[i] = -1
		for j, c := range obs.Columns {
			if c == name {
				col[i] = j
			}
		}
		if col[i] < 0 && i < stateFields {
			return []byte(b.String()) // not a layout we know how to rewrite
		}
	}
	for _, s := range obs.Servers {
		srv := cfgServer(cfg, s.Backend, s.Server)
		if srv == nil || srv.Addr != s.Addr || srv.Port != s.Port {
			continue
		}
		if !srv.Disabled && s.AdminState&maintBits != 0 {
			continue
		}
		admin, weight := 0, srv.Weight
		if srv.Disabled {
			admin = AdminConfigMaint | AdminForcedMaint
		}
		if weight < 0 {
			weight = 1
		}
		f := make([]string, stateFields)
		for i := range f {
			f[i] = s.Fields[col[i]]
		}
		f[colAdminState] = strconv.Itoa(admin)
		f[colUWeight] = strconv.Itoa(weight)
		f[colIWeight] = strconv.Itoa(weight)
		f[colCheckState] = enableCheck(f[colCheckState])
		f[colAgentState] = enableCheck(f[colAgentState])
		b.WriteString(strings.Join(f, " ") + "\n")
	}
	return []byte(b.String())
}

// enableCheck sets ENABLED in a check state that has CONFIGURED.
func enableCheck(state string) string {
	n, err := strconv.Atoi(state)
	if err != nil || n&checkConfigured == 0 {
		return state
	}
	return strconv.Itoa(n | checkEnabled)
}

// cfgServer returns server name of cfg's backend or listen section backend, or nil.
func cfgServer(cfg *Config, backend, name string) *Server {
	for _, s := range cfg.Sections {
		if s.Name != backend || !hasServers(s.Kind) {
			continue
		}
		for i := range s.Servers {
			if s.Servers[i].Name == name {
				return &s.Servers[i]
			}
		}
	}
	return nil
}
