package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/internal/testutil"
)

// outputVariants are the option sets every golden capture is shown with;
// the suffix names the golden file.
var outputVariants = []struct {
	suffix string
	args   []string
}{
	{"", nil},
	{".v", []string{"-v"}},
	{".x", []string{"-x"}},
	{".q", []string{"-q"}},
}

// TestGoldenDemoCaptures runs every capture of testdata/pcaps through the
// command and compares the text with testdata/golden/NAME[.v|.x|.q].txt.
func TestGoldenDemoCaptures(t *testing.T) {
	dir := filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.Contains(name, ".pcap")) {
			continue
		}
		n++
		for _, v := range outputVariants {
			t.Run(name+v.suffix, func(t *testing.T) {
				args := append([]string{"-r", filepath.Join(dir, name), "--utc"}, v.args...)
				stdout, stderr, err := runInProcess(t, nil, args...)
				if err != nil {
					t.Fatalf("run: %v\nstderr:\n%s", err, stderr)
				}
				checkGolden(t, filepath.Join("testdata", "golden", name+v.suffix+".txt"), stdout)
			})
		}
	}
	if n < 6 {
		t.Fatalf("found %d captures in %s, want the 6 the README there describes", n, dir)
	}
}

// The demo conversation as the text output must show it; the golden files
// are checked against this once more so that a careless -update cannot
// bless a wrong rendering of it.
func TestGoldenDemoContent(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("testdata", "golden", "ws-ethernet-ipv4.pcap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	const c, s = "192.0.2.10:50000 > 198.51.100.20:80 ", "198.51.100.20:80 > 192.0.2.10:50000 "
	want := []string{
		"12:00:00.003000 #1 " + c + "handshake rfc6455 GET /chat host=198.51.100.20:80 -> 101 Switching Protocols accept=ok",
		"12:00:00.005000 #1 " + c + `text 13 "Hello, server"`,
		"12:00:00.006000 #1 " + s + `text 13 "Hello, client"`,
		"12:00:00.007000 #1 " + s + "binary 300 0x" + hexPattern(40) + "…",
		"12:00:00.009000 #1 " + c + `ping 14 "are you there?"`,
		"12:00:00.010000 #1 " + s + `pong 14 rtt=1.000ms "are you there?"`,
		"12:00:00.012000 #1 " + c + `text 18 frames=2 "fragmented message"`,
		"12:00:00.015000 #1 " + c + "binary 2000 0x" + hexPattern(40) + "…",
		"12:00:00.017000 #1 " + c + `close 5 1000 normal "bye"`,
		"12:00:00.018000 #1 " + s + `close 5 1000 normal "bye"`,
	}
	gl := lines(string(got))
	if len(gl) != len(want)+1 {
		t.Fatalf("golden has %d lines, want %d:\n%s", len(gl), len(want)+1, got)
	}
	for i, w := range want {
		if gl[i] != w {
			t.Errorf("line %d:\ngot:  %s\nwant: %s", i+1, gl[i], w)
		}
	}
	// Payload bytes: client 13+18+2000 data, 14+5 control; server 13+300
	// data, 14+5 control.
	end := gl[len(gl)-1]
	for _, w := range []string{
		"12:00:00.020000 #1 " + c + "end rfc6455 /chat dur=20.000ms",
		"| c>s msgs=3 ctrl=2 payload=2050B ",
		"| s>c msgs=2 ctrl=2 payload=332B ",
		"| close=clean,by=client,c=1000,s=1000 tcp=fin",
	} {
		if !strings.Contains(end, w) {
			t.Errorf("end line %q does not contain %q", end, w)
		}
	}
}

// hexPattern is the hex of the first n bytes of the demo's binary payloads
// (0, 1, 2, ...).
func hexPattern(n int) string {
	var b strings.Builder
	const digits = "0123456789abcdef"
	for i := 0; i < n; i++ {
		b.WriteByte(digits[(i>>4)&0xf])
		b.WriteByte(digits[i&0xf])
	}
	return b.String()
}

// sharedGolden are captures of the shared corpus whose text output is kept
// as golden files, each with its options.
var sharedGolden = []string{
	"zeek/wrong-accept-header.pcap",
	"zeek/two-binary-fragments.pcap",
	"zeek/oversized-close-frame.pcapng",
	"suricata-verify/websocket-ping/input.pcap",
	"suricata-verify/websocket-control-frag/input.pcap",
	"wireshark/websocket.pcapng.gz",
}

// TestGoldenSharedCaptures does the same for a few captures of the shared
// corpus (../shared/pcaps), skipped when it is absent.
func TestGoldenSharedCaptures(t *testing.T) {
	dir := testutil.SharedDir(t)
	for _, rel := range sharedGolden {
		for _, v := range outputVariants {
			if v.suffix == ".q" {
				continue
			}
			t.Run(rel+v.suffix, func(t *testing.T) {
				path := filepath.Join(dir, filepath.FromSlash(rel))
				if _, err := os.Stat(path); err != nil {
					t.Skipf("%s is not in the shared corpus: %v", rel, err)
				}
				args := append([]string{"-r", path, "--utc"}, v.args...)
				stdout, stderr, err := runInProcess(t, nil, args...)
				if err != nil {
					t.Fatalf("run: %v\nstderr:\n%s", err, stderr)
				}
				name := strings.ReplaceAll(rel, "/", "_")
				checkGolden(t, filepath.Join("testdata", "golden", "shared", name+v.suffix+".txt"), stdout)
			})
		}
	}
}

// TestGoldenSharedContent checks the shared goldens against what the
// projects that made the captures expect (see ../shared/pcaps/README.md),
// so that -update cannot bless a wrong decoding.
func TestGoldenSharedContent(t *testing.T) {
	cases := []struct {
		rel  string
		want []string
	}{
		{"zeek/wrong-accept-header.pcap", []string{
			"-> 101 Switching Protocols subprotocol=v1 accept=BAD",
			`VIOLATION ws.accept_mismatch: Sec-WebSocket-Accept "N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong", expected "N8ntNYkX6Qerw4tK3s/CYzpSZNc="`,
			`127.0.0.1:8080 > 127.0.0.1:53654 ping 4 "Zeek"`,
		}},
		{"zeek/two-binary-fragments.pcap", []string{
			`127.0.0.1:8080 > 127.0.0.1:50198 ping 4 "Zeek"`,
			`127.0.0.1:50198 > 127.0.0.1:8080 pong 4 rtt=293.0us "Zeek"`,
			"127.0.0.1:50198 > 127.0.0.1:8080 binary 11 0x" + hexOf("Hello Zeek!"),
			"127.0.0.1:8080 > 127.0.0.1:50198 binary 12 frames=2 0x" + hexOf("Hello there!"),
			"127.0.0.1:50198 > 127.0.0.1:8080 close 2 1000 normal\n",
			"127.0.0.1:8080 > 127.0.0.1:50198 close 2 1000 normal\n",
		}},
		{"zeek/oversized-close-frame.pcapng", []string{
			"VIOLATION ws.control_frame_too_long frame 0",
			`close 258 1000 normal "` + strings.Repeat("C", 80) + `…"`,
		}},
		{"suricata-verify/websocket-ping/input.pcap", []string{
			"127.0.0.1:55371 > 127.0.0.1:10301 VIOLATION ws.client_frame_unmasked frame 0",
			"127.0.0.1:55371 > 127.0.0.1:10301 ping 0\n",
			`127.0.0.1:10301 > 127.0.0.1:55371 text 5 "\"who\""`,
			"127.0.0.1:10301 > 127.0.0.1:55371 pong 0 rtt=",
		}},
		{"suricata-verify/websocket-control-frag/input.pcap", []string{
			`ping 4 "ping"`,
			`text 48 frames=2 "MALWARE_DOWNLOAD cmd.exe /c powershell -enc AAAA"`,
		}},
		{"wireshark/websocket.pcapng.gz", []string{
			`127.0.0.1:44380 > 127.0.0.1:8080 text 48 "{\"type\":\"request\",\"data\":\"1265307447409499018\"}\n"`,
			`127.0.0.1:8080 > 127.0.0.1:44380 text 49 "{\"type\":\"response\",\"data\":\"1030177915652144116\"}\n"`,
			"c>s msgs=4 ctrl=0 payload=192B",
			"s>c msgs=4 ctrl=0 payload=196B",
		}},
	}
	for _, c := range cases {
		path := filepath.Join("testdata", "golden", "shared", strings.ReplaceAll(c.rel, "/", "_")+".txt")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", c.rel, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s does not contain %q", path, w)
			}
		}
	}
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&0xf])
	}
	return b.String()
}
