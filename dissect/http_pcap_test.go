package dissect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sharedPcaps is the folder of captures from other analyzers' test suites,
// next to the repository.
var sharedPcaps = filepath.Join("..", "..", "shared", "pcaps")

// followTCP returns the TCP payload segments of stream 0 of a capture, in
// capture order, as tshark's "follow,tcp,raw" reports them; side 0 is the
// endpoint tshark lists first (the one that sent the first packet).
func followTCP(t *testing.T, pcap string) []seg {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: cannot extract TCP streams from captures")
	}
	out, err := exec.Command(tshark, "-r", pcap, "-q", "-z", "follow,tcp,raw,0").Output()
	if err != nil {
		t.Fatalf("tshark on %s: %v", pcap, err)
	}
	var segs []seg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	inData := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Node 1:"):
			inData = true
			continue
		case strings.HasPrefix(line, "====="):
			inData = false
			continue
		case !inData || line == "":
			continue
		}
		side := 0
		if strings.HasPrefix(line, "\t") {
			side = 1
		}
		b, err := hex.DecodeString(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("tshark output line %q: %v", line, err)
		}
		segs = append(segs, seg{side, string(b)})
	}
	if len(segs) == 0 {
		t.Fatalf("no TCP payload in stream 0 of %s", pcap)
	}
	return segs
}

// Handshakes of real captures, with what Zeek's baselines (websocket.log,
// see the README of the captures folder) say about them.
func TestCaptureHandshakes(t *testing.T) {
	if _, err := os.Stat(sharedPcaps); err != nil {
		t.Skipf("captures folder %s not present: %v", sharedPcaps, err)
	}
	for _, tc := range []struct {
		file          string
		host, uri, ua string
		key, accept   string
		offeredProto  string
		proto         string
		offeredExt    string
		violations    string
		first         [2]byte // first byte of the first frame of each side
	}{
		{"zeek/broker-websocket.pcap", "localhost:27599", "/v1/messages/json", "Python/3.10 websockets/12.0",
			"E58pVwft35HPkD/MFCjtEA==", "HxOmr1a2nvOOc4Qiv7Ou3wrCsJc=", "", "", "permessage-deflate;client_max_window_bits", "", [2]byte{0x81, 0x81}},
		{"zeek/jupyter-websocket.pcap", "192.168.122.182", "", "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/118.0",
			"7K5Qx7HwJUsja5KzBhGvfQ==", "USseDip1PofjB67M6I5CNkbYbp0=", "v1.kernel.websocket.jupyter.org", "v1.kernel.websocket.jupyter.org", "permessage-deflate", "", [2]byte{0x82, 0x82}},
		{"zeek/wstunnel-http.pcap", "localhost:8888", "/v1/events", "",
			"", "", "v1|authorization.bearer.", "v1", "", "", [2]byte{0x82, 0x82}},
		{"zeek/wrong-accept-header.pcap", "localhost:8080", "/", "Python/3.10 websockets/12.0",
			"VMueuJIhu60C0hDKL+vS6g==", "N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong", "v1", "v1", "permessage-deflate;client_max_window_bits", "ws.accept_mismatch", [2]byte{0, 0x89}},
		{"zeek/reply-ping-coalesced.pcap", "localhost:8080", "/", "",
			"", "", "", "", "", "", [2]byte{0x8a, 0x89}},
		{"zeek/http-websocket.pcap", "sandbox.kaazing.net", "/echo?.kl=Y", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:54.0) Gecko/20100101 Firefox/54.0",
			"vf3bSlxjI9R5oosJfwM/8Q==", "0Zl6vr6NCtorAnmvFsy68nbStvE=", "x-kaazing-handshake", "x-kaazing-handshake", "permessage-deflate", "", [2]byte{0x81, 0x82}},
		{"suricata-verify/websocket-control-frag/input.pcap", "example.com", "/chat", "",
			"c3VyaWNhdGEtdGVzdC1rZXkh", "i/Zf3S99/cVt3n5lmMrHSsr5Kqk=", "", "", "", "ws.bad_key", [2]byte{0x01, 0x8a}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			segs := followTCP(t, filepath.Join(sharedPcaps, tc.file))
			d := play(nil, segs, whole)
			if len(d.hs) != 1 {
				t.Fatalf("got %d handshakes; want 1 (events %v)", len(d.hs), d.events)
			}
			h := d.hs[0]
			if !h.Upgraded || h.Protocol != ProtoRFC6455 {
				t.Errorf("Upgraded=%v Protocol=%s; want true rfc6455", h.Upgraded, h.Protocol)
			}
			if c, _ := d.p.clientSide(); c != 0 {
				t.Errorf("client side %d; want 0", c)
			}
			check := func(name, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s: got %q; want %q", name, got, want)
				}
			}
			check("Host", h.Host, tc.host)
			check("URI", h.Request.URI, tc.uri)
			check("User-Agent", h.UserAgent, tc.ua)
			check("Key", h.Key, tc.key)
			check("Accept", h.Accept, tc.accept)
			check("Subprotocol", h.Subprotocol, tc.proto)
			check("Extensions", fmtExts(h.OfferedExtensions), tc.offeredExt)
			if offered := strings.Join(h.OfferedSubprotocols, "|"); !strings.HasPrefix(offered, tc.offeredProto) {
				t.Errorf("offered subprotocols %q; want prefix %q", offered, tc.offeredProto)
			}
			if h.Key != "" && !h.AcceptValid && tc.violations != "ws.accept_mismatch" {
				t.Errorf("Accept %q not valid for key %q", h.Accept, h.Key)
			}
			if got := strings.Join(d.codes(), " "); got != tc.violations {
				t.Errorf("violations %q; want %q", got, tc.violations)
			}
			if h.Deflate != nil {
				t.Errorf("Deflate %+v; none was accepted", *h.Deflate)
			}
			for s := 0; s < 2; s++ {
				var got byte
				if len(d.frames[s]) > 0 {
					got = d.frames[s][0]
				}
				if got != tc.first[s] {
					t.Errorf("side %d: first frame byte %#x; want %#x", s, got, tc.first[s])
				}
			}
			// Split anywhere, the same comes out.
			if got, want := play(nil, segs, byteByByte).summary(), d.summary(); got != want {
				t.Errorf("byte by byte differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// Suricata's negative case: an upgrade request never answered.
func TestCaptureUnanswered(t *testing.T) {
	f := filepath.Join(sharedPcaps, "suricata-verify", "http-request-header-multi", "input.pcap")
	if _, err := os.Stat(f); err != nil {
		t.Skipf("capture %s not present: %v", f, err)
	}
	d := play(nil, followTCP(t, f), whole)
	if len(d.hs) != 1 || d.hs[0].Response != nil || d.hs[0].Upgraded || d.p.upgraded(0) {
		t.Fatalf("got %v; want one unanswered handshake", d.events)
	}
	if got := strings.Join(d.codes(), " "); got != "ws.upgrade_not_answered" {
		t.Errorf("violations %q; want ws.upgrade_not_answered", got)
	}
	if h := d.hs[0]; h.Key != "d+6fZ7D9YNUakDccr9olWw==" || h.UserAgent != "Go-http-client/1.1" || len(h.Request.Headers) != 8 {
		t.Errorf("request: key %q UA %q %d headers", h.Key, h.UserAgent, len(h.Request.Headers))
	}
}
