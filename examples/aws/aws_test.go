// Package aws_test tests the AWS example's scripts on this machine, with
// stand-ins for the instance metadata service and the aws and systemctl
// commands (standins_test.go). What AWS itself does with the calls (an
// Elastic IP moving, a spot notice arriving) is not tested here.
package aws_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

const eipSettings = "EIP_ALLOCATION_ID=eipalloc-test\nPRIVATE_VIP=\n"

func TestVIPMasterMovesElasticIP(t *testing.T) {
	n := newNode(t, eipSettings)
	code, out := n.run(t, "vip.sh", "master")
	if code != 0 {
		t.Fatalf("vip.sh master: exit %d\n%s", code, out)
	}
	want := []string{"aws ec2 associate-address --region eu-west-1 --allocation-id eipalloc-test --instance-id i-0123 --allow-reassociation --output text"}
	if got := n.called(t); !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), want[0])
	}
	if refused := n.imds.count(func(m *imds) int { return m.noToken }); refused != 0 {
		t.Errorf("%d IMDS reads without an IMDSv2 token", refused)
	}
}

func TestVIPMasterMovesPrivateIP(t *testing.T) {
	n := newNode(t, "EIP_ALLOCATION_ID=\nPRIVATE_VIP=10.0.1.50\n")
	if code, out := n.run(t, "vip.sh", "master"); code != 0 {
		t.Fatalf("vip.sh master: exit %d\n%s", code, out)
	}
	want := []string{"aws ec2 assign-private-ip-addresses --region eu-west-1 --network-interface-id eni-0abc --private-ip-addresses 10.0.1.50 --allow-reassignment"}
	if got := n.called(t); !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), want[0])
	}
}

// A throttled or failing API call is tried again, 5 times in all.
func TestVIPMasterRetries(t *testing.T) {
	n := newNode(t, eipSettings)
	n.answer(t, "aws-ec2-associate-address", "", 2)
	if code, out := n.run(t, "vip.sh", "master"); code != 0 {
		t.Fatalf("vip.sh master after 2 failures: exit %d\n%s", code, out)
	}
	if got := len(n.called(t)); got != 3 {
		t.Errorf("%d calls, want 3 (2 failed, 1 ok)", got)
	}

	n = newNode(t, eipSettings)
	n.answer(t, "aws-ec2-associate-address", "", 100)
	code, out := n.run(t, "vip.sh", "master")
	if code == 0 {
		t.Errorf("vip.sh master exited 0 though every call failed\n%s", out)
	}
	if got := len(n.called(t)); got != 5 {
		t.Errorf("%d calls, want 5 tries", got)
	}
	if !strings.Contains(out, "gave up after 5 tries") {
		t.Errorf("no word of giving up:\n%s", out)
	}
}

func TestVIPBackupAndFaultCallNothing(t *testing.T) {
	for _, state := range []string{"backup", "fault", "stop"} {
		n := newNode(t, eipSettings)
		if code, out := n.run(t, "vip.sh", state); code != 0 {
			t.Errorf("vip.sh %s: exit %d\n%s", state, code, out)
		}
		if got := n.called(t); len(got) != 0 {
			t.Errorf("vip.sh %s called %v", state, got)
		}
	}
}

// Without IMDS there is no instance id: no call, and a non-zero exit.
func TestVIPMasterWithoutIMDS(t *testing.T) {
	n := newNode(t, eipSettings)
	n.imds.url = "http://127.0.0.1:1"
	code, out := n.run(t, "vip.sh", "master")
	if code == 0 || len(n.called(t)) != 0 {
		t.Errorf("exit %d, calls %v; want a failure and no call\n%s", code, n.called(t), out)
	}
}

// spot-watch.sh polls, does nothing while there is no notice (a token that
// expires is renewed), and hands over exactly once when it comes.
func TestSpotWatchHandsOverOnNotice(t *testing.T) {
	n := newNode(t, eipSettings+"SPOT_POLL_INTERVAL=0.1\n")
	cmd := n.command("spot-watch.sh")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	polls := func(m *imds) int { return m.gets["meta-data/spot/instance-action"] }
	waitUntil(t, "3 polls", func() bool { return n.imds.count(polls) >= 3 })
	n.imds.set(func(m *imds) { m.token = "token-2" }) // the old one expires
	before := n.imds.count(polls)
	waitUntil(t, "polls with a renewed token", func() bool { return n.imds.count(polls) >= before+2 })
	if tokens := n.imds.count(func(m *imds) int { return m.tokens }); tokens < 2 {
		t.Errorf("%d tokens fetched, want a new one after the old expired", tokens)
	}
	if got := n.called(t); len(got) != 0 {
		t.Fatalf("handed over with no notice: %v", got)
	}

	n.imds.set(func(m *imds) { m.spotNote = `{"action": "terminate", "time": "2026-11-30T21:00:00Z"}` })
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("spot-watch.sh: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("spot-watch.sh did not hand over within 20s of the notice\n%s", out.String())
	}
	if got := n.called(t); !slices.Equal(got, []string{"systemctl stop keepalived"}) {
		t.Errorf("calls %v, want one systemctl stop keepalived", got)
	}
	if !strings.Contains(out.String(), `"action": "terminate"`) {
		t.Errorf("the notice is not logged:\n%s", out.String())
	}
}

// peers.sh writes keepalived.conf with the other InService instance as
// unicast peer, which real keepalived accepts (keepalived -t), and reloads
// keepalived only when the file changed.
func TestPeersWritesKeepalivedConf(t *testing.T) {
	keepalived := testenv.Require(t, "keepalived", "/usr/sbin/keepalived")
	dev := nicName(t)
	n := newNode(t, eipSettings+"VIP_DEVICE="+dev+"\n")
	conf := filepath.Join(n.dir, "keepalived.conf")
	write(t, n.env, eipSettings+"VIP_DEVICE="+dev+"\nKEEPALIVED_CONF="+conf+"\n")
	n.answer(t, "aws-autoscaling-describe-auto-scaling-instances", "lb-asg\n", 0)
	n.answer(t, "aws-autoscaling-describe-auto-scaling-groups", "i-0123\ti-0456\n", 1) // one throttled call
	n.answer(t, "aws-ec2-describe-instances", "10.0.2.7\n", 0)

	peers := func() string {
		t.Helper()
		if code, out := n.run(t, "peers.sh"); code != 0 {
			t.Fatalf("peers.sh: exit %d\n%s", code, out)
		}
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(keepalived, "-t", "-f", conf).CombinedOutput(); err != nil {
			t.Errorf("keepalived -t rejects the written config: %v\n%s\n%s", err, out, b)
		}
		return string(b)
	}
	reloads := func() int {
		return strings.Count(strings.Join(n.called(t), "\n"), "systemctl reload-or-restart keepalived")
	}

	got := peers()
	lib, _ := filepath.Abs(".")
	for _, want := range []string{
		"unicast_src_ip 10.0.1.5\n", "unicast_peer {\n    10.0.2.7\n  }", "interface " + dev + "\n",
		"127.255.0.51/32 dev lo", `notify_master "` + lib + `/vip.sh master"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, got)
		}
	}
	if regexp.MustCompile(`@[A-Z_]+@`).MatchString(got) {
		t.Errorf("a placeholder is left:\n%s", got)
	}
	wantCalls := "aws autoscaling describe-auto-scaling-groups --region eu-west-1 --auto-scaling-group-names lb-asg"
	if !strings.Contains(strings.Join(n.called(t), "\n"), wantCalls) {
		t.Errorf("no %q in calls %v", wantCalls, n.called(t))
	}
	if r := reloads(); r != 1 {
		t.Errorf("%d reloads after the first write, want 1", r)
	}
	peers()
	if r := reloads(); r != 1 {
		t.Errorf("reloaded although nothing changed (%d reloads)", r)
	}

	// The peer was replaced: a new address, a reload.
	n.answer(t, "aws-autoscaling-describe-auto-scaling-groups", "i-0123\ti-0789\n", 0)
	n.answer(t, "aws-ec2-describe-instances", "10.0.3.9\n", 0)
	if got := peers(); !strings.Contains(got, "unicast_peer {\n    10.0.3.9\n  }") || strings.Contains(got, "10.0.2.7") {
		t.Errorf("the new peer is not the only one:\n%s", got)
	}
	if r := reloads(); r != 2 {
		t.Errorf("%d reloads after the peer changed, want 2", r)
	}

	// The peer is gone, none has come yet: its address stays.
	n.answer(t, "aws-autoscaling-describe-auto-scaling-groups", "i-0123\n", 0)
	if got := peers(); !strings.Contains(got, "unicast_peer {\n    10.0.3.9\n  }") {
		t.Errorf("the last peer was dropped:\n%s", got)
	}
	if r := reloads(); r != 2 {
		t.Errorf("%d reloads after the peer left, want still 2", r)
	}

	// First boot, alone: no unicast_peer block (multicast, which goes nowhere on AWS).
	os.Remove(conf)
	if got := peers(); strings.Contains(got, "unicast_") {
		t.Errorf("unicast settings with no peer:\n%s", got)
	}

	// A secondary private IP is the VIP keepalived holds.
	n.answer(t, "aws-autoscaling-describe-auto-scaling-groups", "i-0123\ti-0789\n", 0)
	write(t, n.env, "EIP_ALLOCATION_ID=\nPRIVATE_VIP=10.0.1.50\nVIP_DEVICE="+dev+"\nKEEPALIVED_CONF="+conf+"\n")
	if got := peers(); !strings.Contains(got, "10.0.1.50/32 dev "+dev) {
		t.Errorf("PRIVATE_VIP is not the virtual_ipaddress:\n%s", got)
	}
}

// user-data.sh carries this folder's files as they are (make-user-data.sh
// was run after the last edit), its settings are node.env.example, and it
// fits AWS's 16 KB limit for user data.
func TestUserDataIsCurrent(t *testing.T) {
	b, err := os.ReadFile("user-data.sh")
	if err != nil {
		t.Fatal(err)
	}
	ud := string(b)
	if len(b) > 16384 {
		t.Errorf("user-data.sh is %d bytes; AWS takes 16384", len(b))
	}
	env, _ := os.ReadFile("node.env.example")
	if !strings.Contains(ud, "<<'ENV'\n"+string(env)+"ENV\n") {
		t.Error("user-data.sh's settings are not node.env.example: run make-user-data.sh > user-data.sh")
	}
	const open = "base64 -d <<'TAR' | tar -xz -C /usr/local/lib/harender-aws\n"
	i, j := strings.Index(ud, open), strings.Index(ud, "\nTAR\n")
	if i < 0 || j < i {
		t.Fatal("no archive in user-data.sh")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(ud[i+len(open):j], "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		packed, _ := io.ReadAll(tr)
		onDisk, err := os.ReadFile(h.Name)
		if err != nil || !bytes.Equal(packed, onDisk) {
			t.Errorf("%s in user-data.sh differs from the file (%v): run make-user-data.sh > user-data.sh", h.Name, err)
		}
	}
	for _, f := range []string{"lib.sh", "vip.sh", "spot-watch.sh", "peers.sh", "setup.sh", "keepalived.conf.tmpl", "harender.hcl"} {
		if !slices.Contains(names, f) {
			t.Errorf("user-data.sh does not carry %s", f)
		}
	}
	for _, f := range append(names, "user-data.sh", "make-user-data.sh") {
		if strings.HasSuffix(f, ".sh") {
			if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", f, err, out)
			}
		}
	}
}

// The harender.hcl setup.sh installs passes harender check.
func TestHarenderConfig(t *testing.T) {
	b, err := os.ReadFile("harender.hcl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.NewReplacer("@SERVICE@", "gateway", "@BIND@", "0.0.0.0:80").Replace(string(b))
	write(t, filepath.Join(dir, "harender.hcl"), cfg)
	bin := filepath.Join(dir, "harender")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/harender").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "check", "--config", filepath.Join(dir, "harender.hcl")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok: 1 template(s)" {
		t.Errorf("harender check: %v\n%s", err, out)
	}
}

// nicName is a network interface keepalived may use (not loopback).
func nicName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	// One that is up and multicasts, as an EC2 instance's: keepalived
	// wants multicast when it has no unicast peer.
	want := net.FlagUp | net.FlagMulticast
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && i.Flags&want == want {
			return i.Name
		}
	}
	t.Fatal("no network interface that is up and multicasts; keepalived -t needs one")
	return ""
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// The units setup.sh installs pass systemd-analyze verify (with the
// scripts where this checkout has them).
func TestUnits(t *testing.T) {
	analyze := testenv.Require(t, "systemd-analyze", "/usr/bin/systemd-analyze")
	lib, _ := filepath.Abs(".")
	dir := t.TempDir()
	var paths []string
	for _, u := range []string{"harender-peers.service", "harender-peers.timer", "harender-spot-watch.service"} {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, u)
		write(t, p, strings.ReplaceAll(string(b), "/usr/local/lib/harender-aws", lib))
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
