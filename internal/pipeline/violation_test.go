package pipeline

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/report"
)

const (
	cli = dissect.FromClient
	srv = dissect.FromServer
)

// wsStep is one frame (or any bytes) sent by one side in a segment of its
// own.
type wsStep struct {
	client bool
	wire   []byte
}

func cStep(op uint8, payload string) wsStep { return wsStep{true, cFrame(op, payload)} }
func sStep(op uint8, payload string) wsStep { return wsStep{false, sFrame(op, payload)} }

// rawStep sends a frame written field by field; client frames get genMask
// when f.Masked is set.
func rawStep(client bool, f pcaptest.Frame) wsStep {
	if f.Masked {
		f.Mask = genMask
	}
	return wsStep{client, f.Bytes()}
}

func closePayload(code uint16, reason string) string {
	return string(pcaptest.ClosePayload(code, reason))
}

// frameViolationCase is a conversation with a valid handshake, a text
// message "before" from each side (frame 0 of each direction), the steps,
// then a text message "after" from each side unless noTrailer says
// otherwise, and the TCP close.
type frameViolationCase struct {
	name  string
	steps []wsStep
	want  []wantViol
	// msgs are the messages the steps make, in order.
	msgs      []string
	noTrailer [2]bool // indexed by Direction
	// frames, when set, is the count of frames decoded per direction;
	// otherwise every frame written is expected.
	frames *[2]int
	// reqExtra and respExtra are header lines added to the handshake.
	reqExtra, respExtra []string
	// anyMsgs leaves the messages of the steps unchecked (msgs unused).
	anyMsgs bool
}

func frameViolationCases() []frameViolationCase {
	long := strings.Repeat("p", 126)
	return []frameViolationCase{
		{
			name:  "client frame unmasked",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpText, Payload: []byte("plain")})},
			want:  []wantViol{{"ws.client_frame_unmasked", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpText, "plain")},
		},
		{
			name:  "server frame masked",
			steps: []wsStep{rawStep(false, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpText, Masked: true, Payload: []byte("hidden")})},
			want:  []wantViol{{"ws.server_frame_masked", srv, 1}},
			msgs:  []string{mk(srv, dissect.OpText, "hidden")},
		},
		{
			name:  "RSV1 without a negotiated extension",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Fin: true, Rsv: 4, Opcode: pcaptest.OpText, Masked: true, Payload: []byte("r1")})},
			want:  []wantViol{{"ws.rsv_without_extension", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpText, "r1")},
		},
		{
			name:  "RSV2 on a client frame",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Fin: true, Rsv: 2, Opcode: pcaptest.OpBinary, Masked: true, Payload: []byte("r2")})},
			want:  []wantViol{{"ws.rsv_without_extension", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpBinary, "r2")},
		},
		{
			name:  "RSV3 on a server frame",
			steps: []wsStep{rawStep(false, pcaptest.Frame{Fin: true, Rsv: 1, Opcode: pcaptest.OpText, Payload: []byte("r3")})},
			want:  []wantViol{{"ws.rsv_without_extension", srv, 1}},
			msgs:  []string{mk(srv, dissect.OpText, "r3")},
		},
		{
			name:      "RSV1 with permessage-deflate negotiated",
			reqExtra:  []string{"Sec-WebSocket-Extensions: permessage-deflate"},
			respExtra: []string{"Sec-WebSocket-Extensions: permessage-deflate"},
			steps:     []wsStep{rawStep(true, pcaptest.Frame{Fin: true, Rsv: 4, Opcode: pcaptest.OpText, Masked: true, Payload: deflated("hello")})},
			anyMsgs:   true,
		},
		{
			name:      "RSV2 with permessage-deflate negotiated",
			reqExtra:  []string{"Sec-WebSocket-Extensions: permessage-deflate"},
			respExtra: []string{"Sec-WebSocket-Extensions: permessage-deflate"},
			steps:     []wsStep{rawStep(false, pcaptest.Frame{Fin: true, Rsv: 2, Opcode: pcaptest.OpText, Payload: []byte("r2")})},
			want:      []wantViol{{"ws.rsv_without_extension", srv, 1}},
			msgs:      []string{mk(srv, dissect.OpText, "r2")},
		},
		{
			name:  "reserved data opcode",
			steps: []wsStep{cStep(0x3, "three")},
			want:  []wantViol{{"ws.reserved_opcode", cli, 1}},
			msgs:  []string{mk(cli, 0x3, "three")},
		},
		{
			name:  "reserved control opcode",
			steps: []wsStep{sStep(0xB, "eleven")},
			want:  []wantViol{{"ws.reserved_opcode", srv, 1}},
			msgs:  []string{mk(srv, 0xB, "eleven")},
		},
		{
			name:  "control frame too long",
			steps: []wsStep{cStep(pcaptest.OpPing, long)},
			want:  []wantViol{{"ws.control_frame_too_long", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpPing, long)},
		},
		{
			name:  "control frame of 125 bytes is allowed",
			steps: []wsStep{cStep(pcaptest.OpPing, long[:125])},
			msgs:  []string{mk(cli, dissect.OpPing, long[:125])},
		},
		{
			name:  "control frame fragmented",
			steps: []wsStep{rawStep(false, pcaptest.Frame{Opcode: pcaptest.OpPing, Payload: []byte("frag")})},
			want:  []wantViol{{"ws.control_frame_fragmented", srv, 1}},
			msgs:  []string{mk(srv, dissect.OpPing, "frag")},
		},
		{
			name:  "control frame too long and fragmented",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Opcode: pcaptest.OpPong, Masked: true, Payload: []byte(long)})},
			want:  []wantViol{{"ws.control_frame_too_long", cli, 1}, {"ws.control_frame_fragmented", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpPong, long)},
		},
		{
			name:  "unexpected continuation",
			steps: []wsStep{cStep(pcaptest.OpCont, "orphan")},
			want:  []wantViol{{"ws.unexpected_continuation", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpContinuation, "orphan")},
		},
		{
			name: "data frame inside a fragmented message",
			steps: []wsStep{
				rawStep(true, pcaptest.Frame{Opcode: pcaptest.OpText, Masked: true, Payload: []byte("part")}),
				cStep(pcaptest.OpText, "whole"),
			},
			want: []wantViol{{"ws.data_frame_inside_fragmented_message", cli, 2}},
			msgs: []string{mk(cli, dissect.OpText, "part") + " incomplete", mk(cli, dissect.OpText, "whole")},
		},
		{
			name: "fragmented message with a ping between its frames",
			steps: []wsStep{
				rawStep(false, pcaptest.Frame{Opcode: pcaptest.OpBinary, Payload: []byte("ab")}),
				sStep(pcaptest.OpPing, "mid"),
				sStep(pcaptest.OpCont, "cd"),
			},
			msgs: []string{mk(srv, dissect.OpPing, "mid"), mk(srv, dissect.OpBinary, "abcd")},
		},
		{
			name:  "invalid UTF-8 in a text message",
			steps: []wsStep{cStep(pcaptest.OpText, "ok\xff\xfe")},
			want:  []wantViol{{"ws.invalid_utf8", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpText, "ok\xff\xfe")},
		},
		{
			name:  "text message ending inside a UTF-8 sequence",
			steps: []wsStep{sStep(pcaptest.OpText, "euro \xe2\x82")},
			want:  []wantViol{{"ws.invalid_utf8", srv, 1}},
			msgs:  []string{mk(srv, dissect.OpText, "euro \xe2\x82")},
		},
		{
			name: "invalid UTF-8 split across fragments",
			steps: []wsStep{
				rawStep(true, pcaptest.Frame{Opcode: pcaptest.OpText, Masked: true, Payload: []byte("x\xe2\x82")}),
				rawStep(true, pcaptest.Frame{Opcode: pcaptest.OpCont, Masked: true, Payload: []byte("y")}),
				cStep(pcaptest.OpCont, "z"),
			},
			// Reported at the last frame of the message.
			want: []wantViol{{"ws.invalid_utf8", cli, 3}},
			msgs: []string{mk(cli, dissect.OpText, "x\xe2\x82yz")},
		},
		{
			name: "valid UTF-8 split across fragments",
			steps: []wsStep{
				rawStep(false, pcaptest.Frame{Opcode: pcaptest.OpText, Payload: []byte("x\xe2\x82")}),
				sStep(pcaptest.OpCont, "\xac"),
			},
			msgs: []string{mk(srv, dissect.OpText, "x€")},
		},
		{
			name: "invalid UTF-8 around a ping inside a fragmented message",
			steps: []wsStep{
				rawStep(true, pcaptest.Frame{Opcode: pcaptest.OpText, Masked: true, Payload: []byte("\xc3")}),
				cStep(pcaptest.OpPing, "\xc3"),
				cStep(pcaptest.OpCont, "("),
			},
			want: []wantViol{{"ws.invalid_utf8", cli, 3}},
			msgs: []string{mk(cli, dissect.OpPing, "\xc3"), mk(cli, dissect.OpText, "\xc3(")},
		},
		{
			name:  "invalid UTF-8 in a binary message is fine",
			steps: []wsStep{cStep(pcaptest.OpBinary, "\xff\xfe")},
			msgs:  []string{mk(cli, dissect.OpBinary, "\xff\xfe")},
		},
		{
			name: "close reason invalid UTF-8",
			steps: []wsStep{
				cStep(pcaptest.OpClose, closePayload(1000, "bad\xff")),
				sStep(pcaptest.OpText, "still here"),
				sStep(pcaptest.OpClose, closePayload(1000, "")),
			},
			want:      []wantViol{{"ws.close_reason_invalid_utf8", cli, 1}},
			msgs:      []string{mk(cli, dissect.OpClose, closePayload(1000, "bad\xff")), mk(srv, dissect.OpText, "still here"), mk(srv, dissect.OpClose, closePayload(1000, ""))},
			noTrailer: [2]bool{true, true},
		},
		{
			name:      "close payload of one byte",
			steps:     []wsStep{sStep(pcaptest.OpClose, "\x03"), cStep(pcaptest.OpClose, closePayload(1000, ""))},
			want:      []wantViol{{"ws.close_payload_one_byte", srv, 1}},
			msgs:      []string{mk(srv, dissect.OpClose, "\x03"), mk(cli, dissect.OpClose, closePayload(1000, ""))},
			noTrailer: [2]bool{true, true},
		},
		{
			name:      "invalid close code and invalid reason",
			steps:     []wsStep{sStep(pcaptest.OpClose, closePayload(1006, "\xc0"))},
			want:      []wantViol{{"ws.invalid_close_code", srv, 1}, {"ws.close_reason_invalid_utf8", srv, 1}},
			msgs:      []string{mk(srv, dissect.OpClose, closePayload(1006, "\xc0"))},
			noTrailer: [2]bool{false, true},
		},
		{
			name: "data after close",
			steps: []wsStep{
				cStep(pcaptest.OpClose, closePayload(1000, "bye")),
				cStep(pcaptest.OpText, "late"),
				cStep(pcaptest.OpClose, closePayload(1000, "again")),
				sStep(pcaptest.OpClose, closePayload(1000, "bye")),
			},
			want: []wantViol{{"ws.data_after_close", cli, 2}, {"ws.data_after_close", cli, 3}},
			msgs: []string{
				mk(cli, dissect.OpClose, closePayload(1000, "bye")),
				mk(cli, dissect.OpText, "late"),
				mk(cli, dissect.OpClose, closePayload(1000, "again")),
				mk(srv, dissect.OpClose, closePayload(1000, "bye")),
			},
			noTrailer: [2]bool{true, true},
		},
		{
			name:  "16-bit length for a short payload",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpText, Masked: true, LengthBits: 16, Payload: []byte("short")})},
			want:  []wantViol{{"ws.non_minimal_length", cli, 1}},
			msgs:  []string{mk(cli, dissect.OpText, "short")},
		},
		{
			name:  "64-bit length for a 16-bit payload",
			steps: []wsStep{rawStep(false, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpBinary, LengthBits: 64, Payload: []byte(long)})},
			want:  []wantViol{{"ws.non_minimal_length", srv, 1}},
			msgs:  []string{mk(srv, dissect.OpBinary, long)},
		},
		{
			name:  "16-bit length for 126 bytes is minimal",
			steps: []wsStep{rawStep(false, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpBinary, LengthBits: 16, Payload: []byte(long)})},
			msgs:  []string{mk(srv, dissect.OpBinary, long)},
		},
		{
			name: "64-bit length with the top bit set",
			steps: []wsStep{
				{false, append(binary.BigEndian.AppendUint64([]byte{0x82, 127}, 1<<63|5), "abcde"...)},
				cStep(pcaptest.OpText, "after"),
			},
			want: []wantViol{{"ws.length_top_bit_set", srv, 1}},
			// The frame cannot end: the message is reported incomplete
			// at the end of the connection; the client goes on.
			msgs:      []string{mk(cli, dissect.OpText, "after"), mk(srv, dissect.OpBinary, "abcde") + " incomplete"},
			noTrailer: [2]bool{true, true},
			frames:    &[2]int{2, 1},
		},
		{
			name: "several header faults in one frame",
			steps: []wsStep{rawStep(true, pcaptest.Frame{Fin: false, Rsv: 1, Opcode: 0xC, LengthBits: 16,
				Payload: []byte("multi")})},
			want: []wantViol{
				{"ws.client_frame_unmasked", cli, 1},
				{"ws.rsv_without_extension", cli, 1},
				{"ws.reserved_opcode", cli, 1},
				{"ws.control_frame_fragmented", cli, 1},
				{"ws.non_minimal_length", cli, 1},
			},
			msgs: []string{mk(cli, 0xC, "multi")},
		},
	}
}

// runFrameCase writes and runs one frameViolationCase.
func runFrameCase(t *testing.T, tc frameViolationCase) *recConv {
	t.Helper()
	k := newGenConn()
	genUpgrade(k, tc.reqExtra, tc.respExtra)
	k.Send(true, cFrame(pcaptest.OpText, "before"))
	k.Send(false, sFrame(pcaptest.OpText, "before"))
	sent := [2]int{1, 1}
	for _, s := range tc.steps {
		k.Send(s.client, s.wire)
		if s.client {
			sent[cli]++
		} else {
			sent[srv]++
		}
	}
	if !tc.noTrailer[cli] {
		k.Send(true, cFrame(pcaptest.OpText, "after"))
		sent[cli]++
	}
	if !tc.noTrailer[srv] {
		k.Send(false, sFrame(pcaptest.OpText, "after"))
		sent[srv]++
	}
	k.Close()
	c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
	if !c.summary.IsWebSocket {
		t.Fatalf("not decoded as WebSocket\n%s", strings.Join(c.log, "\n"))
	}
	if tc.frames != nil {
		sent = *tc.frames
	}
	for _, d := range []dissect.Direction{cli, srv} {
		if n := framesFrom(t, c, d); n != sent[d] {
			t.Errorf("%s frames: got %d, want %d", d, n, sent[d])
		}
		if c.summary.Stats[d].Violations != uint64(countDir(tc.want, d)) {
			t.Errorf("%s Stats.Violations = %d, want %d", d, c.summary.Stats[d].Violations, countDir(tc.want, d))
		}
	}
	return c
}

func countDir(ws []wantViol, d dissect.Direction) int {
	n := 0
	for _, w := range ws {
		if w.dir == d {
			n++
		}
	}
	return n
}

// TestFrameViolationsEndToEnd writes one conversation per frame-level
// violation and checks that exactly that violation is reported, from the
// right side at the right frame, and that the frames after it are decoded.
func TestFrameViolationsEndToEnd(t *testing.T) {
	for _, tc := range frameViolationCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := runFrameCase(t, tc)
			checkViolations(t, c, tc.want...)
			msgs := []string{mk(cli, dissect.OpText, "before"), mk(srv, dissect.OpText, "before")}
			msgs = append(msgs, tc.msgs...)
			if !tc.noTrailer[cli] {
				msgs = append(msgs, mk(cli, dissect.OpText, "after"))
			}
			if !tc.noTrailer[srv] {
				msgs = append(msgs, mk(srv, dissect.OpText, "after"))
			}
			if !tc.anyMsgs {
				checkMessages(t, c, msgs...)
			}
			for _, v := range c.violations {
				if v.Ref == "" || v.Detail == "" {
					t.Errorf("violation %s without reference or detail: %+v", v.Code, v)
				}
				// Every frame here travels in one segment: the
				// violation carries that segment's time.
				for _, f := range c.frames {
					if f.Dir == v.Dir && f.Index == v.Frame && !v.Time.Equal(f.Time) {
						t.Errorf("violation %s at %v, its frame at %v", v.Code, v.Time, f.Time)
					}
				}
			}
		})
	}
}

// TestCloseCodesEndToEnd sends one close frame per status code and checks
// which codes are reported as not allowed on the wire (RFC 6455 §7.4).
func TestCloseCodesEndToEnd(t *testing.T) {
	cases := []struct {
		code    uint16
		invalid bool
	}{
		{0, true}, {999, true}, {1000, false}, {1001, false}, {1003, false},
		{1004, true}, {1005, true}, {1006, true}, {1007, false}, {1011, false},
		{1014, false}, {1015, true}, {1016, true}, {2999, true}, {3000, false},
		{3999, false}, {4000, false}, {4999, false}, {5000, true}, {65535, true},
	}
	for _, tc := range cases {
		name := "valid"
		var want []wantViol
		if tc.invalid {
			name = "invalid"
			want = []wantViol{{"ws.invalid_close_code", cli, 1}}
		}
		t.Run(name+"_"+strconv.Itoa(int(tc.code)), func(t *testing.T) {
			p := closePayload(tc.code, "r")
			c := runFrameCase(t, frameViolationCase{
				steps:     []wsStep{cStep(pcaptest.OpClose, p), sStep(pcaptest.OpClose, closePayload(1000, ""))},
				want:      want,
				noTrailer: [2]bool{true, true},
			})
			checkViolations(t, c, want...)
			checkMessages(t, c, mk(cli, dissect.OpText, "before"), mk(srv, dissect.OpText, "before"),
				mk(cli, dissect.OpClose, p), mk(srv, dissect.OpClose, closePayload(1000, "")))
			var m dissect.Message
			for _, x := range c.messages {
				if x.Dir == cli && x.Opcode == dissect.OpClose {
					m = x
				}
			}
			if !m.HasCloseCode || m.CloseCode != tc.code || m.CloseReason != "r" {
				t.Errorf("close message: HasCloseCode=%v CloseCode=%d CloseReason=%q, want true %d \"r\"", m.HasCloseCode, m.CloseCode, m.CloseReason, tc.code)
			}
			cl := c.summary.Close
			if !cl.Clean || cl.Initiator != cli || cl.Code[cli] != tc.code || cl.Code[srv] != 1000 {
				t.Errorf("close summary %+v: want clean, initiated by the client, codes %d and 1000", cl, tc.code)
			}
		})
	}
}

// baseRequest and baseResponse are the header lines of a valid RFC 6455
// upgrade (request line and status line first).
func baseRequest() []string {
	return []string{
		"GET /chat HTTP/1.1",
		"Host: example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + pcaptest.DemoKey,
		"Sec-WebSocket-Version: 13",
	}
}

func baseResponse() []string {
	return []string{
		"HTTP/1.1 101 Switching Protocols",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Accept: " + pcaptest.AcceptKey(pcaptest.DemoKey),
	}
}

// setHeader replaces the header line called name (case-sensitive prefix
// "name:") by "name: value", removes it when value is "-", or appends it
// when absent.
func setHeader(lines []string, name, value string) []string {
	out := lines[:0:0]
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, name+":") {
			found = true
			if value != "-" {
				out = append(out, name+": "+value)
			}
			continue
		}
		out = append(out, l)
	}
	if !found && value != "-" {
		out = append(out, name+": "+value)
	}
	return out
}

// firstLine replaces the request or status line.
func firstLine(lines []string, l string) []string {
	out := append([]string(nil), lines...)
	out[0] = l
	return out
}

// The hixie-76 handshake of draft-hixie-thewebsocketprotocol-76 §1.3, whose
// keys give the answer "8jKS'y:G*Co,Wxa-".
func hixie76Request(key1, key2 string) []byte {
	return append(httpLines(
		"GET /demo HTTP/1.1",
		"Host: example.com",
		"Connection: Upgrade",
		"Sec-WebSocket-Key2: "+key2,
		"Sec-WebSocket-Protocol: sample",
		"Upgrade: WebSocket",
		"Sec-WebSocket-Key1: "+key1,
		"Origin: http://example.com",
	), "^n:ds[4U"...)
}

func hixie76Response(answer string) []byte {
	return append(httpLines(
		"HTTP/1.1 101 WebSocket Protocol Handshake",
		"Upgrade: WebSocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Origin: http://example.com",
		"Sec-WebSocket-Location: ws://example.com/demo",
		"Sec-WebSocket-Protocol: sample",
	), answer...)
}

const (
	hixieKey1   = "4 @1  46546xW%0l 1 5"
	hixieKey2   = "12998 5 Y3 1  .P00"
	hixieAnswer = "8jKS'y:G*Co,Wxa-"
)

type handshakeCase struct {
	name      string
	req, resp []byte // resp nil: never answered
	cfg       Config
	want      []wantViol
	upgraded  bool
	proto     dissect.Protocol
	// rfcFrames sends an RFC 6455 text message "hi" each way after an
	// upgrade and expects both decoded.
	rfcFrames bool
	check     func(t *testing.T, h *dissect.Handshake)
}

func handshakeCases() []handshakeCase {
	req := func(lines ...string) []byte { return httpLines(lines...) }
	refused := httpLines("HTTP/1.1 403 Forbidden", "Content-Length: 0")
	return []handshakeCase{
		{
			name: "valid", req: req(baseRequest()...), resp: req(baseResponse()...),
			upgraded: true, rfcFrames: true,
			check: func(t *testing.T, h *dissect.Handshake) {
				if !h.AcceptValid {
					t.Errorf("AcceptValid = false for a correct accept value")
				}
			},
		},
		{
			name: "accept mismatch", req: req(baseRequest()...),
			resp:     req(setHeader(baseResponse(), "Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")...),
			want:     []wantViol{{"ws.accept_mismatch", srv, -1}},
			upgraded: true, rfcFrames: true,
			check: func(t *testing.T, h *dissect.Handshake) {
				if h.AcceptValid || h.ExpectedAccept != pcaptest.AcceptKey(pcaptest.DemoKey) {
					t.Errorf("AcceptValid=%v ExpectedAccept=%q", h.AcceptValid, h.ExpectedAccept)
				}
			},
		},
		{
			name: "missing accept", req: req(baseRequest()...),
			resp:     req(setHeader(baseResponse(), "Sec-WebSocket-Accept", "-")...),
			want:     []wantViol{{"ws.missing_accept", srv, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "missing key", req: req(setHeader(baseRequest(), "Sec-WebSocket-Key", "-")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.missing_key", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "key not 16 bytes", req: req(setHeader(baseRequest(), "Sec-WebSocket-Key", "c2hvcnQ=")...),
			resp:     req(setHeader(baseResponse(), "Sec-WebSocket-Accept", pcaptest.AcceptKey("c2hvcnQ="))...),
			want:     []wantViol{{"ws.bad_key", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "version 8", req: req(setHeader(baseRequest(), "Sec-WebSocket-Version", "8")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.bad_version", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "no version", req: req(setHeader(baseRequest(), "Sec-WebSocket-Version", "-")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.bad_version", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "method not GET", req: req(firstLine(baseRequest(), "POST /chat HTTP/1.1")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.method_not_get", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "HTTP/1.0 request", req: req(firstLine(baseRequest(), "GET /chat HTTP/1.0")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.http_version", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "Connection without upgrade", req: req(setHeader(baseRequest(), "Connection", "keep-alive")...),
			resp:     req(baseResponse()...),
			want:     []wantViol{{"ws.connection_not_upgrade", cli, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "every request fault at once",
			req: req(setHeader(setHeader(setHeader(firstLine(baseRequest(), "PUT /chat HTTP/1.0"),
				"Connection", "close"), "Sec-WebSocket-Key", "-"), "Sec-WebSocket-Version", "-")...),
			resp: req(baseResponse()...),
			want: []wantViol{
				{"ws.method_not_get", cli, -1}, {"ws.http_version", cli, -1},
				{"ws.connection_not_upgrade", cli, -1}, {"ws.missing_key", cli, -1},
				{"ws.bad_version", cli, -1},
			},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "101 without Upgrade header", req: req(baseRequest()...),
			resp:     req(setHeader(baseResponse(), "Upgrade", "-")...),
			want:     []wantViol{{"ws.bad_upgrade_response", srv, -1}},
			upgraded: true, rfcFrames: true,
		},
		{
			name: "subprotocol not offered",
			req:  req(setHeader(baseRequest(), "Sec-WebSocket-Protocol", "chat, json")...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Protocol", "superchat")...),
			want: []wantViol{{"ws.subprotocol_not_offered", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "subprotocol when none was offered",
			req:  req(baseRequest()...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Protocol", "chat")...),
			want: []wantViol{{"ws.subprotocol_not_offered", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name:     "offered subprotocol selected",
			req:      req(setHeader(baseRequest(), "Sec-WebSocket-Protocol", "chat, json")...),
			resp:     req(setHeader(baseResponse(), "Sec-WebSocket-Protocol", "json")...),
			upgraded: true, rfcFrames: true,
			check: func(t *testing.T, h *dissect.Handshake) {
				if h.Subprotocol != "json" || strings.Join(h.OfferedSubprotocols, ",") != "chat,json" {
					t.Errorf("Subprotocol %q offered %q", h.Subprotocol, h.OfferedSubprotocols)
				}
			},
		},
		{
			name: "extension not offered",
			req:  req(baseRequest()...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Extensions", "x-custom; level=2")...),
			want: []wantViol{{"ws.extension_not_offered", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "permessage-deflate not offered",
			req:  req(setHeader(baseRequest(), "Sec-WebSocket-Extensions", "x-other")...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Extensions", "permessage-deflate")...),
			want: []wantViol{{"ws.extension_not_offered", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "deflate window bits out of range",
			req:  req(setHeader(baseRequest(), "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=7")...),
			want: []wantViol{{"ws.deflate_params_invalid", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "request extensions malformed",
			req:  req(setHeader(baseRequest(), "Sec-WebSocket-Extensions", "permessage-deflate;;")...),
			resp: req(baseResponse()...),
			want: []wantViol{{"ws.extensions_malformed", cli, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "response extensions malformed",
			req:  req(setHeader(baseRequest(), "Sec-WebSocket-Extensions", "permessage-deflate")...),
			resp: req(setHeader(baseResponse(), "Sec-WebSocket-Extensions", "=x")...),
			want: []wantViol{{"ws.extensions_malformed", srv, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "upgrade refused", req: req(baseRequest()...), resp: refused,
			want: []wantViol{{"ws.upgrade_refused", srv, -1}},
			check: func(t *testing.T, h *dissect.Handshake) {
				if h.Response == nil || h.Response.StatusCode != 403 || h.Response.Reason != "Forbidden" {
					t.Errorf("response %+v, want 403 Forbidden", h.Response)
				}
			},
		},
		{
			name: "upgrade not answered", req: req(baseRequest()...),
			want: []wantViol{{"ws.upgrade_not_answered", cli, -1}},
			check: func(t *testing.T, h *dissect.Handshake) {
				if h.Response != nil {
					t.Errorf("response %+v, want none", h.Response)
				}
			},
		},
		{
			name: "header line without a colon",
			req:  req(append(baseRequest(), "NoColonHere")...),
			resp: req(baseResponse()...),
			want: []wantViol{{"http.malformed", cli, -1}}, upgraded: true, rfcFrames: true,
		},
		{
			name: "header block over the limit",
			req:  req(setHeader(baseRequest(), "X-Pad", strings.Repeat("x", 300))...),
			resp: req(baseResponse()...),
			cfg:  Config{Dissect: dissect.Config{MaxHeaderBlock: 256, MaxPayload: 1 << 10, MaxInflate: 1 << 20}},
			want: []wantViol{{"http.header_too_large", cli, -1}},
		},
		{
			name: "hixie-76", req: hixie76Request(hixieKey1, hixieKey2), resp: hixie76Response(hixieAnswer),
			upgraded: true, proto: dissect.ProtoHixie76,
			check: func(t *testing.T, h *dissect.Handshake) {
				if !h.ChallengeValid || string(h.ChallengeAnswer) != hixieAnswer || string(h.Key3) != "^n:ds[4U" {
					t.Errorf("ChallengeValid=%v answer %q key3 %q", h.ChallengeValid, h.ChallengeAnswer, h.Key3)
				}
			},
		},
		{
			name: "hixie-76 challenge mismatch", req: hixie76Request(hixieKey1, hixieKey2),
			resp: hixie76Response("0123456789abcdef"), upgraded: true, proto: dissect.ProtoHixie76,
			want: []wantViol{{"ws.challenge_mismatch", srv, -1}},
		},
		{
			name: "hixie-76 key without spaces", req: hixie76Request("12345", hixieKey2),
			resp: hixie76Response(hixieAnswer), upgraded: true, proto: dissect.ProtoHixie76,
			want: []wantViol{{"ws.hixie_key_no_spaces", cli, -1}},
		},
		{
			name: "hixie-76 key not divisible", req: hixie76Request(hixieKey1, "1 2 3"),
			resp: hixie76Response(hixieAnswer), upgraded: true, proto: dissect.ProtoHixie76,
			want: []wantViol{{"ws.hixie_key_not_divisible", cli, -1}},
		},
		{
			name: "hixie-76 key without digits", req: hixie76Request("a b", "c d"),
			resp: hixie76Response(hixieAnswer), upgraded: true, proto: dissect.ProtoHixie76,
			want: []wantViol{{"ws.hixie_key_invalid", cli, -1}, {"ws.hixie_key_invalid", cli, -1}},
		},
		{
			name: "hixie-75",
			req: req("GET /demo HTTP/1.1", "Upgrade: WebSocket", "Connection: Upgrade",
				"Host: example.com", "Origin: http://example.com"),
			resp: req("HTTP/1.1 101 Web Socket Protocol Handshake", "Upgrade: WebSocket", "Connection: Upgrade",
				"WebSocket-Origin: http://example.com", "WebSocket-Location: ws://example.com/demo"),
			upgraded: true, proto: dissect.ProtoHixie75,
		},
	}
}

// TestHandshakeViolationsEndToEnd writes one conversation per handshake
// fault and checks the exact violations, whether the upgrade happened, and
// that the frames after it are decoded.
func TestHandshakeViolationsEndToEnd(t *testing.T) {
	for _, tc := range handshakeCases() {
		t.Run(tc.name, func(t *testing.T) {
			k := newGenConn()
			k.Send(true, tc.req)
			if tc.resp != nil {
				k.Send(false, tc.resp)
			}
			if tc.rfcFrames {
				k.Send(true, cFrame(pcaptest.OpText, "hi"))
				k.Send(false, sFrame(pcaptest.OpText, "hi"))
			}
			k.Close()
			c := onlyConv(t, runCapture(t, k.Capture(), tc.cfg))
			checkViolations(t, c, tc.want...)
			if tc.name == "header block over the limit" {
				if len(c.handshakes) != 0 || c.summary.IsWebSocket {
					t.Errorf("handshakes %d IsWebSocket %v, want none and false", len(c.handshakes), c.summary.IsWebSocket)
				}
				return
			}
			if len(c.handshakes) != 1 {
				t.Fatalf("got %d handshakes, want 1\n%s", len(c.handshakes), strings.Join(c.log, "\n"))
			}
			h := &c.handshakes[0]
			proto := tc.proto
			if proto == "" {
				proto = dissect.ProtoRFC6455
			}
			if h.Protocol != proto || h.Upgraded != tc.upgraded || c.summary.IsWebSocket != tc.upgraded {
				t.Errorf("Protocol %s Upgraded %v IsWebSocket %v, want %s %v %v", h.Protocol, h.Upgraded, c.summary.IsWebSocket, proto, tc.upgraded, tc.upgraded)
			}
			if c.ref.Client != genClient.IP.String()+":50000" {
				t.Errorf("client %s, want %s:50000", c.ref.Client, genClient.IP)
			}
			if tc.rfcFrames {
				checkMessages(t, c, mk(cli, dissect.OpText, "hi"), mk(srv, dissect.OpText, "hi"))
			} else if len(c.frames) != 0 {
				t.Errorf("got %d frames, want none", len(c.frames))
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

// TestEndToEndGapInFrame drops one TCP segment in the middle of a client
// frame: the client direction reports the gap once and stops (out of
// sync), the frames before it stay decoded, the server direction is
// decoded to its end.
func TestEndToEndGapInFrame(t *testing.T) {
	k := newGenConn(pcaptest.WithMSS(100))
	genUpgrade(k, nil, nil)
	k.Send(true, cFrame(pcaptest.OpText, "one"))
	k.Send(false, sFrame(pcaptest.OpText, "s1"))
	big := strings.Repeat("0123456789", 45) // 450 bytes: 8 header bytes, 458 on the wire
	start := k.Offset(true)
	segs := k.Send(true, cFrame(pcaptest.OpBinary, big))
	if len(segs) != 5 {
		t.Fatalf("binary frame in %d segments, want 5", len(segs))
	}
	lostAt := start + 200 // the third segment
	k.Send(true, cFrame(pcaptest.OpText, "lost"))
	k.Send(false, sFrame(pcaptest.OpText, "s2"))
	k.Send(false, sFrame(pcaptest.OpPing, "p"))
	k.Send(true, cFrame(pcaptest.OpClose, closePayload(1000, "")))
	k.Send(false, sFrame(pcaptest.OpClose, closePayload(1000, "")))
	k.Close()
	cp := k.Capture()
	cp.Packets = append(cp.Packets[:segs[2]], cp.Packets[segs[2]+1:]...)

	c := onlyConv(t, runCapture(t, cp, Config{}))
	checkViolations(t, c)
	if len(c.gaps) != 1 {
		t.Fatalf("got %d gaps, want 1\n%s", len(c.gaps), strings.Join(c.log, "\n"))
	}
	g := c.gaps[0]
	if g.Dir != cli || g.Length != 100 || !g.InFrame {
		t.Errorf("gap %+v, want client, 100 bytes, in a frame", g)
	}
	st := c.summary.Stats
	if !st[cli].OutOfSync || st[srv].OutOfSync {
		t.Errorf("OutOfSync client=%v server=%v, want true false", st[cli].OutOfSync, st[srv].OutOfSync)
	}
	if st[cli].GapBytes != 100 {
		t.Errorf("client GapBytes %d, want 100", st[cli].GapBytes)
	}
	// After the gap: the rest of the binary frame (158 bytes), "lost"
	// (10 bytes on the wire) and the close frame (8 bytes).
	if st[cli].UndecodedTail != 158+10+8 {
		t.Errorf("client UndecodedTail %d, want %d", st[cli].UndecodedTail, 158+10+8)
	}
	if tcp := c.summary.TCP[cli]; tcp.Gaps != 1 || tcp.GapBytes != 100 {
		t.Errorf("client TCP gaps %d/%dB, want 1/100B", tcp.Gaps, tcp.GapBytes)
	}
	if n := framesFrom(t, c, cli); n != 1 {
		t.Errorf("client frames %d, want 1 (\"one\")", n)
	}
	if n := framesFrom(t, c, srv); n != 4 {
		t.Errorf("server frames %d, want 4", n)
	}
	// The two segments before the gap hold the 8 header bytes and 192
	// payload bytes. When the gap is declared depends on the reassembler's
	// timeouts, so each direction is compared on its own.
	checkMessagesFrom(t, c, cli,
		mk(cli, dissect.OpText, "one"),
		mk(cli, dissect.OpBinary, big[:192])+" incomplete",
	)
	checkMessagesFrom(t, c, srv,
		mk(srv, dissect.OpText, "s1"),
		mk(srv, dissect.OpText, "s2"),
		mk(srv, dissect.OpPing, "p"),
		mk(srv, dissect.OpClose, closePayload(1000, "")),
	)
	cl := c.summary.Close
	if cl.Sent[cli] || !cl.Sent[srv] || cl.Clean {
		t.Errorf("close %+v: want only the server's close seen", cl)
	}
	t.Run("offset", func(t *testing.T) {
		// Gap.Offset counts from the start of the direction (event.go).
		if g.Offset != uint64(lostAt) {
			t.Errorf("Gap.Offset %d, want %d (stream offset of the lost segment; %d is its offset after the %d-byte request)",
				g.Offset, lostAt, lostAt-int64(len(pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey))),
				len(pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey)))
		}
	})
}

// writeBareWS writes a WebSocket conversation without an opening
// handshake on k: the side named by serverFirst speaks first.
func writeBareWS(k *pcaptest.Conn, serverFirst bool) {
	if serverFirst {
		k.Send(false, sFrame(pcaptest.OpText, "welcome"))
		k.Send(true, cFrame(pcaptest.OpText, "hello"))
	} else {
		k.Send(true, cFrame(pcaptest.OpText, "hello"))
		k.Send(false, sFrame(pcaptest.OpText, "welcome"))
	}
	k.Send(true, pcaptest.Frame{Opcode: pcaptest.OpBinary, Masked: true, Mask: genMask, Payload: []byte{1, 2}}.Bytes())
	k.Send(true, cFrame(pcaptest.OpCont, "\x03"))
	k.Send(false, sFrame(pcaptest.OpPing, "hb"))
	k.Send(true, cFrame(pcaptest.OpPong, "hb"))
	k.Send(true, cFrame(pcaptest.OpClose, closePayload(1001, "away")))
	k.Send(false, sFrame(pcaptest.OpClose, closePayload(1001, "")))
}

// bareWSMessages are the messages of writeBareWS, client's then server's.
var bareWSMessages = [2][]string{
	{
		mk(cli, dissect.OpText, "hello"),
		mk(cli, dissect.OpBinary, "\x01\x02\x03"),
		mk(cli, dissect.OpPong, "hb"),
		mk(cli, dissect.OpClose, closePayload(1001, "away")),
	},
	{
		mk(srv, dissect.OpText, "welcome"),
		mk(srv, dissect.OpPing, "hb"),
		mk(srv, dissect.OpClose, closePayload(1001, "")),
	},
}

// TestEndToEndDecodeAs decodes conversations whose opening handshake was
// not captured, with Config.WSPorts.
func TestEndToEndDecodeAs(t *testing.T) {
	a := pcaptest.Endpoint{IP: genClient.IP, Port: 9000}
	b := pcaptest.Endpoint{IP: genServer.IP, Port: 9000}
	cases := []struct {
		name        string
		client, srv pcaptest.Endpoint
		syn         bool
		serverFirst bool
		ports       []uint16
	}{
		// The server's port names the server.
		{"SYN, client first", genClient, genServer, true, false, []uint16{8080}},
		{"no SYN, server first, server port", genClient, genServer, false, true, []uint16{8080}},
		// Both ends on the same port: the port cannot tell; the SYN or
		// the mask bit of the first frame must.
		{"same ports, SYN, server first", a, b, true, true, []uint16{9000}},
		{"same ports, no SYN, server first", a, b, false, true, []uint16{9000}},
		{"same ports, no SYN, client first", a, b, false, false, []uint16{9000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := pcaptest.NewConn(tc.client, tc.srv)
			if tc.syn {
				k.Handshake()
			}
			writeBareWS(k, tc.serverFirst)
			k.Close()
			c := onlyConv(t, runCapture(t, k.Capture(), Config{WSPorts: tc.ports}))
			if !c.summary.IsWebSocket || len(c.handshakes) != 0 {
				t.Fatalf("IsWebSocket %v handshakes %d, want true 0", c.summary.IsWebSocket, len(c.handshakes))
			}
			wantClient := netipAddrPort(tc.client)
			if c.ref.Client != wantClient || c.ref.Server != netipAddrPort(tc.srv) {
				t.Errorf("client %s server %s, want %s %s", c.ref.Client, c.ref.Server, wantClient, netipAddrPort(tc.srv))
			}
			// Without a SYN the first packet's sender is taken as the
			// opener; when that is the server the roles are swapped.
			if want := !tc.syn && tc.serverFirst; c.ref.Swapped != want {
				t.Errorf("Swapped %v, want %v", c.ref.Swapped, want)
			}
			checkViolations(t, c)
			checkMessagesFrom(t, c, cli, bareWSMessages[cli]...)
			checkMessagesFrom(t, c, srv, bareWSMessages[srv]...)
			if n := framesFrom(t, c, cli); n != 5 {
				t.Errorf("client frames %d, want 5", n)
			}
			if n := framesFrom(t, c, srv); n != 3 {
				t.Errorf("server frames %d, want 3", n)
			}
			if cl := c.summary.Close; !cl.Clean || cl.Initiator != cli {
				t.Errorf("close %+v, want clean, by the client", cl)
			}
		})
	}

	// With its SYN captured, the connection's opener is the client even
	// when its first frame is unmasked: the fault is reported against the
	// client, not taken as a sign that it is the server.
	t.Run("SYN wins over the mask bit", func(t *testing.T) {
		k := pcaptest.NewConn(a, b)
		k.Handshake()
		k.Send(true, pcaptest.Frame{Fin: true, Opcode: pcaptest.OpText, Payload: []byte("bare")}.Bytes())
		k.Send(false, sFrame(pcaptest.OpText, "ok"))
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{WSPorts: []uint16{9000}}))
		if c.ref.Client != netipAddrPort(a) {
			t.Errorf("client %s, want %s", c.ref.Client, netipAddrPort(a))
		}
		checkViolations(t, c, wantViol{"ws.client_frame_unmasked", cli, 0})
		checkMessages(t, c, mk(cli, dissect.OpText, "bare"), mk(srv, dissect.OpText, "ok"))
	})

	// Without WSPorts the same conversation is not WebSocket.
	t.Run("without WSPorts", func(t *testing.T) {
		k := newGenConn()
		writeBareWS(k, false)
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		if c.summary.IsWebSocket || len(c.handshakes) != 0 || len(c.frames) != 0 || len(c.messages) != 0 {
			t.Errorf("IsWebSocket %v handshakes %d frames %d messages %d, want false 0 0 0\n%s",
				c.summary.IsWebSocket, len(c.handshakes), len(c.frames), len(c.messages), strings.Join(c.log, "\n"))
		}
		// The first byte (0x81) cannot start a request line.
		checkViolations(t, c) // a stream that never spoke HTTP is quietly not HTTP
		var sent uint64
		for _, p := range k.Capture().Packets {
			sent += uint64(len(p.Payload))
		}
		t.Run("undecoded count", func(t *testing.T) {
			if got := c.summary.Stats[cli].UndecodedTail + c.summary.Stats[srv].UndecodedTail; got != sent {
				t.Errorf("UndecodedTail %d in all, want every byte sent (%d)", got, sent)
			}
		})
	})
}

func netipAddrPort(e pcaptest.Endpoint) string {
	return netip.AddrPortFrom(e.IP, e.Port).String()
}

// frameKeys lists the frames of c in a form that does not depend on
// timing: direction, index, header fields and payload.
func frameKeys(c *recConv) []string {
	var out []string
	for _, f := range c.frames {
		out = append(out, strings.Join([]string{f.Dir.String(), strconv.FormatUint(f.Index, 10),
			strconv.FormatBool(f.Fin), strconv.Itoa(int(f.Rsv)), f.Opcode.String(),
			strconv.FormatBool(f.Masked), strconv.FormatUint(f.Length, 10), strconv.Quote(string(f.Payload))}, " "))
	}
	return out
}

// TestEndToEndHTTPPhase covers the ways the opening handshake reaches the
// dissector: coalesced with frames, one byte per segment, after ordinary
// HTTP exchanges, after a refused upgrade, and never answered.
func TestEndToEndHTTPPhase(t *testing.T) {
	t.Run("101 coalesced with the first server frames", func(t *testing.T) {
		k := newGenConn()
		k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey))
		seg := append(pcaptest.UpgradeResponse(pcaptest.DemoKey), sFrame(pcaptest.OpText, "first")...)
		seg = append(seg, sFrame(pcaptest.OpBinary, "\x00second")...)
		if n := len(k.Send(false, seg)); n != 1 {
			t.Fatalf("response and frames in %d segments, want 1", n)
		}
		k.Send(true, cFrame(pcaptest.OpText, "reply"))
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		checkViolations(t, c)
		if len(c.handshakes) != 1 || !c.handshakes[0].Upgraded {
			t.Fatalf("handshakes %d, want 1 upgraded\n%s", len(c.handshakes), strings.Join(c.log, "\n"))
		}
		checkMessages(t, c, mk(srv, dissect.OpText, "first"), mk(srv, dissect.OpBinary, "\x00second"), mk(cli, dissect.OpText, "reply"))
	})

	t.Run("one byte per segment", func(t *testing.T) {
		script := func(k *pcaptest.Conn) {
			genUpgrade(k, []string{"Sec-WebSocket-Protocol: chat"}, []string{"Sec-WebSocket-Protocol: chat"})
			k.Send(true, cFrame(pcaptest.OpText, "hello"))
			k.Send(false, sFrame(pcaptest.OpText, "world"))
			k.Send(true, cFrame(pcaptest.OpBinary, strings.Repeat("b", 300)))
			k.Send(true, pcaptest.Frame{Opcode: pcaptest.OpText, Masked: true, Mask: genMask, Payload: []byte("frag ")}.Bytes())
			k.Send(true, cFrame(pcaptest.OpCont, "ment"))
			k.Send(true, cFrame(pcaptest.OpClose, closePayload(1000, "")))
			k.Send(false, sFrame(pcaptest.OpClose, closePayload(1000, "")))
			k.Close()
		}
		whole := newGenConn()
		script(whole)
		tiny := newGenConn(pcaptest.WithMSS(1))
		script(tiny)
		if n, m := len(whole.Capture().Packets), len(tiny.Capture().Packets); m < 10*n {
			t.Fatalf("%d packets with MSS 1, %d without: not split", m, n)
		}
		cw := onlyConv(t, runCapture(t, whole.Capture(), Config{}))
		ct := onlyConv(t, runCapture(t, tiny.Capture(), Config{}))
		for _, c := range []*recConv{cw, ct} {
			checkViolations(t, c)
			if len(c.handshakes) != 1 || !c.handshakes[0].Upgraded || c.handshakes[0].Subprotocol != "chat" ||
				len(c.handshakes[0].Request.Headers) != 6 || len(c.handshakes[0].Response.Headers) != 4 {
				t.Fatalf("handshake not parsed whole\n%s", strings.Join(c.log, "\n"))
			}
			checkMessages(t, c,
				mk(cli, dissect.OpText, "hello"), mk(srv, dissect.OpText, "world"),
				mk(cli, dissect.OpBinary, strings.Repeat("b", 300)), mk(cli, dissect.OpText, "frag ment"),
				mk(cli, dissect.OpClose, closePayload(1000, "")), mk(srv, dissect.OpClose, closePayload(1000, "")))
		}
		if w, s := strings.Join(frameKeys(cw), "\n"), strings.Join(frameKeys(ct), "\n"); w != s {
			t.Errorf("frames differ with one-byte segments:\n%s\n---\n%s", w, s)
		}
	})

	t.Run("keep-alive exchanges before the upgrade", func(t *testing.T) {
		k := newGenConn()
		k.Send(true, httpLines("GET /a HTTP/1.1", "Host: example.com"))
		k.Send(false, append(httpLines("HTTP/1.1 200 OK", "Content-Length: 5"), "hello"...))
		k.Send(true, httpLines("GET /b HTTP/1.1", "Host: example.com"))
		k.Send(false, append(httpLines("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"...))
		k.Send(true, httpLines("HEAD /c HTTP/1.1", "Host: example.com"))
		k.Send(false, httpLines("HTTP/1.1 200 OK", "Content-Length: 1000"))
		k.Send(true, append(httpLines("POST /d HTTP/1.1", "Host: example.com", "Content-Length: 4"), "data"...))
		k.Send(false, httpLines("HTTP/1.1 204 No Content"))
		// Two requests in one segment (pipelined), answered in one.
		k.Send(true, append(httpLines("GET /e HTTP/1.1", "Host: example.com"), httpLines("GET /f HTTP/1.1", "Host: example.com")...))
		k.Send(false, append(httpLines("HTTP/1.1 304 Not Modified"), append(httpLines("HTTP/1.1 200 OK", "Content-Length: 2"), "ok"...)...))
		genUpgrade(k, nil, nil)
		k.Send(true, cFrame(pcaptest.OpText, "upgraded"))
		k.Send(false, sFrame(pcaptest.OpText, "yes"))
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		checkViolations(t, c)
		if len(c.handshakes) != 1 || !c.handshakes[0].Upgraded || c.handshakes[0].Request.URI != "/chat" {
			t.Fatalf("want one upgrade of /chat\n%s", strings.Join(c.log, "\n"))
		}
		checkMessages(t, c, mk(cli, dissect.OpText, "upgraded"), mk(srv, dissect.OpText, "yes"))
	})

	t.Run("refused upgrade then a successful one", func(t *testing.T) {
		k := newGenConn()
		k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat", "AAAAAAAAAAAAAAAAAAAAAA=="))
		k.Send(false, append(httpLines("HTTP/1.1 403 Forbidden", "Content-Type: text/plain", "Content-Length: 10"), "forbidden\n"...))
		k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat?token=1", pcaptest.DemoKey))
		k.Send(false, append(pcaptest.UpgradeResponse(pcaptest.DemoKey), sFrame(pcaptest.OpText, "welcome")...))
		k.Send(true, cFrame(pcaptest.OpText, "thanks"))
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		checkViolations(t, c, wantViol{"ws.upgrade_refused", srv, -1})
		if len(c.handshakes) != 2 {
			t.Fatalf("got %d handshakes, want 2\n%s", len(c.handshakes), strings.Join(c.log, "\n"))
		}
		h0, h1 := c.handshakes[0], c.handshakes[1]
		if h0.Upgraded || h0.Response == nil || h0.Response.StatusCode != 403 || h0.Request.URI != "/chat" {
			t.Errorf("first handshake: Upgraded %v response %+v URI %q, want refused 403 /chat", h0.Upgraded, h0.Response, h0.Request.URI)
		}
		if !h1.Upgraded || !h1.AcceptValid || h1.Request.URI != "/chat?token=1" {
			t.Errorf("second handshake: Upgraded %v AcceptValid %v URI %q", h1.Upgraded, h1.AcceptValid, h1.Request.URI)
		}
		if !c.summary.IsWebSocket || c.summary.Handshake == nil || c.summary.Handshake.Request.URI != "/chat?token=1" {
			t.Errorf("summary: IsWebSocket %v, handshake %+v: want the second one", c.summary.IsWebSocket, c.summary.Handshake)
		}
		checkMessages(t, c, mk(srv, dissect.OpText, "welcome"), mk(cli, dissect.OpText, "thanks"))
	})

	t.Run("upgrade never answered", func(t *testing.T) {
		k := newGenConn()
		k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey))
		k.Ack(false)
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		checkViolations(t, c, wantViol{"ws.upgrade_not_answered", cli, -1})
		if len(c.handshakes) != 1 || c.handshakes[0].Response != nil || c.handshakes[0].Upgraded || c.summary.IsWebSocket {
			t.Errorf("want one unanswered handshake and no WebSocket\n%s", strings.Join(c.log, "\n"))
		}
	})

	t.Run("client sends too much while waiting for the answer", func(t *testing.T) {
		k := newGenConn()
		k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey))
		junk := make([]byte, 1<<20+1)
		k.Send(true, junk)
		k.Send(false, pcaptest.UpgradeResponse(pcaptest.DemoKey))
		k.Close()
		c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
		checkViolations(t, c, wantViol{"http.pending_limit", cli, -1}, wantViol{"ws.upgrade_not_answered", cli, -1})
		if c.summary.IsWebSocket || len(c.frames) != 0 {
			t.Errorf("IsWebSocket %v frames %d, want false 0", c.summary.IsWebSocket, len(c.frames))
		}
	})
}

// TestEndToEndTextOutputIsSafe runs a conversation full of terminal
// control sequences (ESC [ 2 J, ESC ] 52 clipboard writes, BEL, backspace,
// C1 controls as UTF-8 and as raw bytes) in a payload, a close reason, the
// URI, header values, the status reason and a subprotocol name through
// report.Text, and checks that none reaches the output raw.
func TestEndToEndTextOutputIsSafe(t *testing.T) {
	const nasty = "\x1b[2J\x1b]52;c;ZXZpbA==\x07back\x08\x08\x08\xc2\x9b31m\xc2\x85\xc2\x9d\u202eend"
	k := newGenConn()
	k.Send(true, httpLines(
		"GET /x\xc2\x9b2J\x9b?q=\xc2\x85 HTTP/1.1",
		"Host: evil\x1b[2J.example",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: "+pcaptest.DemoKey,
		"Sec-WebSocket-Version: 13",
		"X-Title: \x1b]52;c;aGk=\x07\x08\x08\xc2\x9b31m",
		"Sec-WebSocket-Protocol: chat\x1b[31m\x07",
		"X-Weird-\x9b: \x9b",
	))
	k.Send(false, httpLines(
		"HTTP/1.1 101 Switching \x9bProtocols\xc2\x9d",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Accept: "+pcaptest.AcceptKey(pcaptest.DemoKey),
		"Sec-WebSocket-Protocol: evil\x1b]0;title\x07",
	))
	k.Send(true, cFrame(pcaptest.OpText, nasty))
	k.Send(false, sFrame(pcaptest.OpText, "bad \x1b[2J\xff\x07"))
	k.Send(false, sFrame(pcaptest.OpPing, nasty))
	k.Send(true, cFrame(pcaptest.OpPong, nasty))
	k.Send(true, cFrame(pcaptest.OpBinary, nasty))
	k.Send(true, cFrame(pcaptest.OpClose, closePayload(1000, nasty)))
	k.Send(false, sFrame(pcaptest.OpClose, closePayload(4000, "\x1b[2J\x07\xc2\x9b")))
	k.Close()
	cp := k.Capture()

	check := func(t *testing.T, out []byte) {
		t.Helper()
		for i, c := range out {
			if c == 0x1b || c == 0x07 || c == 0x08 {
				t.Fatalf("byte %#02x at %d of the output: %q", c, i, out[max(0, i-40):min(len(out), i+40)])
			}
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not valid UTF-8 (a raw byte from the wire went through): %q", out)
		}
		for i, r := range string(out) {
			if r >= 0x80 && r <= 0x9f || r == 0x202e {
				t.Fatalf("control U+%04X at %d of the output: %q", r, i, out[max(0, i-40):min(len(out), i+40)])
			}
		}
	}
	modes := []struct {
		name string
		o    report.TextOptions
	}{
		{"default", report.TextOptions{}},
		{"-v", report.TextOptions{Verbose: true}},
		{"-x", report.TextOptions{Hex: true}},
		{"-v -x", report.TextOptions{Verbose: true, Hex: true}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var buf bytes.Buffer
			m.o.Location = time.UTC
			tx := report.NewText(&buf, m.o)
			runCaptureTo(t, cp, Config{}, tx)
			if err := tx.Flush(); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			check(t, out)
			// What was escaped did reach the output.
			for _, want := range []string{
				`"\e[2J\e]52;c;ZXZpbA==\x07back\x08\x08\x08\u{9b}31m\u{85}\u{9d}\u{202e}end"`, // text payload
				`/x\u{9b}2J\x9b?q=\u{85}`,           // URI
				`host=evil\e[2J.example`,            // Host
				`101 Switching \x9bProtocols\u{9d}`, // status reason
				`subprotocol=evil\e]0;title\x07`,    // selected subprotocol
				`close 44 1000 normal "\e[2J`,       // close reason
				`close 9 4000 "\e[2J\x07\u{9b}"`,
			} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("output lacks %s\n%s", want, out)
				}
			}
			if m.o.Verbose {
				for _, want := range []string{
					`X-Title: \e]52;c;aGk=\x07\x08\x08\u{9b}31m`,
					`Sec-WebSocket-Protocol: chat\e[31m\x07`,
				} {
					if !bytes.Contains(out, []byte(want)) {
						t.Errorf("output lacks %s\n%s", want, out)
					}
				}
			}
		})
	}
	// Every preview length, so that cuts fall inside escape sequences and
	// inside multi-byte characters.
	t.Run("preview lengths", func(t *testing.T) {
		for p := 1; p <= len(nasty)+2; p++ {
			var buf bytes.Buffer
			tx := report.NewText(&buf, report.TextOptions{Preview: p, Verbose: true, Location: time.UTC})
			runCaptureTo(t, cp, Config{}, tx)
			if err := tx.Flush(); err != nil {
				t.Fatal(err)
			}
			check(t, buf.Bytes())
		}
	})
}

// TestEndToEndHixieFrames decodes the data frames of hixie-76 and hixie-75
// conversations: a sentinel frame is a text message, 0xFF 0x00 the closing
// handshake.
func TestEndToEndHixieFrames(t *testing.T) {
	cases := []struct {
		name      string
		req, resp []byte
	}{
		{"hixie-76", hixie76Request(hixieKey1, hixieKey2), hixie76Response(hixieAnswer)},
		{"hixie-75",
			httpLines("GET /demo HTTP/1.1", "Upgrade: WebSocket", "Connection: Upgrade",
				"Host: example.com", "Origin: http://example.com"),
			httpLines("HTTP/1.1 101 Web Socket Protocol Handshake", "Upgrade: WebSocket", "Connection: Upgrade",
				"WebSocket-Origin: http://example.com", "WebSocket-Location: ws://example.com/demo")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := newGenConn()
			k.Send(true, tc.req)
			k.Send(false, tc.resp)
			k.Send(true, []byte("\x00hello\xff"))
			k.Send(false, []byte("\x00hi\xff\x00again\xff"))
			k.Close()
			c := onlyConv(t, runCapture(t, k.Capture(), Config{}))
			checkViolations(t, c)
			checkMessages(t, c, mk(cli, dissect.OpText, "hello"), mk(srv, dissect.OpText, "hi"), mk(srv, dissect.OpText, "again"))
		})
	}
}

// deflated compresses s as one permessage-deflate message: raw DEFLATE,
// flushed, without the final 00 00 FF FF (RFC 7692 §7.2.1).
func deflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write([]byte(s))
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}
