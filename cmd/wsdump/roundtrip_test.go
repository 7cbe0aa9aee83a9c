package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsdump/wsdump/internal/testutil"
)

// TestJSONReportRoundTripRealPeers captures a real WebSocket client and
// echo server on loopback; with --max-payload 0 the JSON report must hold
// every payload the client sent, byte for byte, in both directions.
func TestJSONReportRoundTripRealPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("captures real peers: not in -short mode")
	}
	port := testutil.StartEchoServer(t, nil)
	td := testutil.StartTcpdump(t, "lo", "tcp port "+strconv.Itoa(port))

	rng := rand.New(rand.NewSource(7692))
	big := make([]byte, 200_000)
	rng.Read(big)
	sent := []struct {
		typ  websocket.MessageType
		data []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageText, []byte("héllo \"wörld\" \u2028 \x00 \x1b[2J ✓ 🎉")},
		{websocket.MessageText, []byte{}},
		{websocket.MessageBinary, []byte{0, 0xff, 0xfe, 'a'}},
		{websocket.MessageBinary, big},
		{websocket.MessageText, bytes.Repeat([]byte("0123456789abcdef"), 6000)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/rt", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	for i, m := range sent {
		if err := c.Write(ctx, m.typ, m.data); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "done")
	path := td.Stop(t)

	js := filepath.Join(t.TempDir(), "r.json")
	if _, _, err := runArgs(t, context.Background(), nil, "-r", path, "-q", "--max-payload", "0", "--json", js); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	_, msgs := reportMessages(t, b)
	got := map[string][][]byte{}
	for _, m := range msgs {
		if op := m["opcode"]; op == "text" || op == "binary" {
			if m["truncated"] != false {
				t.Errorf("a %s message is truncated with --max-payload 0", op)
			}
			got[m["from"].(string)] = append(got[m["from"].(string)], payload(t, m))
		}
	}
	for _, from := range []string{"client", "server"} {
		if len(got[from]) != len(sent) {
			t.Fatalf("%s: %d data messages in the report; %d were sent", from, len(got[from]), len(sent))
		}
		for i, m := range sent {
			if !bytes.Equal(got[from][i], m.data) {
				t.Errorf("%s message %d: %d bytes in the report differ from the %d sent", from, i, len(got[from][i]), len(m.data))
			}
		}
	}
}
