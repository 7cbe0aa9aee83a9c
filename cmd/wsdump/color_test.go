package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

// colourSequences are the only escape sequences the text output may hold.
var colourSequences = []string{"\x1b[0m", "\x1b[36m", "\x1b[33m", "\x1b[1;31m", "\x1b[32m", "\x1b[2m"}

func stripColour(s string) string {
	for _, c := range colourSequences {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

func TestColorAlways(t *testing.T) {
	stdout, _, err := runInProcess(t, nil, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"), "--utc", "--color=always")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(stdout)
	for i, want := range map[int]string{
		0: "12:00:00.003000 #1 \x1b[36m192.0.2.10:50000 > 198.51.100.20:80\x1b[0m \x1b[32mhandshake rfc6455\x1b[0m GET /chat host=198.51.100.20:80 -> 101 Switching Protocols accept=ok",
		2: "12:00:00.006000 #1 \x1b[33m198.51.100.20:80 > 192.0.2.10:50000\x1b[0m text 13 \"Hello, client\"",
	} {
		if got[i] != want {
			t.Errorf("line %d:\ngot:  %q\nwant: %q", i+1, got[i], want)
		}
	}
	// Without its colours the output is the plain one.
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "ws-ethernet-ipv4.pcap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if plain := stripColour(stdout); plain != string(golden) {
		t.Errorf("--color=always without its colour sequences:\n%s\nwant the plain output:\n%s", plain, golden)
	}
}

func TestColorOffForNonTerminals(t *testing.T) {
	demo := demoCapture(t, "ws-ethernet-ipv4.pcap")
	for _, args := range [][]string{{}, {"--color=auto"}, {"--color", "auto"}, {"--color=never"}} {
		stdout, _, err := runInProcess(t, nil, append([]string{"-r", demo, "-v"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout, "\x1b") {
			t.Errorf("%q into a buffer: output holds escape sequences", args)
		}
		if len(args) > 0 && args[0] != "--color=auto" {
			continue
		}
		// The real command with a pipe as stdout, with and without NO_COLOR.
		for _, env := range [][]string{nil, {"NO_COLOR=1"}} {
			stdout, stderr, code := runBinary(t, nil, env, append([]string{"-r", demo, "-v"}, args...)...)
			if code != 0 {
				t.Fatalf("exit status %d: %s", code, stderr)
			}
			if strings.Contains(stdout, "\x1b") || !strings.Contains(stdout, " handshake rfc6455 ") {
				t.Errorf("%q %q into a pipe: colour sequences, or no output:\n%s", env, args, stdout)
			}
		}
	}
}

// NO_COLOR turns colour off for --color=auto even on a terminal;
// --color=always overrides it.
func TestColorNoColorEnv(t *testing.T) {
	dev := openPTY(t)
	if !isTerminal(dev) {
		t.Fatalf("the pseudo-terminal %s is not taken for a terminal", dev.Name())
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "NO_COLOR" {
				return v
			}
			return ""
		}
	}
	demo := demoCapture(t, "ws-ethernet-ipv4.pcap")
	for _, c := range []struct {
		noColor, when string
		want          bool
	}{
		{"", "auto", true},
		{"1", "auto", false},
		{"1", "always", true},
		{"", "never", false},
	} {
		cfg, err := parseArgs([]string{"-r", demo, "--color=" + c.when}, dev, env(c.noColor))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.color != c.want {
			t.Errorf("NO_COLOR=%q --color=%s on a terminal: colour %v, want %v", c.noColor, c.when, cfg.color, c.want)
		}
		var out bytes.Buffer
		if err := run(t.Context(), cfg, nil, &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(out.String(), "\x1b["); has != c.want {
			t.Errorf("NO_COLOR=%q --color=%s: escape sequences in the output %v, want %v", c.noColor, c.when, has, c.want)
		}
	}
}

// hostileCapture writes a conversation whose payloads, close reason and
// handshake header carry terminal escape sequences.
func hostileCapture(t *testing.T) string {
	t.Helper()
	k := pcaptest.NewConn(
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 41000},
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.2"), Port: 8080})
	k.Handshake()
	k.Send(true, pcaptest.UpgradeRequest("192.0.2.2:8080", "/x", pcaptest.DemoKey, "X-Evil: \x1b[41mred\x1b[0m"))
	k.Send(false, pcaptest.UpgradeResponse(pcaptest.DemoKey))
	k.Send(true, pcaptest.ClientFrame(pcaptest.OpText, []byte("\x1b[2J\x1b]0;owned\x07 hi"), pcaptest.DemoMask))
	k.Send(false, pcaptest.ServerFrame(pcaptest.OpBinary, []byte("\x1b[31m")))
	k.Send(false, pcaptest.ServerFrame(pcaptest.OpClose, pcaptest.ClosePayload(1000, "\x1b[31mbye")))
	k.Send(true, pcaptest.ClientFrame(pcaptest.OpClose, pcaptest.ClosePayload(1000, ""), pcaptest.DemoMask))
	k.Close()
	var b bytes.Buffer
	if err := k.Capture().WritePcap(&b, pcaptest.LinkEthernet, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Bytes from the wire never reach the terminal raw, colour or not.
func TestEscapesFromTheWire(t *testing.T) {
	path := hostileCapture(t)
	for _, colour := range []string{"--color=always", "--color=never"} {
		stdout, _, err := runInProcess(t, nil, "-r", path, "--utc", "-v", "-x", colour)
		if err != nil {
			t.Fatal(err)
		}
		plain := stripColour(stdout)
		if i := strings.IndexAny(plain, "\x1b\x07"); i >= 0 {
			t.Errorf("%s: a raw control character from the wire at byte %d:\n%q", colour, i, plain)
		}
		for _, want := range []string{
			"  > X-Evil: \\e[41mred\\e[0m\n",
			` text 17 "\e[2J\e]0;owned\x07 hi"` + "\n",
			" binary 5 0x1b5b33316d\n",
			"\t0x0000:  1b5b 3331 6d                             .[31m\n",
			` close 10 1000 normal "\e[31mbye"` + "\n",
		} {
			if !strings.Contains(plain, want) {
				t.Errorf("%s: output does not contain %q:\n%s", colour, want, plain)
			}
		}
	}
}

func TestCount(t *testing.T) {
	demo := demoCapture(t, "ws-ethernet-ipv4.pcap")
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "ws-ethernet-ipv4.pcap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := lines(string(golden))

	// Packets 1-9 end with the ACK after the server's binary message.
	stdout, stderr, err := runInProcess(t, nil, "-r", demo, "--utc", "-c", "9")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(stdout)
	if len(got) != 5 {
		t.Fatalf("-c 9: %d lines, want 5:\n%s", len(got), stdout)
	}
	for i := 0; i < 4; i++ {
		if got[i] != want[i] {
			t.Errorf("-c 9 line %d:\ngot:  %s\nwant: %s", i+1, got[i], want[i])
		}
	}
	if w := "12:00:00.008000 #1 192.0.2.10:50000 > 198.51.100.20:80 end rfc6455 /chat dur=8.000ms"; !strings.HasPrefix(got[4], w) || !strings.HasSuffix(got[4], " tcp=open") {
		t.Errorf("-c 9 last line %q, want the end of the open conversation at packet 9", got[4])
	}
	if !strings.HasPrefix(stderr, "9 packets read, 9 TCP segments decoded\n") {
		t.Errorf("-c 9 stderr %q", stderr)
	}

	// One packet (the SYN) is no WebSocket yet: nothing to print.
	stdout, stderr, err = runInProcess(t, nil, "-r", demo, "--utc", "-c", "1")
	if err != nil || stdout != "" || !strings.HasPrefix(stderr, "1 packets read,") {
		t.Errorf("-c 1: err %v, stdout %q, stderr %q; want no error, nothing, 1 packet", err, stdout, stderr)
	}

	// More than the capture holds: everything.
	stdout, _, err = runInProcess(t, nil, "-r", demo, "--utc", "-c", "1000")
	if err != nil || stdout != string(golden) {
		t.Errorf("-c 1000: err %v, output\n%s\nwant the whole capture's", err, stdout)
	}
}

// A status line without a reason phrase ("HTTP/1.1 101") is shown without a
// trailing blank.
func TestHandshakeWithoutReason(t *testing.T) {
	k := pcaptest.NewConn(
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 41000},
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.2"), Port: 8080})
	k.Handshake()
	k.Send(true, pcaptest.UpgradeRequest("192.0.2.2:8080", "/", pcaptest.DemoKey))
	k.Send(false, []byte("HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		pcaptest.AcceptKey(pcaptest.DemoKey)+"\r\nSec-WebSocket-Protocol: chat\r\n\r\n"))
	k.Close()
	var b bytes.Buffer
	if err := k.Capture().WritePcap(&b, pcaptest.LinkEthernet, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "noreason.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runInProcess(t, nil, "-r", path, "--utc")
	if err != nil {
		t.Fatal(err)
	}
	want := "12:00:00.003000 #1 192.0.2.1:41000 > 192.0.2.2:8080 handshake rfc6455 GET / host=192.0.2.2:8080 -> 101 subprotocol=chat accept=ok"
	if got := lines(stdout)[0]; got != want {
		t.Errorf("handshake line:\ngot:  %q\nwant: %q", got, want)
	}
}
