package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func sample(args []string) error {
	fs := flag.NewFlagSet("sample", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process")
	port := fs.Int("port", 8500, "remote port whose connections count")
	d := fs.Duration("d", 10*time.Second, "how long")
	every := fs.Duration("every", 500*time.Millisecond, "how often")
	fs.Parse(args)
	var maxConns, maxRSS int
	end := time.Now().Add(*d)
	for {
		n, err := conns(*pid, *port)
		if err != nil {
			return err
		}
		rss, _ := status(*pid, "VmRSS")
		maxConns, maxRSS = max(maxConns, n), max(maxRSS, rss)
		if !time.Now().Add(*every).Before(end) {
			break
		}
		time.Sleep(*every)
	}
	hwm, _ := status(*pid, "VmHWM")
	fmt.Printf("conns_max %d rss_max_kib %d hwm_kib %d\n", maxConns, maxRSS, hwm)
	return nil
}

// status reads a "Key:  N kB" line of /proc/pid/status.
func status(pid int, key string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.Atoi(strings.Fields(v)[0])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// conns counts the established TCP connections of pid whose remote port
// is port: its socket inodes (/proc/pid/fd) matched against the kernel's
// tables (/proc/pid/net/tcp and tcp6).
func conns(pid, port int) (int, error) {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		return 0, err
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !strings.HasSuffix(fields[2], want) {
				continue
			}
			if mine[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n, nil
}
