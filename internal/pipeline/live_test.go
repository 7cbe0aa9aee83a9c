package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

var (
	wsdumpOnce sync.Once
	wsdumpBin  string
	wsdumpErr  error
)

// needLive skips unless live capture can run: root, Linux, tcpdump to
// compile filters.
func needLive(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("captures live: not in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root: run the tests as root to include wsdump -i")
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Skip("live capture tests run on Linux")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed: wsdump compiles capture filters with it")
	}
}

// buildWsdump builds the command once, into a folder every user can read.
func buildWsdump(t *testing.T) string {
	t.Helper()
	wsdumpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsdump-live")
		if err != nil {
			wsdumpErr = err
			return
		}
		os.Chmod(dir, 0o755)
		wsdumpBin = filepath.Join(dir, "wsdump")
		cmd := exec.Command("go", "build", "-o", wsdumpBin, "./cmd/wsdump")
		cmd.Dir = testutil.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			wsdumpErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if wsdumpErr != nil {
		t.Fatal(wsdumpErr)
	}
	return wsdumpBin
}

// liveRun is a running wsdump -i.
type liveRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWsdump runs prefix... wsdump args... and waits until it listens.
func startWsdump(t *testing.T, prefix []string, args ...string) *liveRun {
	t.Helper()
	argv := append(append([]string{}, prefix...), buildWsdump(t))
	argv = append(argv, args...)
	lr := &liveRun{stderr: &lockedBuffer{}, done: make(chan error, 1)}
	lr.cmd = exec.Command(argv[0], argv[1:]...)
	lr.cmd.Stdout = &lr.stdout
	lr.cmd.Stderr = lr.stderr
	if err := lr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { lr.done <- lr.cmd.Wait() }()
	t.Cleanup(func() {
		if lr.cmd.ProcessState == nil {
			lr.cmd.Process.Kill()
			<-lr.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lr.stderr.String(), "listening on") {
		select {
		case err := <-lr.done:
			t.Fatalf("wsdump exited before listening: %v: %s", err, lr.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsdump did not start listening: %s", lr.stderr.String())
		}
	}
	return lr
}

// stop interrupts wsdump as Ctrl-C does and waits for its clean exit.
func (lr *liveRun) stop(t *testing.T) {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last packets
	lr.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-lr.done:
		if err != nil {
			t.Fatalf("wsdump: %v: %s", err, lr.stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("wsdump did not stop within 5s of SIGINT: %s", lr.stderr.String())
	}
}

// textMessage is a data message read back from wsdump's text output.
type textMessage struct {
	fromClient bool
	opcode     string
	length     int
	payload    []byte
}

// parseTextMessages reads the message lines of wsdump -x output and the hex
// dumps after them. serverPort says which side is the client.
func parseTextMessages(t *testing.T, out []byte, serverPort int) []textMessage {
	t.Helper()
	var msgs []textMessage
	cur := -1 // the data message the hex dump lines belong to
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	suffix := ":" + strconv.Itoa(serverPort)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t0x") {
			if cur < 0 {
				continue // the dump of a control frame
			}
			i := strings.Index(line, ": ")
			if i < 0 || len(line) < i+2+40 {
				t.Fatalf("bad hex dump line %q", line)
			}
			b, err := hex.DecodeString(strings.ReplaceAll(line[i+2:i+2+40], " ", ""))
			if err != nil {
				t.Fatalf("hex dump line %q: %v", line, err)
			}
			m := &msgs[cur]
			m.payload = append(m.payload, b...)
			continue
		}
		cur = -1
		f := strings.Fields(line)
		// TIME #ID SRC > DST OPCODE LENGTH ...
		if len(f) < 7 || f[3] != ">" || !strings.HasPrefix(f[1], "#") {
			continue
		}
		switch f[5] {
		case "text", "binary":
		default:
			continue
		}
		n, err := strconv.Atoi(f[6])
		if err != nil {
			t.Fatalf("message line %q: %v", line, err)
		}
		msgs = append(msgs, textMessage{fromClient: strings.HasSuffix(f[4], suffix), opcode: f[5], length: n})
		cur = len(msgs) - 1
	}
	return msgs
}

// checkTextMessages asserts that wsdump printed every message of the script
// in both directions with its exact payload.
func checkTextMessages(t *testing.T, msgs []textMessage, script []peerMessage) {
	t.Helper()
	for _, fromClient := range []bool{true, false} {
		var got []textMessage
		for _, m := range msgs {
			if m.fromClient == fromClient {
				got = append(got, m)
			}
		}
		if len(got) != len(script) {
			t.Errorf("client=%v: wsdump printed %d data messages; the application sent %d", fromClient, len(got), len(script))
			continue
		}
		for i, m := range script {
			op := "text"
			if m.typ == websocket.MessageBinary {
				op = "binary"
			}
			g := got[i]
			if g.opcode != op || g.length != len(m.data) || !bytes.Equal(g.payload, m.data) {
				t.Errorf("client=%v message %d: %s %d bytes (dump %d bytes, equal %v); sent %s of %d bytes",
					fromClient, i, g.opcode, g.length, len(g.payload), bytes.Equal(g.payload, m.data), op, len(m.data))
			}
		}
	}
}

// checkWritten decodes the -w file through the pipeline and checks the
// conversation against the script.
func checkWritten(t *testing.T, path string, script []peerMessage) {
	t.Helper()
	cfg := Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.MaxPayload = 0
	sink, _ := runFile(t, path, cfg)
	ws := sink.wsConvs()
	if len(ws) != 1 {
		t.Fatalf("%s: %d WebSocket conversations; want 1", path, len(ws))
	}
	checkPeerConversation(t, ws[0], script)
}

// TestLiveLoopback runs wsdump -i lo with a port filter while a real client
// and server talk on loopback.
func TestLiveLoopback(t *testing.T) {
	needLive(t)
	port := testutil.StartEchoServer(t, nil)
	dir := t.TempDir()
	for _, name := range []string{"lo.pcap", "lo.pcapng"} {
		t.Run(name, func(t *testing.T) {
			wfile := filepath.Join(dir, name)
			lr := startWsdump(t, nil, "-i", "lo", "-x", "--max-payload", "0", "-w", wfile, "tcp", "port", strconv.Itoa(port))
			script := peerScript()
			runPeerClient(t, fmt.Sprintf("ws://127.0.0.1:%d/live", port), nil, script)
			lr.stop(t)
			checkTextMessages(t, parseTextMessages(t, lr.stdout.Bytes(), port), script)
			stderr := lr.stderr.String()
			if !strings.Contains(stderr, "1 TCP conversations, 1 WebSocket") || !strings.Contains(stderr, "0 packets dropped by kernel") {
				t.Errorf("summary:\n%s", stderr)
			}
			checkWritten(t, wfile, script)
		})
	}
}

// TestLiveFilterExcludes checks that a filter that excludes the traffic
// yields no conversation, and that an invalid one stops wsdump with
// tcpdump's message and status 2.
func TestLiveFilterExcludes(t *testing.T) {
	needLive(t)
	port := testutil.StartEchoServer(t, nil)
	lr := startWsdump(t, nil, "-i", "lo", "tcp", "port", strconv.Itoa(port+1))
	runPeerClient(t, fmt.Sprintf("ws://127.0.0.1:%d/", port), nil, peerScript()[:2])
	lr.stop(t)
	if lr.stdout.Len() != 0 {
		t.Errorf("output for excluded traffic: %q", lr.stdout.String())
	}
	if s := lr.stderr.String(); !strings.Contains(s, "0 packets captured") || !strings.Contains(s, "0 TCP conversations") {
		t.Errorf("summary:\n%s", s)
	}

	cmd := exec.Command(buildWsdump(t), "-i", "lo", "tcp", "port")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "can't parse filter expression: syntax error") {
		t.Errorf("invalid filter: %v: %s; want status 2 and tcpdump's message", err, out)
	}
}

// TestLivePeerHelper is the client and server of TestLiveNetns, run inside
// the namespace by re-executing the test binary.
func TestLivePeerHelper(t *testing.T) {
	addr := os.Getenv("WSDUMP_LIVE_PEER")
	if addr == "" {
		t.Skip("runs only as the helper process of TestLiveNetns")
	}
	port := testutil.StartEchoServer(t, nil)
	fmt.Fprintf(os.Stderr, "port %d\n", port)
	runPeerClient(t, fmt.Sprintf("ws://127.0.0.1:%d/netns", port), nil, peerScript())
}

// TestLiveNetns does what TestLiveLoopback does inside a network namespace
// whose loopback has an MTU of 1500, so that frames span segments.
func TestLiveNetns(t *testing.T) {
	needLive(t)
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip (iproute2) is not installed: the network namespace test needs it")
	}
	ns := fmt.Sprintf("wsdtest%d", os.Getpid())
	if out, err := exec.Command(ipBin, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ipBin, "netns", "delete", ns).Run() })
	if out, err := exec.Command(ipBin, "netns", "exec", ns, ipBin, "link", "set", "lo", "up", "mtu", "1500").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up mtu 1500: %v: %s", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in := []string{ipBin, "netns", "exec", ns}
	wfile := filepath.Join(t.TempDir(), "netns.pcapng")
	// Nothing else runs in the fresh namespace, and the helper's server
	// gets its port from the kernel: capture all of TCP.
	lr := startWsdump(t, in, "-i", "lo", "-x", "--max-payload", "0", "-w", wfile, "tcp")
	helper := exec.Command(in[0], append(in[1:], exe, "-test.run=^TestLivePeerHelper$", "-test.v")...)
	helper.Env = append(os.Environ(), "WSDUMP_LIVE_PEER=1")
	var hout bytes.Buffer
	helper.Stdout = &hout
	helper.Stderr = &hout
	if err := helper.Run(); err != nil {
		t.Fatalf("helper: %v: %s", err, hout.String())
	}
	var port int
	for _, l := range strings.Split(hout.String(), "\n") {
		if _, err := fmt.Sscanf(l, "port %d", &port); err == nil {
			break
		}
	}
	if port == 0 {
		t.Fatalf("helper did not say its port: %s", hout.String())
	}
	lr.stop(t)
	script := peerScript()
	checkTextMessages(t, parseTextMessages(t, lr.stdout.Bytes(), port), script)
	checkWritten(t, wfile, script)
	// With an MTU of 1500 the 300 kB message took many segments.
	if st := lr.stderr.String(); !strings.Contains(st, "1 TCP conversations, 1 WebSocket") {
		t.Errorf("summary:\n%s", st)
	}
	f, err := os.Open(wfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, _ := io.Copy(io.Discard, f); n < 1_000_000 {
		t.Errorf("the -w file holds %d bytes; the traffic was over 1 MB", n)
	}
}

// TestLiveLoad sends small messages over loopback as fast as one client can
// for two seconds while wsdump -q captures them, and logs the rate it kept
// up with and the kernel's drops. Run with -v to see the figures.
func TestLiveLoad(t *testing.T) {
	needLive(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	lr := startWsdump(t, nil, "-i", "lo", "-q", "tcp", "port", strconv.Itoa(port))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("x"), 64)
	start := time.Now()
	sent := 0
	for time.Since(start) < 2*time.Second {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	elapsed := time.Since(start)
	c.Close(websocket.StatusNormalClosure, "")
	lr.stop(t)
	st := lr.stderr.String()
	var msgs, captured, dropped int
	for _, l := range strings.Split(st, "\n") {
		if strings.HasSuffix(l, " packets captured") {
			fmt.Sscanf(l, "%d", &captured)
		}
		if strings.HasSuffix(l, " packets dropped by kernel") {
			fmt.Sscanf(l, "%d", &dropped)
		}
		if i := strings.Index(l, " handshakes, "); i >= 0 {
			fmt.Sscanf(l[i+len(" handshakes, "):], "%d messages", &msgs)
		}
	}
	t.Logf("sent %d messages of 64 bytes in %v (%.0f/s); wsdump decoded %d messages from %d packets, kernel dropped %d",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), msgs, captured, dropped)
	// The client's messages plus the close frames of both sides.
	if dropped == 0 && msgs < sent {
		t.Errorf("no kernel drops, yet %d of %d messages decoded:\n%s", msgs, sent, st)
	}
}
