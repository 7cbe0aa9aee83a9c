//go:build linux && !386 && !libpcap

package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (or CAP_NET_RAW): run the tests as root to include it")
	}
}

// udpPair returns a socket to send from and a listening port on loopback.
func udpPair(t *testing.T) (*net.UDPConn, int) {
	t.Helper()
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.DialUDP("udp4", nil, ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ln.LocalAddr().(*net.UDPAddr).Port
}

// readUntilQuiet reads packets until the source times out, with an overall
// bound, and returns copies of their data.
func readUntilQuiet(t *testing.T, s LiveSource) []Packet {
	t.Helper()
	var got []Packet
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p, err := s.Next()
		if errors.Is(err, ErrTimeout) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		got = append(got, p)
	}
	t.Fatal("the capture never went quiet")
	return nil
}

func TestLiveLoopbackFilter(t *testing.T) {
	needRoot(t)
	needTcpdump(t)
	c, port := udpPair(t)
	other, otherPort := udpPair(t)
	s, err := OpenLive("lo", LiveOptions{Filter: fmt.Sprintf("udp dst port %d", port), Promiscuous: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LinkType() != LinkTypeEthernet || s.Interface() != "lo" || s.SnapLen() != MaxPacketSize {
		t.Errorf("link %s, interface %q, snaplen %d", s.LinkType(), s.Interface(), s.SnapLen())
	}
	start := time.Now()
	const n = 20
	for i := 0; i < n; i++ {
		fmt.Fprintf(c, "datagram %02d", i)
		fmt.Fprintf(other, "excluded %02d to port %d", i, otherPort)
	}
	got := readUntilQuiet(t, s)
	end := time.Now()
	if len(got) != n {
		t.Fatalf("captured %d packets; sent %d that match the filter (loopback must not show each twice)", len(got), n)
	}
	for i, p := range got {
		want := fmt.Sprintf("datagram %02d", i)
		// Ethernet 14 + IPv4 20 + UDP 8 bytes of headers.
		if len(p.Data) != 42+len(want) || string(p.Data[42:]) != want {
			t.Errorf("packet %d: %q; want the payload %q after 42 header bytes", i, p.Data, want)
		}
		if p.CaptureLength != len(p.Data) || p.Length != len(p.Data) || p.LinkType != LinkTypeEthernet {
			t.Errorf("packet %d: caplen %d len %d link %s", i, p.CaptureLength, p.Length, p.LinkType)
		}
		if p.Timestamp.Before(start.Add(-time.Millisecond)) || p.Timestamp.After(end) {
			t.Errorf("packet %d: timestamp %v outside the test's %v..%v", i, p.Timestamp, start, end)
		}
		// The kernel stamps a packet on the CPU that sends it, and the
		// clock read on two CPUs of a virtual machine may differ by some
		// microseconds: in order, give or take that.
		if i > 0 && p.Timestamp.Before(got[i-1].Timestamp.Add(-time.Millisecond)) {
			t.Errorf("packet %d: timestamp goes back by %v", i, got[i-1].Timestamp.Sub(p.Timestamp))
		}
	}
	st := s.Stats()
	if st.Captured != n || !st.KernelDroppedKnown || st.KernelDropped != 0 {
		t.Errorf("stats %+v; want %d captured, none dropped", st, n)
	}
	// A timeout is not sticky, and says the time.
	before := time.Now()
	p, err := s.Next()
	if !errors.Is(err, ErrTimeout) || p.Timestamp.Before(before) || p.Data != nil {
		t.Errorf("quiet link: %v at %v; want ErrTimeout with the current time", err, p.Timestamp)
	}
	fmt.Fprintf(c, "after the timeout")
	p, err = s.Next()
	if err != nil || !bytes.HasSuffix(p.Data, []byte("after the timeout")) {
		t.Errorf("after a timeout: %q, %v", p.Data, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err == nil || errors.Is(err, ErrTimeout) {
		t.Errorf("Next after Close: %v; want an error", err)
	}
}

func TestLiveSnapLen(t *testing.T) {
	needRoot(t)
	needTcpdump(t)
	c, port := udpPair(t)
	s, err := OpenLive("lo", LiveOptions{SnapLen: 100, Filter: fmt.Sprintf("udp dst port %d", port), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Write(bytes.Repeat([]byte("x"), 1000))
	got := readUntilQuiet(t, s)
	if len(got) != 1 || got[0].CaptureLength != 100 || len(got[0].Data) != 100 || got[0].Length != 1042 {
		t.Fatalf("got %d packets; want one of 1042 bytes cut to 100", len(got))
	}
}

func TestLiveWithoutFilterSeesEverything(t *testing.T) {
	needRoot(t)
	c, port := udpPair(t)
	s, err := OpenLive("lo", LiveOptions{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := fmt.Sprintf("unfiltered %d %d", port, time.Now().UnixNano())
	c.Write([]byte(marker))
	found := 0
	for _, p := range readUntilQuiet(t, s) {
		if bytes.HasSuffix(p.Data, []byte(marker)) {
			found++
		}
	}
	if found != 1 {
		t.Errorf("datagram seen %d times; want once", found)
	}
}

func TestLiveErrors(t *testing.T) {
	_, err := OpenLive("wsdump-no-such0", LiveOptions{})
	if !errors.Is(err, ErrNoSuchInterface) || !strings.Contains(err.Error(), `"wsdump-no-such0"`) {
		t.Errorf("unknown interface: %v", err)
	}
	if os.Geteuid() != 0 {
		_, err := OpenLive("lo", LiveOptions{})
		if !errors.Is(err, ErrPermission) {
			t.Errorf("without root: %v; want ErrPermission", err)
		}
		return
	}
	needTcpdump(t)
	_, err = OpenLive("lo", LiveOptions{Filter: "tcp port"})
	if !errors.Is(err, ErrFilter) || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("invalid filter: %v", err)
	}
}

// TestLivePermissionDenied opens lo from a child process that runs as
// nobody, without capabilities.
func TestLivePermissionDenied(t *testing.T) {
	if os.Getenv("WSDUMP_LIVE_PERM_CHILD") == "1" {
		_, err := OpenLive("lo", LiveOptions{})
		fmt.Printf("permission=%v err=%v\n", errors.Is(err, ErrPermission), err)
		return
	}
	needRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary's own folder is private: copy it where nobody can
	// run it.
	dir, err := os.MkdirTemp("", "wsdump-perm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	exe = dir + "/capture.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command(exe, "-test.run=^TestLivePermissionDenied$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSDUMP_LIVE_PERM_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the test binary as nobody here: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "permission=true") {
		t.Errorf("as nobody: %s; want ErrPermission", out)
	}
}
