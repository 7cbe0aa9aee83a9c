package dissect

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestAppendKeptGrowsByDoublingUpToTheLimit(t *testing.T) {
	chunk := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	tests := []struct {
		name    string
		start   []byte // buffer before the append
		p       []byte
		limit   int
		want    int // bytes the buffer is expected to hold (0: unknown)
		wantCap int // 0: the buffer keeps its capacity
	}{
		{"first bytes get the minimum", nil, chunk(10, 'a'), 64 << 10, 0, minPayloadBuf},
		{"first bytes beyond the minimum", nil, chunk(3000, 'a'), 64 << 10, 0, 3000},
		{"minimum above the limit", nil, chunk(10, 'a'), 100, 0, 100},
		{"room left: no new buffer", append(make([]byte, 0, 512), chunk(100, 'x')...), chunk(400, 'a'), 64 << 10, 0, 0},
		{"full: doubles", append(make([]byte, 0, 512), chunk(500, 'x')...), chunk(100, 'a'), 64 << 10, 0, 1024},
		{"doubling capped at the limit", append(make([]byte, 0, 40<<10), chunk(40<<10, 'x')...), chunk(1, 'a'), 64 << 10, 0, 64 << 10},
		{"frame length known: all at once", nil, chunk(10, 'a'), 64 << 10, 40000, 40000},
		{"known length beyond the limit", nil, chunk(10, 'a'), 1000, 40000, 1000},
		{"known length above the pooled size: doubling", nil, chunk(10, 'a'), 1 << 30, maxPooledBuf + 1, minPayloadBuf},
		{"known length on a full buffer", append(make([]byte, 0, 512), chunk(512, 'x')...), chunk(1, 'a'), 64 << 10, 9000, 9000},
		{"need beyond doubling", append(make([]byte, 0, 512), chunk(512, 'x')...), chunk(5000, 'a'), 64 << 10, 0, 5512},
	}
	for _, tc := range tests {
		want := append(append([]byte{}, tc.start...), tc.p...)
		oldCap := cap(tc.start)
		got := appendKept(tc.start, tc.p, tc.limit, tc.want)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d bytes; want %d)", tc.name, len(got), len(want))
		}
		wc := tc.wantCap
		if wc == 0 {
			wc = oldCap
		}
		if cap(got) != wc {
			t.Errorf("%s: capacity %d; want %d", tc.name, cap(got), wc)
		}
	}
}

// TestPayloadBuffersAcrossSessions runs conversations one after another and
// overlapping, so that buffers given back at the end of one are used by the
// next, and checks every payload against what was sent. A session that has
// ended must not touch buffers it gave back.
func TestPayloadBuffersAcrossSessions(t *testing.T) {
	fill := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i*7)
		}
		return b
	}
	// A fragmented binary message of 3 x 20000 bytes (kept up to the 64 KiB
	// cap) and a single-frame text message, from the server.
	stream := func(seed byte) ([]byte, []byte, []byte) {
		big := fill(60000, seed)
		text := []byte("hello " + string(rune('a'+seed%26)))
		return catFrames(
			buildWSFrame(wsTestFrame{op: OpBinary, payload: big[:20000]}),
			buildWSFrame(wsTestFrame{op: OpContinuation, payload: big[20000:40000]}),
			buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: big[40000:]}),
			buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: text}),
		), big, text
	}
	check := func(name string, rec *recordSinkFrames, big, text []byte) {
		t.Helper()
		ms := rec.messages()
		if len(ms) != 2 {
			t.Fatalf("%s: %d messages; want 2", name, len(ms))
		}
		if !bytes.Equal(ms[0].Payload, big) || ms[0].Truncated || ms[0].Frames != 3 {
			t.Errorf("%s: binary message of %d bytes, truncated=%v, %d frames; want the 60000 bytes sent in 3 frames",
				name, len(ms[0].Payload), ms[0].Truncated, ms[0].Frames)
		}
		if !bytes.Equal(ms[1].Payload, text) {
			t.Errorf("%s: text message %q; want %q", name, ms[1].Payload, text)
		}
	}

	for i := 0; i < 4; i++ {
		wire, big, text := stream(byte(i))
		s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
		s.feed(FromServer, wire, frameT0)
		s.end(EndFIN, frameT0, nil)
		check("sequential", rec, big, text)
	}

	// a ends while b is in the middle of its binary message; bytes fed to
	// a afterwards are ignored and do not reach b's buffers.
	wa, bigA, textA := stream(100)
	wb, bigB, textB := stream(200)
	a, recA := newTestWSSession(frameTestCfg, sessionOptions{})
	b, recB := newTestWSSession(frameTestCfg, sessionOptions{})
	a.feed(FromServer, wa, frameT0)
	b.feed(FromServer, wb[:30000], frameT0)
	a.end(EndFIN, frameT0, nil)
	n := len(recA.events)
	c, recC := newTestWSSession(frameTestCfg, sessionOptions{})
	wc, bigC, textC := stream(50)
	c.feed(FromServer, wc[:25000], frameT0)
	a.feed(FromServer, wa, frameT0)
	b.feed(FromServer, wb[30000:], frameT0)
	c.feed(FromServer, wc[25000:], frameT0)
	if len(recA.events) != n {
		t.Errorf("an ended session reported %d more events", len(recA.events)-n)
	}
	check("a", recA, bigA, textA)
	check("b", recB, bigB, textB)
	check("c", recC, bigC, textC)
	b.end(EndFIN, frameT0, nil)
	c.end(EndFIN, frameT0, nil)

	// An empty frame first is reported with a nil payload, as with a
	// session that got no buffers from an earlier one.
	d, recD := newTestWSSession(frameTestCfg, sessionOptions{})
	d.feed(FromServer, catFrames(
		buildWSFrame(wsTestFrame{fin: true, op: OpText}),
		buildWSFrame(wsTestFrame{op: OpText, payload: []byte("ab")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: []byte("cd")}),
	), frameT0)
	ms := recD.messages()
	if len(ms) != 2 || ms[0].Payload != nil || string(ms[1].Payload) != "abcd" {
		t.Errorf("messages %+v; want a nil payload, then \"abcd\"", ms)
	}
}

// keepSink keeps the payloads of messages handed off to it, without
// copying them, and gives every other one back at once.
type keepSink struct {
	discardSinkFrames
	kept    [][]byte
	handed  int
	release bool
}

func (k *keepSink) Message(c *ConvRef, m *Message) {
	if !m.PayloadHandedOff {
		k.kept = append(k.kept, bytes.Clone(m.Payload))
		return
	}
	k.handed++
	k.kept = append(k.kept, m.Payload)
	if k.release && k.handed%2 == 0 {
		// Give this one back: it is reused by a later message, and
		// its content is no longer checked.
		ReleasePayload(m.Payload)
		k.kept[len(k.kept)-1] = nil
	}
}

// TestHandOff: under Config.HandOff a message kept in the dissector's own
// buffer (fragmented, compressed, or split over feeds) is handed to the
// sink, which may keep it: the dissector never writes to it again, even
// when buffers given back are used for later messages. Small payloads and
// payloads seen in one piece are not handed off.
func TestHandOff(t *testing.T) {
	for _, tc := range []struct{ release, noFrames bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		release := tc.release
		cfg := frameTestCfg
		cfg.HandOff = true
		// Without frame payloads, a message of one frame has a buffer
		// of its own; with them, it shares its frame's.
		cfg.NoFramePayload = tc.noFrames
		sink := &keepSink{release: release}
		s := newWSSession(&cfg, &ConvRef{ID: 1}, sink, sessionOptions{})
		rng := rand.New(rand.NewSource(5))
		var sent [][]byte
		for i := 0; i < 80; i++ {
			n := []int{100, 9000, 30000, 70000}[i%4]
			p := make([]byte, n)
			rng.Read(p)
			sent = append(sent, p)
			h := len(p) / 2
			// Fragmented messages (their size unknown until the end,
			// the buffer grows), then messages of one frame (a buffer
			// of their size at once).
			wire := catFrames(
				buildWSFrame(wsTestFrame{op: OpBinary, payload: p[:h]}),
				buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: p[h:]}),
			)
			if i%8 >= 4 {
				wire = buildWSFrame(wsTestFrame{fin: true, op: OpBinary, payload: p})
			}
			if i == 2 {
				// A buffer of the direction's own, as one left by an
				// earlier conversation: outgrown, it stays the
				// direction's; handed off, it is no longer.
				s.dirs[FromServer].takeBufs()
				s.dirs[FromServer].bufs.msg = make([]byte, 0, 16<<10)
			}
			// Fed in two pieces, so that no frame comes whole.
			s.feed(FromServer, wire[:len(wire)/3], frameT0)
			s.feed(FromServer, wire[len(wire)/3:], frameT0)
		}
		if len(sink.kept) != len(sent) {
			t.Fatalf("release=%v: %d messages; want %d", release, len(sink.kept), len(sent))
		}
		for i, p := range sink.kept {
			if p == nil {
				continue
			}
			want := sent[i][:min(len(sent[i]), cfg.MaxPayload)]
			if !bytes.Equal(p, want) {
				t.Fatalf("release=%v: message %d (%d bytes) changed after it was handed off", release, i, len(sent[i]))
			}
		}
		want := 30 // the fragmented ones of 9000 bytes and more
		if tc.noFrames {
			want = 60 // and those of one frame
		}
		if sink.handed != want {
			t.Errorf("release=%v noFrames=%v: %d messages handed off; want %d", release, tc.noFrames, sink.handed, want)
		}
	}
}

// TestHandedBackClasses: a buffer taken for n bytes holds n, in a power of
// two; a buffer given back serves later requests of its class and below,
// never one it cannot hold.
func TestHandedBackClasses(t *testing.T) {
	if 1<<handClassMin != handOffMin || 1<<handClassMax != maxPooledBuf {
		t.Fatalf("classes %d..%d do not match handOffMin %d and maxPooledBuf %d", handClassMin, handClassMax, handOffMin, maxPooledBuf)
	}
	// Start from empty classes, whatever other tests gave back.
	handedBack.Lock()
	saved := handedBack.free
	handedBack.free = [handClassMax + 1][][]byte{}
	handedBack.Unlock()
	defer func() {
		handedBack.Lock()
		handedBack.free = saved
		handedBack.Unlock()
	}()
	for _, n := range []int{1, 8191, 8192, 8193, 40000, 65536, 65537, maxPooledBuf} {
		b := takeHandedBack(n)
		if len(b) != 0 || cap(b) < n || cap(b)&(cap(b)-1) != 0 || cap(b) < handOffMin {
			t.Errorf("takeHandedBack(%d): len %d cap %d; want empty, a power of two of at least %d", n, len(b), cap(b), max(n, handOffMin))
		}
	}
	// An odd capacity (a payload cap that is not a power of two) serves
	// the class below it.
	odd := make([]byte, 100000)
	ReleasePayload(odd)
	if b := takeHandedBack(70000); cap(b) < 70000 || sameArray(b, odd) {
		t.Errorf("a request for 70000 bytes got the buffer of %d", cap(odd))
	}
	if b := takeHandedBack(60000); !sameArray(b, odd) {
		t.Errorf("a request for 60000 bytes did not get the buffer of 100000 given back (cap %d)", cap(b))
	}
	// Too small or too large to keep.
	ReleasePayload(make([]byte, handOffMin-1))
	ReleasePayload(make([]byte, maxPooledBuf+1))
	for c := range handedBack.free {
		for _, b := range handedBack.free[c] {
			if cap(b) < 1<<c || cap(b) < handOffMin || cap(b) > maxPooledBuf {
				t.Errorf("class %d holds a buffer of %d", c, cap(b))
			}
		}
	}
}
