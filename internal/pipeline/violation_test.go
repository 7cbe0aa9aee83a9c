package pipeline

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
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
	genUpgrade(k, nil, nil)
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
			checkMessages(t, c, msgs...)
			for _, v := range c.violations {
				if v.Ref == "" || v.Detail == "" {
					t.Errorf("violation %s without reference or detail: %+v", v.Code, v)
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
