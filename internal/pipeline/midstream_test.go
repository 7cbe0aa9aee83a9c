package pipeline

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

// midstreamScript writes an exchange of messages on k without a TCP or
// WebSocket handshake, the server speaking first, and returns the messages
// as checkMessages wants them.
func midstreamScript(k *pcaptest.Conn, n int, frame func(fromClient bool, payload string) []byte) []string {
	var want []string
	for i := 0; i < n; i++ {
		s := fmt.Sprintf(`{"tick":%d,"price":%d.%02d}`, i, 100+i, i*7%100)
		k.Send(false, frame(false, s))
		want = append(want, mk(dissect.FromServer, dissect.OpText, s))
		c := fmt.Sprintf(`{"ack":%d}`, i)
		k.Send(true, frame(true, c))
		want = append(want, mk(dissect.FromClient, dissect.OpText, c))
	}
	return want
}

func plainFrame(fromClient bool, payload string) []byte {
	if fromClient {
		return cFrame(0x1, payload)
	}
	return sFrame(0x1, payload)
}

// deflateFrame compresses payload as permessage-deflate without context
// takeover does: a fresh compressor, the 00 00 FF FF tail removed, RSV1.
func deflateFrame(fromClient bool, payload string) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write([]byte(payload))
	w.Flush()
	p := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	f := pcaptest.Frame{Fin: true, Rsv: 0x4, Opcode: 0x1, Payload: p}
	if fromClient {
		f.Masked, f.Mask = true, genMask
	}
	return f.Bytes()
}

// TestMidstreamPickup decodes conversations whose capture began after the
// handshake: no SYN, no upgrade, frames found by their headers.
func TestMidstreamPickup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func(bool, string) []byte
	}{
		{"plain", plainFrame},
		{"permessage-deflate without context takeover", deflateFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := pcaptest.NewConn(genClient, genServer) // no Handshake: no SYN
			want := midstreamScript(k, 6, tc.frame)
			k.Send(true, pcaptest.ClientFrame(0x8, pcaptest.ClosePayload(1000, "bye"), genMask))
			k.Send(false, pcaptest.ServerFrame(0x8, pcaptest.ClosePayload(1000, "bye")))
			want = append(want, mk(dissect.FromClient, dissect.OpClose, "\x03\xe8bye"), mk(dissect.FromServer, dissect.OpClose, "\x03\xe8bye"))
			c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
			if !c.summary.IsWebSocket || !c.summary.Midstream {
				t.Fatalf("IsWebSocket=%v Midstream=%v; want both\n%s", c.summary.IsWebSocket, c.summary.Midstream, strings.Join(c.log, "\n"))
			}
			// The server spoke first, yet the masked side is the client.
			if c.ref.Client != "10.0.0.1:50000" {
				t.Errorf("client %s; want 10.0.0.1:50000", c.ref.Client)
			}
			checkEachDirection(t, c, want)
			checkViolations(t, c, wantViol{"ws.handshake_not_seen", dissect.FromServer, -1})
			for _, m := range c.messages {
				if m.Opcode == dissect.OpText && tc.frame(true, "x")[0]&0x40 != 0 && !m.Inflated {
					t.Errorf("message %q not inflated", m.Payload)
				}
			}
		})
	}
}

// checkEachDirection compares the messages of each direction in order. The
// frames a side sends while its frames are still being looked for are
// reported together once they are found, so the order between the two
// directions is not the capture's there.
func checkEachDirection(t *testing.T, c *recConv, want []string) {
	t.Helper()
	for _, d := range []dissect.Direction{dissect.FromClient, dissect.FromServer} {
		var w []string
		for _, m := range want {
			if strings.HasPrefix(m, d.String()+" ") {
				w = append(w, m)
			}
		}
		checkMessagesFrom(t, c, d, w...)
	}
}

// TestMidstreamPickupInsideAFrame starts the capture in the middle of a
// frame on each side: decoding starts at the next message.
func TestMidstreamPickupInsideAFrame(t *testing.T) {
	k := pcaptest.NewConn(genClient, genServer)
	// The tails of a client and a server frame whose starts were missed.
	k.Send(true, []byte(strings.Repeat("x", 37)))
	k.Send(false, []byte(`ail of a long server message"}`))
	want := midstreamScript(k, 5, plainFrame)
	c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
	if !c.summary.Midstream {
		t.Fatalf("not picked up\n%s", strings.Join(c.log, "\n"))
	}
	checkEachDirection(t, c, want)
	st := c.summary.Stats
	if st[dissect.FromClient].UndecodedTail != 37 || st[dissect.FromServer].UndecodedTail != 30 {
		t.Errorf("undecoded bytes %d/%d; want the 37 and 30 bytes of the cut frames", st[0].UndecodedTail, st[1].UndecodedTail)
	}
}

// TestMidstreamOffWithSYN: a connection whose SYN was captured and which
// never spoke HTTP is not taken for WebSocket, and neither is anything
// when the pickup is switched off.
func TestMidstreamOff(t *testing.T) {
	k := newGenConn()
	midstreamScript(k, 5, plainFrame)
	if c := onlyConv(t, runCapture(t, k.Capture(), Config{})); c.summary.IsWebSocket || len(c.frames) != 0 {
		t.Errorf("a connection from its SYN without a handshake was decoded as WebSocket")
	}
	k = pcaptest.NewConn(genClient, genServer)
	midstreamScript(k, 5, plainFrame)
	cfg := Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.Midstream = false
	if c := onlyConv(t, runCapture(t, k.Capture(), cfg)); c.summary.IsWebSocket {
		t.Errorf("decoded as WebSocket with the pickup switched off")
	}
}

// TestResyncAfterGap loses one segment in the middle of a long series of
// frames that straddle segment boundaries: only the frames the lost bytes
// touch are lost.
func TestResyncAfterGap(t *testing.T) {
	k := newGenConn(pcaptest.WithMSS(1000))
	genUpgrade(k, nil, nil)
	start := k.Offset(true)
	type span struct{ from, to int64 }
	var frames []span
	var payloads []string
	var stream []byte
	for i := 0; i < 40; i++ {
		p := fmt.Sprintf("message %02d ", i) + strings.Repeat(string(rune('a'+i%26)), 600+i*7)
		f := cFrame(0x1, p)
		frames = append(frames, span{start + int64(len(stream)), start + int64(len(stream)+len(f))})
		payloads = append(payloads, p)
		stream = append(stream, f...)
	}
	segs := k.Send(true, stream)
	k.Send(false, sFrame(0x1, "server still here"))
	k.Close()
	// Drop the segment in the middle.
	capt := k.Capture()
	lost := segs[len(segs)/2]
	lp := capt.Packets[lost]
	lostFrom := int64(lp.Seq - k.Seq(true, 0))
	lostTo := lostFrom + int64(len(lp.Payload))
	capt.Packets = slices.Delete(capt.Packets, lost, lost+1)

	c := onlyConv(t, runCapture(t, capt, Config{}))
	var want []string
	for i, f := range frames {
		if f.to <= lostFrom || f.from >= lostTo {
			want = append(want, mk(dissect.FromClient, dissect.OpText, payloads[i]))
		}
	}
	var got []string
	for _, m := range c.messages {
		if m.Dir == dissect.FromClient && !m.Incomplete {
			got = append(got, msgKey(m))
		}
	}
	if len(want) < 37 || !slices.Equal(got, want) {
		t.Errorf("got %d complete client messages, want %d (all but those the %d lost bytes touch)", len(got), len(want), lostTo-lostFrom)
	}
	if len(c.gaps) != 1 || c.gaps[0].Offset != uint64(lostFrom) || c.gaps[0].Length != uint64(lostTo-lostFrom) {
		t.Errorf("gaps %+v; want one at %d of %d bytes", c.gaps, lostFrom, lostTo-lostFrom)
	}
	var resyncs int
	for _, v := range c.violations {
		if v.Code == "ws.resync" {
			resyncs++
		}
	}
	if resyncs != 1 {
		t.Errorf("%d resync notices; want 1\n%s", resyncs, strings.Join(c.log, "\n"))
	}
	checkMessagesFrom(t, c, dissect.FromServer, mk(dissect.FromServer, dissect.OpText, "server still here"))
}

// TestMidstreamFalsePositives feeds streams that are not WebSocket to
// conversations picked up in the middle: the TCP streams of the shared
// corpus that are not WebSocket, the protocols tunnelled inside its
// WebSocket messages (SSH, TLS, HTTP, Jupyter, NDN), and random bytes. None
// may be taken for WebSocket.
func TestMidstreamFalsePositives(t *testing.T) {
	var streams [][]byte
	var names []string
	add := func(name string, b []byte) {
		if len(b) >= 16 {
			streams = append(streams, b)
			names = append(names, name)
		}
	}
	for _, path := range testutil.SharedCaptures(t) {
		sink, _ := runFile(t, path, Config{Dissect: dissect.DefaultConfig()})
		base := filepath.Base(path)
		for ci, c := range sink.convs {
			var tunnel [2][]byte
			for _, m := range c.messages {
				if !m.Opcode.IsControl() && !m.Truncated {
					tunnel[m.Dir] = append(tunnel[m.Dir], m.Payload...)
				}
			}
			for d := range tunnel {
				add(fmt.Sprintf("%s conv %d %s payloads", base, ci, dissect.Direction(d)), tunnel[d])
			}
		}
		for _, rc := range recordStreams(t, path) {
			var side [2][]byte
			for _, call := range rc.calls {
				if call.kind == 'd' {
					side[call.side] = append(side[call.side], call.data...)
				}
			}
			for s := range side {
				// WebSocket streams start with their handshake; the rest
				// of the corpus's streams are other protocols.
				if !bytes.HasPrefix(side[s], []byte("GET ")) && !bytes.HasPrefix(side[s], []byte("HTTP/1.")) {
					add(fmt.Sprintf("%s tcp %d side %d", filepath.Base(path), rc.conn.ID, s), side[s])
				}
			}
		}
	}
	corpus := len(streams)
	rng := rand.New(rand.NewSource(10))
	for i := 0; i < 2000; i++ {
		b := make([]byte, 256+rng.Intn(16<<10))
		rng.Read(b)
		add(fmt.Sprintf("random %d", i), b)
	}
	var total int
	var fps []string
	cfg := dissect.DefaultConfig()
	for i, b := range streams {
		total += len(b)
		sink := newRecSink()
		ref := &dissect.ConvRef{ID: 1, Client: "a", Server: "b"}
		conv := dissect.NewConversation(&cfg, ref, sink, dissect.ConvOptions{})
		t0 := time.Unix(0, 0)
		for off := 0; off < len(b); off += 1448 {
			conv.Feed(0, b[off:min(off+1448, len(b))], t0)
		}
		if sum := conv.End(dissect.EndFIN, t0); sum.IsWebSocket {
			fps = append(fps, names[i])
			if testing.Verbose() {
				sink.End(ref, sum)
				t.Logf("%s:\n%s", names[i], sink.dump())
			}
		}
	}
	t.Logf("%d streams (%d from the shared corpus, %d random), %d bytes: %d taken for WebSocket", len(streams), corpus, len(streams)-corpus, total, len(fps))
	if corpus < 20 {
		t.Errorf("only %d non-WebSocket streams from the corpus", corpus)
	}
	if len(fps) > 0 {
		t.Errorf("false positives: %q", fps)
	}
}
