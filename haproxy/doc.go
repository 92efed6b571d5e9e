// Package haproxy speaks to HAProxy: `haproxy -c`, the master CLI, the
// runtime API, and parsing and diffing of haproxy.cfg files.
package haproxy
