package pipeline

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

var updateHixie = flag.Bool("update-hixie", false, "rewrite testdata/pcaps/hixie-76-bad-digest.pcap")

// sentMessages is NAME.messages.json beside a hixie capture: what the
// applications said they sent (testdata/pcaps/hixie/messages.js).
type sentMessages struct {
	Conversations []struct {
		Path   string
		Client []sentMessage
		Server []sentMessage
	}
}

type sentMessage struct {
	Type string // "text" or "close"
	Data string
}

func loadSent(t *testing.T, path string) sentMessages {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s sentMessages
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// convByURI finds the conversation whose upgrade request asked for uri.
func convByURI(t *testing.T, s *recSink, uri string) *recConv {
	t.Helper()
	for _, c := range s.convs {
		if len(c.handshakes) > 0 && c.handshakes[0].Request.URI == uri {
			return c
		}
	}
	t.Fatalf("no conversation for %s:\n%s", uri, s.dump())
	return nil
}

// checkSent compares the decoded messages of one direction with what the
// application sent: the same order, types and bytes, nothing cut.
func checkSent(t *testing.T, what string, got []dissect.Message, want []sentMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages decoded, %d sent", what, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		m, w := got[i], want[i]
		switch w.Type {
		case "text":
			if m.Opcode != dissect.OpText || !bytes.Equal(m.Payload, []byte(w.Data)) || m.Truncated || m.Incomplete || !m.ValidUTF8 {
				t.Errorf("%s message %d: got %s len %d truncated=%v incomplete=%v utf8=%v; want text of %d bytes %.40q",
					what, i, m.Opcode, m.Length, m.Truncated, m.Incomplete, m.ValidUTF8, len(w.Data), w.Data)
			}
		case "close":
			if m.Opcode != dissect.OpClose || m.Length != 0 || m.WireLength != 2 {
				t.Errorf("%s message %d: got %s len %d wire %d; want the closing handshake", what, i, m.Opcode, m.Length, m.WireLength)
			}
		default:
			t.Fatalf("%s: unknown type %q in the messages file", what, w.Type)
		}
	}
}

func byDir(ms []dissect.Message, d dissect.Direction) []dissect.Message {
	var out []dissect.Message
	for _, m := range ms {
		if m.Dir == d {
			out = append(out, m)
		}
	}
	return out
}

// The captures of real draft-75/76 peers (websocket-driver and
// Protocol::WebSocket, testdata/pcaps/hixie/gen.sh): every message decoded
// equals what the applications sent.
func TestHixieCapturesMatchSent(t *testing.T) {
	dir := filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps")
	for _, name := range []string{"hixie-76", "hixie-75"} {
		t.Run(name, func(t *testing.T) {
			sink, _ := runFile(t, filepath.Join(dir, name+".pcap"), Config{})
			sent := loadSent(t, filepath.Join(dir, name+".messages.json"))
			if len(sent.Conversations) == 0 || len(sink.convs) != len(sent.Conversations) {
				t.Fatalf("%d conversations sent, %d decoded:\n%s", len(sent.Conversations), len(sink.convs), sink.dump())
			}
			for _, sc := range sent.Conversations {
				c := convByURI(t, sink, sc.Path)
				h := c.handshakes[0]
				if sc.Path == "/refused" {
					if h.Upgraded || h.Response == nil || h.Response.StatusCode != 403 || h.Protocol != dissect.ProtoHixie76 ||
						fmt.Sprint(c.codes()) != "[ws.upgrade_refused]" || len(c.messages) != 0 || c.summary.IsWebSocket {
						t.Errorf("%s: refused handshake recorded as:\n%s", sc.Path, strings.Join(c.log, "\n"))
					}
					continue
				}
				proto := dissect.ProtoHixie76
				if strings.HasPrefix(sc.Path, "/75") {
					proto = dissect.ProtoHixie75
				}
				if !h.Upgraded || h.Protocol != proto || c.summary.Protocol != proto {
					t.Errorf("%s: handshake %s upgraded=%v, summary %s; want %s", sc.Path, h.Protocol, h.Upgraded, c.summary.Protocol, proto)
				}
				if proto == dissect.ProtoHixie76 && (!h.ChallengeValid || len(h.Key3) != 8 || len(h.ChallengeAnswer) != 16) {
					t.Errorf("%s: challenge valid=%v key3 %q answer %q", sc.Path, h.ChallengeValid, h.Key3, h.ChallengeAnswer)
				}
				if len(c.violations) != 0 || len(c.gaps) != 0 {
					t.Errorf("%s: violations %v gaps %v", sc.Path, c.codes(), c.gaps)
				}
				checkSent(t, sc.Path+" client", byDir(c.messages, dissect.FromClient), sc.Client)
				checkSent(t, sc.Path+" server", byDir(c.messages, dissect.FromServer), sc.Server)

				cl := c.summary.Close
				switch sc.Path {
				case "/76-client-close":
					if !cl.Clean || cl.Initiator != dissect.FromClient {
						t.Errorf("%s: close %+v; want clean, by the client", sc.Path, cl)
					}
				case "/76-server-close":
					if !cl.Clean || cl.Initiator != dissect.FromServer {
						t.Errorf("%s: close %+v; want clean, by the server", sc.Path, cl)
					}
				case "/75":
					if cl.Sent[0] || cl.Sent[1] {
						t.Errorf("%s: close %+v; draft 75 has no closing handshake", sc.Path, cl)
					}
				}
				// The longest frames began in one TCP segment and ended in a
				// later one.
				var long int
				for _, f := range c.frames {
					if f.Length > 2000 {
						long++
						if !f.Time.After(f.Start) {
							t.Errorf("%s: %s frame #%d of %d bytes within one segment", sc.Path, f.Dir, f.Index, f.Length)
						}
					}
				}
				if sc.Path != "/76-server-close" && long < 2 {
					t.Errorf("%s: %d long frames", sc.Path, long)
				}
			}
		})
	}
}

// badDigestCapture is a draft-76 conversation whose server answers the
// challenge of the draft's example (§1.3: the answer is "8jKS'y:G*Co,Wxa-")
// with 16 other bytes, then exchanges a message each way and closes.
func badDigestCapture() []byte {
	c := pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.76"), Port: 49876}
	s := pcaptest.Endpoint{IP: netip.MustParseAddr("198.51.100.76"), Port: 80}
	k := pcaptest.NewConn(c, s)
	k.Handshake()
	k.Send(true, []byte("GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\n"+
		"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n^n:ds[4U"))
	k.Send(false, []byte("HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Location: ws://example.com/demo\r\n"+
		"Sec-WebSocket-Protocol: sample\r\n\r\n0123456789abcdef"))
	k.Send(true, []byte("\x00hello\xff"))
	k.Send(false, []byte("\x00world\xff"))
	k.Send(true, []byte("\xff\x00"))
	k.Send(false, []byte("\xff\x00"))
	k.Close()
	var b bytes.Buffer
	if err := k.Capture().WritePcap(&b, pcaptest.LinkEthernet, false); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// A challenge answer that does not match: reported, and the frames that
// follow are still decoded.
func TestHixieBadDigestCapture(t *testing.T) {
	path := filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "hixie-76-bad-digest.pcap")
	data := badDigestCapture()
	if *updateHixie {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
		t.Fatalf("%s is not what badDigestCapture makes now (%v); run go test ./internal/pipeline -run TestHixieBadDigestCapture -update-hixie", path, err)
	}
	sink, _ := runFile(t, path, Config{})
	if len(sink.convs) != 1 {
		t.Fatalf("conversations:\n%s", sink.dump())
	}
	c := sink.convs[0]
	h := c.handshakes[0]
	if h.Protocol != dissect.ProtoHixie76 || h.ChallengeValid || string(h.ChallengeAnswer) != "0123456789abcdef" ||
		string(h.ExpectedResponse) != "8jKS'y:G*Co,Wxa-" {
		t.Errorf("handshake: %s valid=%v answer %q expected %q", h.Protocol, h.ChallengeValid, h.ChallengeAnswer, h.ExpectedResponse)
	}
	if fmt.Sprint(c.codes()) != "[ws.challenge_mismatch]" {
		t.Errorf("violations %v", c.codes())
	}
	var got []string
	for _, m := range c.messages {
		got = append(got, fmt.Sprintf("%s %s %q", m.Dir, m.Opcode, m.Payload))
	}
	want := `[client text "hello" server text "world" client close "" server close ""]`
	if fmt.Sprint(got) != want {
		t.Errorf("messages %v; want %s", got, want)
	}
	if !c.summary.Close.Clean || c.summary.Protocol != dissect.ProtoHixie76 {
		t.Errorf("summary %+v", c.summary)
	}
}
