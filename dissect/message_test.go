package dissect

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// doublingInflater stands in for a decompressor: every input byte comes out
// twice, and the byte '!' is an error. It records the calls it gets.
type doublingInflater struct {
	calls []string
	buf   []byte
	err   error
}

func (x *doublingInflater) perFrame() bool { return false }

func (x *doublingInflater) begin(compressed bool) bool {
	if !compressed {
		x.calls = append(x.calls, "begin-plain")
		return false
	}
	x.calls = append(x.calls, "begin")
	x.err = nil
	return true
}

func (x *doublingInflater) frame(bool) {}

func (x *doublingInflater) frameEnd(inflateOutput) {}

func (x *doublingInflater) write(p []byte, out inflateOutput) {
	x.calls = append(x.calls, "write")
	if x.err != nil {
		return
	}
	x.buf = x.buf[:0]
	for _, c := range p {
		if c == '!' {
			x.err = errors.New("bad input")
			return
		}
		x.buf = append(x.buf, c, c)
	}
	out.writePayload(x.buf)
}

func (x *doublingInflater) release() {}

func (x *doublingInflater) end(out inflateOutput, complete bool) inflateResult {
	x.calls = append(x.calls, "end")
	if x.err == nil {
		out.writePayload([]byte("."))
	}
	return inflateResult{inflated: true, err: x.err}
}

func TestMessageInflaterHook(t *testing.T) {
	inf := &doublingInflater{}
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{AllowedRSV: 0x4, Inflater: [2]messageInflater{FromServer: inf}})
	s.feed(FromServer, catFrames(
		buildWSFrame(wsTestFrame{rsv: 4, op: OpText, payload: []byte("ab")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte("p")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: []byte("c")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("plain")}),              // RSV1 clear: not inflated
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: []byte("x!y")}),        // inflating fails
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: []byte("\xC3\xA9")}), // one frame, own buffer
	), frameT0)
	if v := rec.violations(); len(v) != 0 {
		t.Fatalf("violations %v", v)
	}
	var data []Message
	for _, m := range rec.messages() {
		if m.Opcode != OpPing {
			data = append(data, m)
		}
	}
	if len(data) != 4 {
		t.Fatalf("%d data messages; want 4", len(data))
	}
	m := data[0]
	if !m.Compressed || !m.Inflated || m.InflateErr != "" || string(m.Payload) != "aabbcc." || m.Length != 7 ||
		m.SHA256 != sha256.Sum256([]byte("aabbcc.")) || !m.ValidUTF8 || m.Frames != 2 {
		t.Fatalf("inflated message %+v", m)
	}
	if m := data[1]; m.Compressed || m.Inflated || string(m.Payload) != "plain" {
		t.Fatalf("plain message %+v", m)
	}
	if m := data[2]; !m.Compressed || !m.Inflated || m.InflateErr != "bad input" {
		t.Fatalf("failed message %+v", m)
	}
	if m := data[3]; string(m.Payload) != "\xC3\xC3\xA9\xA9." || m.ValidUTF8 {
		t.Fatalf("one-frame inflated message % x", m.Payload)
	}
	// The frames keep the bytes as they were on the wire.
	if f := rec.frames()[0]; string(f.Payload) != "ab" {
		t.Fatalf("frame payload %q; want the wire bytes", f.Payload)
	}
	want := []string{"begin", "write", "write", "end", "begin-plain", "begin", "write", "end", "begin", "write", "end"}
	if got := inf.calls; !equalCallLists(got, want) {
		t.Fatalf("calls %v; want %v", got, want)
	}
	var sum Summary
	s.end(EndFIN, frameT0, &sum)
	if st := sum.Stats[FromServer]; st.Compressed != 3+3+2 || st.Inflated != 7+0+5 {
		t.Fatalf("stats compressed %d inflated %d", st.Compressed, st.Inflated)
	}
}

func TestMessageCompressedWithoutInflater(t *testing.T) {
	// Negotiated but nobody inflates: no UTF-8 verdict on compressed bytes.
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{AllowedRSV: 0x4})
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: []byte{0xFF, 0x00}}), frameT0)
	ms := rec.messages()
	if len(ms) != 1 || !ms[0].Compressed || ms[0].Inflated || !bytes.Equal(ms[0].Payload, []byte{0xFF, 0}) {
		t.Fatalf("messages %+v", ms)
	}
	if v := rec.violations(); len(v) != 0 {
		t.Fatalf("violations %v; want none", v)
	}
}

func equalCallLists(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
