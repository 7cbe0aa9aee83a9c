package dissect

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/internal/testutil"
)

// recordSinkFrames keeps owned copies of every event for assertions.
type recordSinkFrames struct {
	events []recEventFrames
}

type recEventFrames struct {
	kind  string // "frame", "message", "violation", "gap", "handshake", "end"
	frame Frame
	msg   Message
	viol  Violation
	gap   Gap
}

func cloneFrameBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func (r *recordSinkFrames) Handshake(c *ConvRef, h *Handshake) {
	r.events = append(r.events, recEventFrames{kind: "handshake"})
}
func (r *recordSinkFrames) Frame(c *ConvRef, f *Frame) {
	e := recEventFrames{kind: "frame", frame: *f}
	e.frame.Payload = cloneFrameBytes(f.Payload)
	r.events = append(r.events, e)
}
func (r *recordSinkFrames) Message(c *ConvRef, m *Message) {
	e := recEventFrames{kind: "message", msg: *m}
	e.msg.Payload = cloneFrameBytes(m.Payload)
	r.events = append(r.events, e)
}
func (r *recordSinkFrames) Violation(c *ConvRef, v *Violation) {
	r.events = append(r.events, recEventFrames{kind: "violation", viol: *v})
}
func (r *recordSinkFrames) Gap(c *ConvRef, g *Gap) {
	r.events = append(r.events, recEventFrames{kind: "gap", gap: *g})
}
func (r *recordSinkFrames) End(c *ConvRef, s *Summary) {
	r.events = append(r.events, recEventFrames{kind: "end"})
}

func (r *recordSinkFrames) messages() []Message {
	var ms []Message
	for _, e := range r.events {
		if e.kind == "message" {
			ms = append(ms, e.msg)
		}
	}
	return ms
}

func (r *recordSinkFrames) frames() []Frame {
	var fs []Frame
	for _, e := range r.events {
		if e.kind == "frame" {
			fs = append(fs, e.frame)
		}
	}
	return fs
}

// violations lists the violations as "dir code@frame".
func (r *recordSinkFrames) violations() []string {
	var vs []string
	for _, e := range r.events {
		if e.kind == "violation" {
			vs = append(vs, fmt.Sprintf("%s %s@%d", e.viol.Dir, e.viol.Code, e.viol.Frame))
		}
	}
	return vs
}

// kinds is the sequence of event kinds, with the opcode of frames and
// messages: "frame:text", "message:ping", "violation:ws.x".
func (r *recordSinkFrames) kinds() []string {
	var ks []string
	for _, e := range r.events {
		switch e.kind {
		case "frame":
			ks = append(ks, "frame:"+e.frame.Opcode.String())
		case "message":
			ks = append(ks, "message:"+e.msg.Opcode.String())
		case "violation":
			ks = append(ks, "violation:"+e.viol.Code)
		default:
			ks = append(ks, e.kind)
		}
	}
	return ks
}

var (
	frameT0      = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	maskKey1     = &[4]byte{0x11, 0x22, 0x33, 0x44}
	maskKey2     = &[4]byte{0xA0, 0x0B, 0xC0, 0x0D}
	frameTestCfg = DefaultConfig()
)

func newTestWSSession(cfg Config, opt sessionOptions) (*wsSession, *recordSinkFrames) {
	rec := &recordSinkFrames{}
	c := cfg
	return newWSSession(&c, &ConvRef{ID: 1}, rec, opt), rec
}

func catFrames(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func closeFramePayload(code uint16, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

func TestSessionSingleFrameMessages(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	c := buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("Hello")})
	sv := buildWSFrame(wsTestFrame{fin: true, op: OpBinary, payload: []byte{0, 1, 2, 0xFF}})
	s.feed(FromClient, c, frameT0)
	s.feed(FromServer, sv, frameT0.Add(time.Millisecond))

	if got, want := rec.kinds(), []string{"frame:text", "message:text", "frame:binary", "message:binary"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	f := rec.frames()[0]
	wantF := Frame{Dir: FromClient, Index: 0, Time: frameT0, Start: frameT0, Fin: true, Opcode: OpText, Masked: true, Mask: *maskKey1,
		Length: 5, HeaderLen: 6, Payload: []byte("Hello")}
	if !reflect.DeepEqual(f, wantF) {
		t.Fatalf("frame\n got %+v\nwant %+v", f, wantF)
	}
	ms := rec.messages()
	wantM := Message{Dir: FromClient, Index: 0, Opcode: OpText, Frames: 1, Start: frameT0, End: frameT0,
		WireLength: 11, WirePayload: 5, Length: 5, Payload: []byte("Hello"), SHA256: sha256.Sum256([]byte("Hello")), ValidUTF8: true}
	if !reflect.DeepEqual(ms[0], wantM) {
		t.Fatalf("client message\n got %+v\nwant %+v", ms[0], wantM)
	}
	m := ms[1]
	if m.Dir != FromServer || m.Index != 0 || m.Length != 4 || m.WireLength != 6 || m.ValidUTF8 ||
		!bytes.Equal(m.Payload, []byte{0, 1, 2, 0xFF}) || m.SHA256 != sha256.Sum256([]byte{0, 1, 2, 0xFF}) {
		t.Fatalf("server message %+v", m)
	}
	var sum Summary
	s.end(EndFIN, frameT0.Add(time.Second), &sum)
	if st := sum.Stats[FromClient]; st.Frames != 1 || st.Messages != 1 || st.WireBytes != 11 || st.PayloadBytes != 5 || st.Violations != 0 {
		t.Fatalf("client stats %+v", st)
	}
	if st := sum.Stats[FromServer]; st.Frames != 1 || st.Messages != 1 || st.WireBytes != 6 || st.PayloadBytes != 4 {
		t.Fatalf("server stats %+v", st)
	}
	if sum.Close.Clean || sum.Close.Sent != [2]bool{} {
		t.Fatalf("close %+v; want no close, not clean", sum.Close)
	}
}

func TestSessionFragmentedMessageWithInterleavedControl(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	// "Hé€𝄞!" with the multi-byte characters cut across frames.
	text := []byte("H\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E!")
	stream := catFrames(
		buildWSFrame(wsTestFrame{op: OpText, mask: maskKey1, payload: text[:2]}),               // "H" + half of é
		buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey2, payload: []byte("p")}), // between fragments
		buildWSFrame(wsTestFrame{op: OpContinuation, mask: maskKey1, payload: text[2:5]}),
		buildWSFrame(wsTestFrame{op: OpContinuation, mask: maskKey2, payload: nil}), // empty fragment
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: text[5:]}),
	)
	s.feed(FromClient, stream, frameT0)
	want := []string{"frame:text", "frame:ping", "message:ping", "frame:cont", "frame:cont", "frame:cont", "message:text"}
	if got := rec.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	ms := rec.messages()
	if p := ms[0]; p.Opcode != OpPing || p.Index != 0 || string(p.Payload) != "p" || p.Frames != 1 || p.WireLength != 7 {
		t.Fatalf("ping %+v", p)
	}
	m := ms[1]
	if m.Opcode != OpText || m.Index != 1 || m.Frames != 4 || !bytes.Equal(m.Payload, text) || m.Length != uint64(len(text)) ||
		!m.ValidUTF8 || m.Truncated || m.SHA256 != sha256.Sum256(text) || m.WireLength != uint64(len(stream)-7) {
		t.Fatalf("text message %+v", m)
	}
	if v := rec.violations(); v != nil {
		t.Fatalf("violations %v; want none", v)
	}
	fs := rec.frames()
	for i, f := range fs {
		if f.Index != uint64(i) {
			t.Fatalf("frame %d has index %d", i, f.Index)
		}
	}
	if !bytes.Equal(fs[2].Payload, text[2:5]) {
		t.Fatalf("frame 2 payload % x; want % x", fs[2].Payload, text[2:5])
	}
}

func TestSessionPayloadCap(t *testing.T) {
	cfg := frameTestCfg
	cfg.MaxPayload = 4
	s, rec := newTestWSSession(cfg, sessionOptions{})
	full := []byte("0123456789")
	s.feed(FromClient, catFrames(
		buildWSFrame(wsTestFrame{op: OpBinary, mask: maskKey1, payload: full[:3]}),
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: full[3:]}),
		buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey2, payload: full}),
	), frameT0)
	fs := rec.frames()
	if string(fs[0].Payload) != "012" || fs[0].PayloadTruncated {
		t.Fatalf("frame 0 payload %q truncated=%v", fs[0].Payload, fs[0].PayloadTruncated)
	}
	if string(fs[1].Payload) != "3456" || !fs[1].PayloadTruncated || fs[1].Length != 7 {
		t.Fatalf("frame 1 payload %q truncated=%v", fs[1].Payload, fs[1].PayloadTruncated)
	}
	for i, m := range rec.messages() {
		if string(m.Payload) != "0123" || !m.Truncated || m.Length != 10 || m.SHA256 != sha256.Sum256(full) || !m.ValidUTF8 {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

// TestSessionViolations feeds, for each rule, a stream of frames in which
// exactly one frame breaks it, surrounded by frames that do not.
func TestSessionViolations(t *testing.T) {
	good := func(s string) []byte {
		return buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte(s)})
	}
	goodS := func(s string) []byte { return buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte(s)}) }
	tests := []struct {
		name   string
		opt    sessionOptions
		client []byte
		server []byte
		want   []string
	}{
		{
			name:   "client frame unmasked",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("b")}), good("c")),
			want:   []string{"client ws.client_frame_unmasked@1"},
		},
		{
			name:   "server frame masked",
			server: catFrames(goodS("a"), goodS("b"), buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("c")})),
			want:   []string{"server ws.server_frame_masked@2"},
		},
		{
			name:   "RSV1 without extension",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey1, payload: []byte("b")})),
			want:   []string{"client ws.rsv_without_extension@1"},
		},
		{
			name:   "RSV2 with only RSV1 allowed",
			opt:    sessionOptions{AllowedRSV: 4},
			client: catFrames(buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, mask: maskKey1, payload: []byte("x")}), buildWSFrame(wsTestFrame{fin: true, rsv: 2, op: OpText, mask: maskKey1, payload: []byte("b")})),
			want:   []string{"client ws.rsv_without_extension@1"},
		},
		{
			name:   "reserved data opcode 0x3",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, op: 0x3, mask: maskKey1, payload: []byte("b")}), good("c")),
			want:   []string{"client ws.reserved_opcode@1"},
		},
		{
			name:   "reserved control opcode 0xB",
			server: catFrames(buildWSFrame(wsTestFrame{fin: true, op: 0xB}), goodS("c")),
			want:   []string{"server ws.reserved_opcode@0"},
		},
		{
			name: "control frame too long",
			client: catFrames(buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1, payload: bytes.Repeat([]byte("x"), 125)}),
				buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1, payload: bytes.Repeat([]byte("x"), 126)})),
			want: []string{"client ws.control_frame_too_long@1"},
		},
		{
			name:   "control frame fragmented",
			server: catFrames(goodS("a"), buildWSFrame(wsTestFrame{op: OpPing, payload: []byte("p")})),
			want:   []string{"server ws.control_frame_fragmented@1"},
		},
		{
			name:   "unexpected continuation",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: []byte("b")}), good("c")),
			want:   []string{"client ws.unexpected_continuation@1"},
		},
		{
			name: "data frame inside fragmented message",
			client: catFrames(buildWSFrame(wsTestFrame{op: OpText, mask: maskKey1, payload: []byte("a")}),
				buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1}),
				buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey1, payload: []byte("b")})),
			want: []string{"client ws.data_frame_inside_fragmented_message@2"},
		},
		{
			name: "invalid UTF-8 across fragments: reported at the last frame",
			client: catFrames(good("ok"), buildWSFrame(wsTestFrame{op: OpText, mask: maskKey1, payload: []byte("a\xED")}),
				buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: []byte("\xA0\x80")})),
			want: []string{"client ws.invalid_utf8@2"},
		},
		{
			name:   "invalid UTF-8 is not checked in binary messages",
			client: buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey1, payload: []byte{0xFF}}),
			want:   nil,
		},
		{
			name:   "close reason invalid UTF-8",
			server: buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1000, "bye\xC0\x80")}),
			want:   []string{"server ws.close_reason_invalid_utf8@0"},
		},
		{
			name:   "invalid close code 1005",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey1, payload: closeFramePayload(1005, "")})),
			want:   []string{"client ws.invalid_close_code@1"},
		},
		{
			name:   "valid private close code 4000 and standard 1000",
			client: buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey1, payload: closeFramePayload(4000, "app")}),
			server: buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1000, "")}),
			want:   nil,
		},
		{
			name:   "close payload of one byte",
			server: buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: []byte{0x03}}),
			want:   []string{"server ws.close_payload_one_byte@0"},
		},
		{
			name:   "64-bit length with top bit set",
			server: catFrames(goodS("a"), buildWSFrame(wsTestFrame{fin: true, op: OpBinary, form: lenForm64, length: 1<<63 | 3, lenSet: true}), []byte("abc")),
			want:   []string{"server ws.length_top_bit_set@1"},
		},
		{
			name: "non-minimal length",
			client: catFrames(good("a"), buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("b"), form: lenForm16}),
				buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: make([]byte, 200), form: lenForm64})),
			want: []string{"client ws.non_minimal_length@1", "client ws.non_minimal_length@2"},
		},
		{
			name: "data after close",
			client: catFrames(buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey1, payload: closeFramePayload(1000, "")}),
				good("late")),
			server: catFrames(goodS("ok"), buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1000, "")})),
			want:   []string{"client ws.data_after_close@1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rec := newTestWSSession(frameTestCfg, tt.opt)
			s.feed(FromClient, tt.client, frameT0)
			s.feed(FromServer, tt.server, frameT0)
			var sum Summary
			s.end(EndFIN, frameT0, &sum)
			if got := rec.violations(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("violations %q; want %q", got, tt.want)
			}
			if n := sum.Stats[0].Violations + sum.Stats[1].Violations; n != uint64(len(tt.want)) {
				t.Fatalf("stats count %d violations; want %d", n, len(tt.want))
			}
		})
	}
}

func TestSessionViolationDetails(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	s.feed(FromClient, buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("b"), form: lenForm16}), frameT0)
	var got []Violation
	for _, e := range rec.events {
		if e.kind == "violation" {
			got = append(got, e.viol)
		}
	}
	want := []Violation{
		{Code: "ws.client_frame_unmasked", Severity: SeverityError, Dir: FromClient, HasFrame: true, Frame: 0, Time: frameT0,
			Detail: "client frame without masking key", Ref: "RFC 6455 §5.1"},
		{Code: "ws.non_minimal_length", Severity: SeverityWarning, Dir: FromClient, HasFrame: true, Frame: 0, Time: frameT0,
			Detail: "payload length not in its shortest encoding", Ref: "RFC 6455 §5.2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestSessionHugeLengthKeepAll(t *testing.T) {
	// With no payload cap a frame announcing 2^63+3 bytes keeps the bytes
	// that arrive and nothing more.
	cfg := frameTestCfg
	cfg.MaxPayload = 0
	s, rec := newTestWSSession(cfg, sessionOptions{})
	s.feed(FromServer, catFrames(buildWSFrame(wsTestFrame{fin: true, op: OpBinary, form: lenForm64, length: 1<<63 | 3, lenSet: true}), []byte("abc")), frameT0)
	var sum Summary
	s.end(EndFIN, frameT0, &sum)
	ms := rec.messages()
	if len(ms) != 1 || !ms[0].Incomplete || string(ms[0].Payload) != "abc" {
		t.Fatalf("messages %+v", ms)
	}
}

func TestSessionIncompleteOnNewDataFrame(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	s.feed(FromClient, catFrames(buildWSFrame(wsTestFrame{op: OpText, mask: maskKey1, payload: []byte("ab")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey1, payload: []byte("c")})), frameT0)
	ms := rec.messages()
	if len(ms) != 2 || !ms[0].Incomplete || string(ms[0].Payload) != "ab" || ms[0].Frames != 1 || ms[0].Index != 0 ||
		ms[1].Incomplete || string(ms[1].Payload) != "c" || ms[1].Index != 1 {
		t.Fatalf("messages %+v", ms)
	}
}

func TestSessionCloseHandshake(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1001, "going")}), frameT0)
	s.feed(FromClient, buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey1, payload: closeFramePayload(1000, "")}), frameT0)
	var sum Summary
	s.end(EndFIN, frameT0, &sum)
	want := CloseInfo{Initiator: FromServer, Sent: [2]bool{true, true}, Code: [2]uint16{1000, 1001}, HasCode: [2]bool{true, true},
		Reason: [2]string{"", "going"}, Clean: true}
	if !reflect.DeepEqual(sum.Close, want) {
		t.Fatalf("close %+v; want %+v", sum.Close, want)
	}
	ms := rec.messages()
	if m := ms[0]; !m.HasCloseCode || m.CloseCode != 1001 || m.CloseReason != "going" || !m.ValidUTF8 {
		t.Fatalf("server close message %+v", m)
	}
	if st := sum.Stats[FromServer]; st.Controls != 1 || st.Messages != 0 || st.Frames != 1 {
		t.Fatalf("server stats %+v", st)
	}

	// Only one side, then RST: not clean. An empty close has no code.
	s, _ = newTestWSSession(frameTestCfg, sessionOptions{})
	s.feed(FromClient, buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey1}), frameT0)
	s.end(EndRST, frameT0, &sum)
	want = CloseInfo{Initiator: FromClient, Sent: [2]bool{true, false}}
	if !reflect.DeepEqual(sum.Close, want) {
		t.Fatalf("one-sided close %+v; want %+v", sum.Close, want)
	}
}

func TestSessionPingPong(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	ping := func(p string) []byte { return buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte(p)}) }
	pong := func(p string) []byte {
		return buildWSFrame(wsTestFrame{fin: true, op: OpPong, mask: maskKey1, payload: []byte(p)})
	}
	s.feed(FromServer, ping("A"), frameT0)
	s.feed(FromServer, ping("B"), frameT0.Add(1*time.Millisecond))
	s.feed(FromServer, ping("A"), frameT0.Add(2*time.Millisecond))
	s.feed(FromClient, pong("A"), frameT0.Add(7*time.Millisecond))  // answers the second "A": 5 ms
	s.feed(FromClient, pong("A"), frameT0.Add(9*time.Millisecond))  // then the first "A": 9 ms
	s.feed(FromClient, pong("A"), frameT0.Add(10*time.Millisecond)) // nothing left: unsolicited
	s.feed(FromClient, pong("B"), frameT0.Add(11*time.Millisecond)) // 10 ms
	// A pong does not answer a ping of its own direction.
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte("C")}), frameT0)
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, op: OpPong, payload: []byte("C")}), frameT0)

	type res struct {
		has bool
		rtt time.Duration
		uns bool
	}
	var got []res
	for _, m := range rec.messages() {
		if m.Opcode == OpPong {
			got = append(got, res{m.HasRTT, m.RTT, m.Unsolicited})
		}
	}
	want := []res{{true, 5 * time.Millisecond, false}, {true, 9 * time.Millisecond, false}, {false, 0, true},
		{true, 10 * time.Millisecond, false}, {false, 0, true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pongs %+v; want %+v", got, want)
	}
	var sum Summary
	s.end(EndCapture, frameT0, &sum)
	st := sum.Stats[FromServer]
	if st.Pings != 4 || st.Pongs != 1 || st.RTTCount != 3 || st.RTTMin != 5*time.Millisecond || st.RTTMax != 10*time.Millisecond || st.RTTSum != 24*time.Millisecond {
		t.Fatalf("server stats %+v", st)
	}
	if c := sum.Stats[FromClient]; c.Pongs != 4 || c.RTTCount != 0 || c.Violations != 0 {
		t.Fatalf("client stats %+v", c)
	}
	if v := rec.violations(); len(v) != 0 {
		t.Fatalf("violations %v; want none (an unsolicited pong is allowed)", v)
	}
}

func TestSessionGap(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	first := buildWSFrame(wsTestFrame{op: OpText, mask: maskKey1, payload: []byte("part")})
	s.feed(FromClient, first, frameT0)
	s.feed(FromClient, buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: []byte("xyz")})[:3], frameT0)
	s.gap(FromClient, 100, frameT0.Add(time.Second))
	s.feed(FromClient, []byte("0123456789"), frameT0.Add(2*time.Second))
	s.gap(FromClient, 5, frameT0.Add(3*time.Second))
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("still decoded")}), frameT0)
	var sum Summary
	s.end(EndFIN, frameT0.Add(4*time.Second), &sum)

	want := []string{"frame:text", "message:text", "gap", "frame:text", "message:text"}
	if got := rec.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	m := rec.messages()[0]
	if !m.Incomplete || string(m.Payload) != "part" || m.Frames != 1 || m.End != frameT0.Add(time.Second) || m.WireLength != uint64(len(first)) {
		// The 3 bytes of the cut header are not part of a frame yet.
		t.Fatalf("incomplete message %+v", m)
	}
	g := rec.events[2].gap
	if g != (Gap{Dir: FromClient, Time: frameT0.Add(time.Second), Offset: uint64(len(first) + 3), Length: 100, InFrame: true}) {
		t.Fatalf("gap %+v", g)
	}
	c := sum.Stats[FromClient]
	if !c.OutOfSync || c.GapBytes != 105 || c.UndecodedTail != 10 || c.Frames != 1 {
		t.Fatalf("client stats %+v", c)
	}
	if sv := sum.Stats[FromServer]; sv.OutOfSync || sv.Messages != 1 {
		t.Fatalf("server stats %+v", sv)
	}
}

func TestSessionEndIncomplete(t *testing.T) {
	s, rec := newTestWSSession(frameTestCfg, sessionOptions{})
	// A message whose only frame is cut short, and a control frame cut short.
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, op: OpBinary, payload: []byte("abcdef")})[:5], frameT0)
	s.feed(FromClient, buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1, payload: []byte("abcdef")})[:8], frameT0)
	var sum Summary
	s.end(EndRST, frameT0.Add(time.Second), &sum)
	s.feed(FromServer, []byte("ignored"), frameT0)
	ms := rec.messages()
	if len(ms) != 1 {
		t.Fatalf("messages %+v; want one", ms)
	}
	if m := ms[0]; !m.Incomplete || string(m.Payload) != "abc" || m.Length != 3 || m.Frames != 0 || m.End != frameT0.Add(time.Second) {
		t.Fatalf("message %+v", m)
	}
	if len(rec.frames()) != 0 {
		t.Fatalf("frames %+v; want none", rec.frames())
	}
	if sum.Stats[FromServer].WireBytes != 5 || sum.Stats[FromClient].WireBytes != 8 || sum.Close.Clean {
		t.Fatalf("summary %+v", sum)
	}
}

// mixedWSStreams returns a client and a server stream that use every feature:
// fragmentation, interleaved controls, masks, every length form, payloads
// longer than the unmask scratch buffer and than the payload cap.
func mixedWSStreams() (client, server []byte) {
	big := make([]byte, 3*unmaskScratchLen+13)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	client = catFrames(
		buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("hello")}),
		buildWSFrame(wsTestFrame{op: OpText, mask: maskKey2, payload: []byte("caf\xC3")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1, payload: []byte("ping!")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey2, payload: []byte("\xA9 ok")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey1, payload: big}),
		buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey2, payload: bytes.Repeat(big, 6)[:70000]}), // 64-bit length
		buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("unmasked \xFF")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpPong, mask: maskKey1, payload: []byte("srv")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpClose, mask: maskKey2, payload: closeFramePayload(1000, "done")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("after")}),
	)
	server = catFrames(
		buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte("srv")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpPong, payload: []byte("ping!")}),
		buildWSFrame(wsTestFrame{op: OpBinary, payload: big[:300]}),
		buildWSFrame(wsTestFrame{op: OpContinuation, payload: big[300:]}),
		buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, payload: nil}),
		buildWSFrame(wsTestFrame{fin: true, rsv: 2, op: 0x5, payload: []byte("?")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1000, "")}),
	)
	return client, server
}

// runSplitFrames feeds both streams cut by split and returns the events.
func runSplitFrames(t *testing.T, cfg Config, client, server []byte, split func([]byte) [][]byte) ([]recEventFrames, Summary) {
	t.Helper()
	s, rec := newTestWSSession(cfg, sessionOptions{})
	for _, c := range split(client) {
		s.feed(FromClient, c, frameT0)
	}
	for _, c := range split(server) {
		s.feed(FromServer, c, frameT0)
	}
	var sum Summary
	s.end(EndFIN, frameT0, &sum)
	return rec.events, sum
}

func TestSessionChunkingInvariance(t *testing.T) {
	client, server := mixedWSStreams()
	whole := func(b []byte) [][]byte { return [][]byte{b} }
	bytewise := func(b []byte) [][]byte {
		var out [][]byte
		for i := range b {
			out = append(out, b[i:i+1])
		}
		return out
	}
	rng := rand.New(rand.NewSource(4))
	random := func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := 1 + rng.Intn(min(len(b), 1+rng.Intn(3000)))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	for _, maxPayload := range []int{0, 100, 64 << 10} {
		cfg := frameTestCfg
		cfg.MaxPayload = maxPayload
		ref, refSum := runSplitFrames(t, cfg, client, server, whole)
		if len(ref) < 25 {
			t.Fatalf("only %d events from the mixed streams", len(ref))
		}
		for name, split := range map[string]func([]byte) [][]byte{"bytewise": bytewise, "random1": random, "random2": random, "random3": random} {
			got, sum := runSplitFrames(t, cfg, client, server, split)
			if !reflect.DeepEqual(got, ref) {
				for i := range min(len(got), len(ref)) {
					if !reflect.DeepEqual(got[i], ref[i]) {
						t.Fatalf("cap %d, %s: event %d differs:\n got %+v\nwant %+v", maxPayload, name, i, got[i], ref[i])
					}
				}
				t.Fatalf("cap %d, %s: %d events; want %d", maxPayload, name, len(got), len(ref))
			}
			if !reflect.DeepEqual(sum, refSum) {
				t.Fatalf("cap %d, %s: summary differs", maxPayload, name)
			}
		}
	}
}

func TestSessionMixedStreamsSummary(t *testing.T) {
	client, server := mixedWSStreams()
	cfg := frameTestCfg
	cfg.MaxPayload = 100
	events, sum := runSplitFrames(t, cfg, client, server, func(b []byte) [][]byte { return [][]byte{b} })
	rec := &recordSinkFrames{events: events}
	wantV := []string{
		"client ws.client_frame_unmasked@6",
		"client ws.invalid_utf8@6",
		"client ws.data_after_close@9",
		"server ws.rsv_without_extension@5",
		"server ws.reserved_opcode@5",
	}
	if got := rec.violations(); !reflect.DeepEqual(got, wantV) {
		t.Fatalf("violations %q; want %q", got, wantV)
	}
	c, s := sum.Stats[FromClient], sum.Stats[FromServer]
	if c.Frames != 10 || c.Messages != 6 || c.Controls != 3 || c.WireBytes != uint64(len(client)) || c.Pings != 1 || c.Pongs != 1 || c.Violations != 3 || c.RTTCount != 1 {
		t.Fatalf("client stats %+v", c)
	}
	if s.Frames != 7 || s.Messages != 1 || s.Controls != 4 || s.WireBytes != uint64(len(server)) || s.Violations != 2 ||
		s.RTTCount != 0 { // the whole client stream, with the pong, is fed before the server's ping

		t.Fatalf("server stats %+v", s)
	}
	if !sum.Close.Clean || sum.Close.Initiator != FromClient || sum.Close.Reason[FromClient] != "done" {
		t.Fatalf("close %+v", sum.Close)
	}
	// Message indexes follow the order of events: the ping inside the
	// fragmented message is 1, the message itself 2.
	var found bool
	for _, m := range rec.messages() {
		if m.Dir == FromClient && m.Index == 2 {
			found = true
			if m.Opcode != OpText || string(m.Payload) != "café ok" || !m.ValidUTF8 || m.Frames != 2 {
				t.Fatalf("fragmented text message %+v", m)
			}
		}
	}
	if !found {
		t.Fatal("no client message 2")
	}
}

func TestSessionFeedNoAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; .ci/run runs this test in a normal build")
	}
	var stream []byte
	for i := 0; i < 50; i++ {
		stream = append(stream, buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte(strings.Repeat("x", i*37))})...)
		stream = append(stream, buildWSFrame(wsTestFrame{op: OpBinary, mask: maskKey2, payload: make([]byte, 300)})...)
		stream = append(stream, buildWSFrame(wsTestFrame{fin: true, op: OpPing, mask: maskKey1, payload: []byte("p")})...)
		stream = append(stream, buildWSFrame(wsTestFrame{fin: true, op: OpContinuation, mask: maskKey1, payload: make([]byte, 9000)})...)
	}
	cfg := frameTestCfg
	cfg.MaxPayload = 4096
	s := newWSSession(&cfg, &ConvRef{}, discardSinkFrames{}, sessionOptions{})
	s.feed(FromClient, stream, frameT0) // warm the buffers
	allocs := testing.AllocsPerRun(20, func() {
		for i := 0; i < len(stream); i += 1000 {
			s.feed(FromClient, stream[i:min(i+1000, len(stream))], frameT0)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run of %d frames; want 0", allocs, 200)
	}
}

type discardSinkFrames struct{}

func (discardSinkFrames) Handshake(*ConvRef, *Handshake) {}
func (discardSinkFrames) Frame(*ConvRef, *Frame)         {}
func (discardSinkFrames) Message(*ConvRef, *Message)     {}
func (discardSinkFrames) Violation(*ConvRef, *Violation) {}
func (discardSinkFrames) Gap(*ConvRef, *Gap)             {}
func (discardSinkFrames) End(*ConvRef, *Summary)         {}

func BenchmarkSessionFeed(b *testing.B) {
	cases := []struct {
		name  string
		frame []byte
		n     int
	}{
		{"text100_masked", buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: bytes.Repeat([]byte("a"), 100)}), 1000},
		{"binary64K_masked", buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: maskKey1, payload: make([]byte, 64<<10)}), 16},
		{"binary64K_unmasked", buildWSFrame(wsTestFrame{fin: true, op: OpBinary, payload: make([]byte, 64<<10)}), 16},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			stream := bytes.Repeat(c.frame, c.n)
			cfg := DefaultConfig()
			s := newWSSession(&cfg, &ConvRef{}, discardSinkFrames{}, sessionOptions{})
			dir := FromClient
			if c.frame[1]&0x80 == 0 {
				dir = FromServer
			}
			feedAll := func() {
				// Segments of a typical size.
				for off := 0; off < len(stream); off += 1448 {
					s.feed(dir, stream[off:min(off+1448, len(stream))], frameT0)
				}
			}
			feedAll() // grow the reused buffers once
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				feedAll()
			}
		})
	}
}

// zeekFuzzChunks splits input in the format of Zeek's fuzz corpora: chunks
// that each start with the magic "\x01PKT" and a byte whose lowest bit says
// whether the chunk comes from the originator (the client).
func zeekFuzzChunks(b []byte) (dirs []Direction, chunks [][]byte) {
	magic := []byte("\x01PKT")
	for {
		i := bytes.Index(b, magic)
		if i < 0 || len(b)-i-len(magic) < 2 {
			return
		}
		b = b[i+len(magic):]
		dir := FromServer
		if b[0]&1 == 1 {
			dir = FromClient
		}
		b = b[1:]
		j := bytes.Index(b, magic)
		if j < 0 {
			j = len(b)
		}
		if j > 0 {
			dirs = append(dirs, dir)
			chunks = append(chunks, b[:j])
		}
		b = b[j:]
	}
}

func zeekFuzzEncode(dirs []Direction, chunks [][]byte) []byte {
	var out []byte
	for i, c := range chunks {
		out = append(out, "\x01PKT"...)
		if dirs[i] == FromClient {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
		out = append(out, c...)
	}
	return out
}

func sharedPcapsFrames(t testing.TB) string {
	dir := filepath.Join("..", "..", "shared", "pcaps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared captures not available at %s: %v", dir, err)
	}
	return dir
}

// zeekWSCorpus returns the inputs of Zeek's WebSocket fuzz corpus.
func zeekWSCorpus(t testing.TB) [][]byte {
	path := filepath.Join(sharedPcapsFrames(t), "zeek", "fuzz-corpus.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Skipf("Zeek fuzz corpus not readable: %v", err)
	}
	defer zr.Close()
	var out [][]byte
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || f.UncompressedSize64 > 1<<20 {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out = append(out, b)
	}
	return out
}

// feedZeekInput runs one fuzz input through a session, each chunk whole
// (bytewise false) or one byte at a time, and returns the events.
func feedZeekInput(data []byte, bytewise bool) []recEventFrames {
	cfg := DefaultConfig()
	cfg.MaxPayload = 64
	rec := &recordSinkFrames{}
	s := newWSSession(&cfg, &ConvRef{}, rec, sessionOptions{})
	dirs, chunks := zeekFuzzChunks(data)
	for i, c := range chunks {
		if bytewise {
			for j := range c {
				s.feed(dirs[i], c[j:j+1], frameT0)
			}
		} else {
			s.feed(dirs[i], c, frameT0)
		}
	}
	var sum Summary
	s.end(EndFIN, frameT0, &sum)
	return rec.events
}

func TestSessionZeekCorpus(t *testing.T) {
	inputs := zeekWSCorpus(t)
	if len(inputs) == 0 {
		t.Fatal("empty corpus")
	}
	var frames int
	for i, in := range inputs {
		whole := feedZeekInput(in, false)
		if got := feedZeekInput(in, true); !reflect.DeepEqual(got, whole) {
			t.Fatalf("input %d: events differ when fed byte by byte", i)
		}
		for _, e := range whole {
			if e.kind == "frame" {
				frames++
			}
		}
	}
	if frames == 0 {
		t.Fatalf("no frame decoded from %d corpus inputs", len(inputs))
	}
	t.Logf("%d inputs, %d frames", len(inputs), frames)
}

// FuzzSessionFeed feeds inputs in Zeek's fuzz format (chunks tagged with a
// direction) and checks that decoding never panics and that feeding each
// chunk whole or byte by byte gives the same events.
func FuzzSessionFeed(f *testing.F) {
	client, server := mixedWSStreams()
	f.Add(zeekFuzzEncode([]Direction{FromClient, FromServer}, [][]byte{client[:200], server[:200]}))
	f.Add(zeekFuzzEncode([]Direction{FromServer, FromClient, FromServer}, [][]byte{
		buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte("Zeek")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpPong, mask: maskKey1, payload: []byte("Zeek")}),
		buildWSFrame(wsTestFrame{fin: true, op: OpClose, payload: closeFramePayload(1000, "\xC0")}),
	}))
	for _, in := range zeekWSCorpus(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := feedZeekInput(data, false)
		if got := feedZeekInput(data, true); !reflect.DeepEqual(got, whole) {
			t.Fatalf("events differ when fed byte by byte")
		}
	})
}
