package pipeline

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// TestDeflateSharedCaptures decodes the compressed captures of other
// analyzers' test suites and checks what those suites expect.
func TestDeflateSharedCaptures(t *testing.T) {
	dir := testutil.SharedDir(t)
	one := func(t *testing.T, rel string) *recConv {
		t.Helper()
		sink, _ := runFile(t, filepath.Join(dir, rel), Config{})
		ws := sink.wsConvs()
		if len(ws) != 1 {
			t.Fatalf("%s: %d WebSocket conversations; want 1\n%s", rel, len(ws), sink.dump())
		}
		c := ws[0]
		if c.handshakes[0].Deflate == nil {
			t.Fatalf("%s: no compression negotiated", rel)
		}
		for _, m := range c.messages {
			if m.Compressed && (!m.Inflated || m.InflateErr != "") {
				t.Errorf("%s: %s message %d not inflated: %q", rel, m.Dir, m.Index, m.InflateErr)
			}
		}
		if len(c.violations) != 0 {
			t.Errorf("%s: violations %q", rel, c.codes())
		}
		return c
	}

	t.Run("suricata-verify/websocket-compressed", func(t *testing.T) {
		c := one(t, "suricata-verify/websocket-compressed/example_websocket.pcap")
		found, compressed := 0, 0
		for _, m := range c.messages {
			if m.Compressed {
				compressed++
			}
			if bytes.Contains(m.Payload, []byte("TOGGLE=5659131662f54334")) {
				found++
			}
		}
		if compressed != 10 || found != 1 {
			t.Errorf("%d compressed messages, %d holding TOGGLE=5659131662f54334; want 10 and 1", compressed, found)
		}
	})

	for _, name := range []string{"websocket-compressed.pcapng.gz", "websocket-compressed-fragmented.pcapng.gz", "websocket-compressed-server-only.pcap"} {
		t.Run("wireshark/"+name, func(t *testing.T) {
			c := one(t, "wireshark/"+name)
			want := followHexPayloads(t, filepath.Join(dir, "wireshark/expected", name+".follow_websocket_hex_0.txt"))
			// tshark's follow output runs the payloads of one direction
			// together until the other direction speaks: do the same.
			var got []string
			last := ""
			compressed, fragmented := 0, 0
			for _, m := range c.messages {
				if m.Compressed {
					compressed++
					if m.Frames > 1 {
						fragmented++
					}
				}
				if d := m.Dir.String(); d == last {
					got[len(got)-1] += string(m.Payload)
				} else {
					got = append(got, d+" "+string(m.Payload))
					last = d
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("messages\n%q\nwant\n%q", got, want)
			}
			switch name {
			case "websocket-compressed-server-only.pcap":
				var server []string
				for _, m := range c.messages {
					if m.Dir == dissect.FromServer && m.Opcode == dissect.OpText {
						server = append(server, string(m.Payload))
						if !m.Compressed {
							t.Errorf("server message %q not compressed on the wire", m.Payload)
						}
					}
				}
				var wantServer []string
				for i := range 10 {
					wantServer = append(wantServer, "pong: from client.. "+strconv.Itoa(i))
				}
				if !slices.Equal(server, wantServer) {
					t.Errorf("server messages %q; want %q", server, wantServer)
				}
			case "websocket-compressed-fragmented.pcapng.gz":
				if fragmented == 0 {
					t.Errorf("no fragmented compressed message")
				}
			}
			if compressed == 0 {
				t.Errorf("no compressed message")
			}
		})
	}
}

// deflatePeerScript sends messages that exercise compression: repeated
// text (context takeover pays off), small messages below the compression
// threshold, fragmented compressed messages and incompressible binary.
func deflatePeerScript() []peerMessage {
	script := peerScript()
	for i := range 6 {
		script = append(script, peerMessage{typ: websocket.MessageText, data: []byte(strings.Repeat(fmt.Sprintf(`{"n":%d,"text":"the same words again and again"}`, i), 40))})
	}
	script = append(script,
		peerMessage{typ: websocket.MessageText, data: []byte("tiny")},
		peerMessage{typ: websocket.MessageText, data: bytes.Repeat([]byte("fragmented and compressed "), 3000), parts: 5},
		peerMessage{typ: websocket.MessageText, data: []byte("tiny again")},
	)
	return script
}

// TestDeflateRealPeers captures a coder/websocket client and server with
// permessage-deflate on loopback, in each compression mode, and checks
// every inflated message against what the applications sent.
func TestDeflateRealPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("captures real peers: not in -short mode")
	}
	for _, tc := range []struct {
		name           string
		server, client websocket.CompressionMode
		// wantNoTakeover is the negotiated NoContextTakeover, by direction:
		// coder/websocket turns takeover off both ways when either side
		// asks for it.
		wantNoTakeover [2]bool
	}{
		{"takeover-both", websocket.CompressionContextTakeover, websocket.CompressionContextTakeover, [2]bool{false, false}},
		{"no-takeover-both", websocket.CompressionNoContextTakeover, websocket.CompressionNoContextTakeover, [2]bool{true, true}},
		{"no-takeover-client-offer", websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover, [2]bool{true, true}},
		{"no-takeover-server", websocket.CompressionNoContextTakeover, websocket.CompressionContextTakeover, [2]bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := testutil.StartEchoServer(t, &websocket.AcceptOptions{CompressionMode: tc.server, CompressionThreshold: 64})
			td := testutil.StartTcpdump(t, "lo", "tcp port "+strconv.Itoa(port))
			script := deflatePeerScript()
			runPeerClient(t, fmt.Sprintf("ws://127.0.0.1:%d/", port), &websocket.DialOptions{CompressionMode: tc.client, CompressionThreshold: 64}, script)
			path := td.Stop(t)

			cfg := Config{Dissect: dissect.DefaultConfig()}
			cfg.Dissect.MaxPayload = 0
			sink, _ := runFile(t, path, cfg)
			ws := sink.wsConvs()
			if len(ws) != 1 {
				t.Fatalf("%d WebSocket conversations; want 1", len(ws))
			}
			c := ws[0]
			h := c.handshakes[0]
			if h.Deflate == nil {
				t.Fatalf("no compression negotiated: %+v", h.AcceptedExtensions)
			}
			if h.Deflate.NoContextTakeover != tc.wantNoTakeover {
				t.Errorf("negotiated %+v; want no_context_takeover %v", *h.Deflate, tc.wantNoTakeover)
			}
			checkPeerConversation(t, c, script)
			var plain, compressed, inflated [2]int
			for _, m := range c.messages {
				if m.Opcode.IsControl() {
					continue
				}
				switch {
				case !m.Compressed:
					plain[m.Dir]++
				case m.Inflated && m.InflateErr == "":
					inflated[m.Dir]++
					compressed[m.Dir]++
				default:
					compressed[m.Dir]++
				}
			}
			for d := range 2 {
				if compressed[d] == 0 || inflated[d] != compressed[d] || plain[d] == 0 {
					t.Errorf("%s: %d compressed, %d inflated, %d plain messages", dissect.Direction(d), compressed[d], inflated[d], plain[d])
				}
				st := c.summary.Stats[d]
				if st.Compressed == 0 || st.Inflated <= st.Compressed {
					t.Errorf("%s: stats compressed %d inflated %d", dissect.Direction(d), st.Compressed, st.Inflated)
				}
			}
		})
	}
}
