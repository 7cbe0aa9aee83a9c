package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// peerMessage is one message an application sent.
type peerMessage struct {
	typ  websocket.MessageType
	data []byte
	// parts > 1 writes the message through a streaming writer in that many
	// pieces, so it crosses the wire as several frames.
	parts int
}

// peerScript is what the test client sends; the server echoes every message.
func peerScript() []peerMessage {
	rng := rand.New(rand.NewSource(6455))
	big := make([]byte, 300_000)
	rng.Read(big)
	long := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB of text
	return []peerMessage{
		{typ: websocket.MessageText, data: []byte("hello")},
		{typ: websocket.MessageText, data: []byte("héllo wörld ✓ 世界 🎉")},
		{typ: websocket.MessageText, data: []byte{}},
		{typ: websocket.MessageBinary, data: []byte{0, 1, 2, 0xff, 0xfe}},
		{typ: websocket.MessageBinary, data: big},
		{typ: websocket.MessageText, data: long, parts: 4},
		{typ: websocket.MessageText, data: []byte("escape \x1b[2J \x1b]52;c;aGk=\x07 done")},
		{typ: websocket.MessageBinary, data: big[:70_000], parts: 3},
	}
}

// runPeerClient connects, sends the script, pings once and closes.
func runPeerClient(t *testing.T, url string, opts *websocket.DialOptions, script []peerMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(-1)
	for i, m := range script {
		if m.parts > 1 {
			w, err := c.Writer(ctx, m.typ)
			if err != nil {
				t.Fatal(err)
			}
			step := (len(m.data) + m.parts - 1) / m.parts
			for off := 0; off < len(m.data); off += step {
				if _, err := w.Write(m.data[off:min(off+step, len(m.data))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		} else if err := c.Write(ctx, m.typ, m.data); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		typ, data, err := c.Read(ctx)
		if err != nil || typ != m.typ || !bytes.Equal(data, m.data) {
			t.Fatalf("echo %d: %v (type %v, %d bytes)", i, err, typ, len(data))
		}
	}
	// A ping needs a reader running to see its pong.
	readDone := make(chan struct{})
	rctx := c.CloseRead(ctx)
	go func() { <-rctx.Done(); close(readDone) }()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	<-readDone
}

// checkPeerConversation asserts that the decoded conversation holds exactly
// the messages the applications sent, byte for byte.
func checkPeerConversation(t *testing.T, c *recConv, script []peerMessage) {
	t.Helper()
	for _, d := range []dissect.Direction{dissect.FromClient, dissect.FromServer} {
		var got []dissect.Message
		for _, m := range c.messages {
			if m.Dir == d && !m.Opcode.IsControl() {
				got = append(got, m)
			}
		}
		if len(got) != len(script) {
			t.Fatalf("%s: %d data messages; the application sent %d", d, len(got), len(script))
		}
		for i, m := range script {
			op := dissect.OpText
			if m.typ == websocket.MessageBinary {
				op = dissect.OpBinary
			}
			g := got[i]
			if g.Opcode != op || !bytes.Equal(g.Payload, m.data) || g.Length != uint64(len(m.data)) || g.Truncated {
				t.Errorf("%s message %d: %s of %d bytes (kept %d, truncated %v); sent %s of %d bytes, equal=%v",
					d, i, g.Opcode, g.Length, len(g.Payload), g.Truncated, op, len(m.data), bytes.Equal(g.Payload, m.data))
			}
			if m.parts > 1 && d == dissect.FromClient && g.Frames < 2 {
				t.Errorf("client message %d: %d frames; it was written in %d pieces", i, g.Frames, m.parts)
			}
		}
	}
	var pings, pongs int
	for _, m := range c.messages {
		switch m.Opcode {
		case dissect.OpPing:
			pings++
		case dissect.OpPong:
			pongs++
			if !m.HasRTT {
				t.Errorf("pong not matched to its ping")
			}
		}
	}
	if pings != 1 || pongs != 1 {
		t.Errorf("%d pings and %d pongs; want 1 and 1", pings, pongs)
	}
	cl := c.summary.Close
	if !cl.Clean || cl.Initiator != dissect.FromClient || cl.Code[dissect.FromClient] != 1000 || cl.Reason[dissect.FromClient] != "bye" {
		t.Errorf("close %+v; want clean, by the client, 1000 \"bye\"", cl)
	}
	if len(c.violations) != 0 {
		t.Errorf("violations %q; want none", c.codes())
	}
	if len(c.gaps) != 0 {
		t.Errorf("gaps %+v", c.gaps)
	}
}

// TestRealPeersLoopback captures a real WebSocket client and server on
// loopback and checks every message against what the applications sent.
func TestRealPeersLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("captures real peers: not in -short mode")
	}
	port := testutil.StartEchoServer(t, &websocket.AcceptOptions{Subprotocols: []string{"echo"}})
	td := testutil.StartTcpdump(t, "lo", "tcp port "+strconv.Itoa(port))
	script := peerScript()
	runPeerClient(t, fmt.Sprintf("ws://127.0.0.1:%d/echo?x=1", port), &websocket.DialOptions{Subprotocols: []string{"echo", "other"}}, script)
	path := td.Stop(t)
	if dst := os.Getenv("WSDUMP_KEEP_CAPTURE"); dst != "" {
		b, _ := os.ReadFile(path)
		os.WriteFile(dst, b, 0o644)
	}

	cfg := Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.MaxPayload = 0
	sink, _ := runFile(t, path, cfg)
	ws := sink.wsConvs()
	if len(ws) != 1 {
		t.Fatalf("%d WebSocket conversations; want 1", len(ws))
	}
	c := ws[0]
	h := c.handshakes[0]
	if h.Request.URI != "/echo?x=1" || h.Subprotocol != "echo" || !h.AcceptValid || h.Response.StatusCode != 101 {
		t.Errorf("handshake %s %q subprotocol %q accept %v", h.Request.Method, h.Request.URI, h.Subprotocol, h.AcceptValid)
	}
	checkPeerConversation(t, c, script)
}
