package dissect

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/wsdump/wsdump/internal/testutil"
)

// Length encodings for buildWSFrame.
const (
	lenForm7  = 0 // the shortest form for the length
	lenForm16 = 126
	lenForm64 = 127
)

// wsTestFrame describes a frame for buildWSFrame.
type wsTestFrame struct {
	fin     bool
	rsv     uint8
	op      Opcode
	mask    *[4]byte // nil: unmasked
	payload []byte
	form    int    // lenForm7 (shortest), lenForm16 or lenForm64 forced
	length  uint64 // announced length when lenSet; otherwise len(payload)
	lenSet  bool
}

// buildWSFrame encodes f as RFC 6455 §5.2 lays it out, masking the payload
// with f.mask when set.
func buildWSFrame(f wsTestFrame) []byte {
	var b []byte
	b0 := byte(f.op&0xF) | (f.rsv&7)<<4
	if f.fin {
		b0 |= 0x80
	}
	b = append(b, b0)
	n := uint64(len(f.payload))
	if f.lenSet {
		n = f.length
	}
	var m byte
	if f.mask != nil {
		m = 0x80
	}
	form := f.form
	if form == lenForm7 {
		switch {
		case n > 0xFFFF:
			form = lenForm64
		case n > 125:
			form = lenForm16
		}
	}
	switch form {
	case lenForm16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	case lenForm64:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, n)
	default:
		b = append(b, m|byte(n))
	}
	if f.mask != nil {
		b = append(b, f.mask[:]...)
	}
	start := len(b)
	b = append(b, f.payload...)
	if f.mask != nil {
		for i := start; i < len(b); i++ {
			b[i] ^= f.mask[(i-start)%4]
		}
	}
	return b
}

func TestParseFrameHeader(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want frameHeader
	}{
		{
			name: "unmasked text, 5 bytes",
			wire: []byte{0x80 | 0x1, 0x00 | 5},
			want: frameHeader{fin: true, opcode: OpText, length: 5, headerLen: 2},
		},
		{
			name: "masked text, 5 bytes (RFC 6455 §5.7 example)",
			wire: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d},
			want: frameHeader{fin: true, opcode: OpText, masked: true, mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}, length: 5, headerLen: 6},
		},
		{
			name: "first fragment, no FIN",
			wire: []byte{0x00 | 0x1, 0x03},
			want: frameHeader{opcode: OpText, length: 3, headerLen: 2},
		},
		{
			name: "RSV1 RSV2 RSV3 each",
			wire: []byte{0x80 | 0x40 | 0x20 | 0x10 | 0x2, 0x00},
			want: frameHeader{fin: true, rsv: 7, opcode: OpBinary, headerLen: 2},
		},
		{
			name: "RSV1 alone",
			wire: []byte{0x80 | 0x40 | 0x1, 0x00},
			want: frameHeader{fin: true, rsv: 4, opcode: OpText, headerLen: 2},
		},
		{
			name: "RSV3 alone, reserved opcode 0xB",
			wire: []byte{0x80 | 0x10 | 0xB, 0x00},
			want: frameHeader{fin: true, rsv: 1, opcode: 0xB, headerLen: 2},
		},
		{
			name: "125 in 7 bits",
			wire: []byte{0x82, 125},
			want: frameHeader{fin: true, opcode: OpBinary, length: 125, headerLen: 2},
		},
		{
			name: "126 in 16 bits",
			wire: []byte{0x82, 126, 0x00, 0x7E},
			want: frameHeader{fin: true, opcode: OpBinary, length: 126, headerLen: 4},
		},
		{
			name: "65535 in 16 bits, masked",
			wire: []byte{0x82, 0x80 | 126, 0xFF, 0xFF, 1, 2, 3, 4},
			want: frameHeader{fin: true, opcode: OpBinary, masked: true, mask: [4]byte{1, 2, 3, 4}, length: 65535, headerLen: 8},
		},
		{
			name: "65536 in 64 bits",
			wire: []byte{0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00},
			want: frameHeader{fin: true, opcode: OpBinary, length: 65536, headerLen: 10},
		},
		{
			name: "64-bit length, masked: 14-byte header",
			wire: []byte{0x02, 0x80 | 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0xA, 0xB, 0xC, 0xD},
			want: frameHeader{opcode: OpBinary, masked: true, mask: [4]byte{0xA, 0xB, 0xC, 0xD}, length: 0x0102030405, headerLen: 14},
		},
		{
			name: "non-minimal: 5 in 16 bits",
			wire: []byte{0x81, 126, 0x00, 0x05},
			want: frameHeader{fin: true, opcode: OpText, length: 5, headerLen: 4, nonMinimal: true},
		},
		{
			name: "non-minimal: 125 in 16 bits",
			wire: []byte{0x81, 126, 0x00, 125},
			want: frameHeader{fin: true, opcode: OpText, length: 125, headerLen: 4, nonMinimal: true},
		},
		{
			name: "non-minimal: 258 in 64 bits (close frame)",
			wire: []byte{0x88, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x02},
			want: frameHeader{fin: true, opcode: OpClose, length: 258, headerLen: 10, nonMinimal: true},
		},
		{
			name: "non-minimal: 65535 in 64 bits",
			wire: []byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
			want: frameHeader{fin: true, opcode: OpBinary, length: 65535, headerLen: 10, nonMinimal: true},
		},
		{
			name: "top bit set: decoded as a number",
			wire: []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0x07},
			want: frameHeader{fin: true, opcode: OpBinary, length: 1<<63 | 7, headerLen: 10, topBit: true},
		},
		{
			name: "all ones",
			wire: []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
			want: frameHeader{fin: true, rsv: 7, opcode: 0xF, masked: true, mask: [4]byte{0xFF, 0xFF, 0xFF, 0xFF}, length: ^uint64(0), headerLen: 14, topBit: true},
		},
		{
			name: "close, empty, masked",
			wire: []byte{0x88, 0x80, 0, 0, 0, 0},
			want: frameHeader{fin: true, opcode: OpClose, masked: true, headerLen: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Trailing bytes are payload and must not change anything.
			wire := append(append([]byte{}, tt.wire...), 0xEE, 0xEE)
			got, n := parseFrameHeader(wire)
			if n != len(tt.wire) {
				t.Fatalf("n = %d; want %d", n, len(tt.wire))
			}
			if got != tt.want {
				t.Fatalf("header\n got %+v\nwant %+v", got, tt.want)
			}
			// Every shorter prefix asks for more bytes.
			for i := 0; i < len(tt.wire); i++ {
				if h, n := parseFrameHeader(tt.wire[:i]); n != 0 || h != (frameHeader{}) {
					t.Fatalf("prefix of %d bytes: n = %d, h = %+v; want 0 and zero header", i, n, h)
				}
			}
		})
	}
}

func TestBuildFrameMatchesRFCExample(t *testing.T) {
	// RFC 6455 §5.7: a single-frame masked text message "Hello".
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	got := buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: &[4]byte{0x37, 0xfa, 0x21, 0x3d}, payload: []byte("Hello")})
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x; want % x", got, want)
	}
}

func TestParseFrameHeaderAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; .ci/run runs this test in a normal build")
	}
	wire := []byte{0x02, 0x80 | 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0xA, 0xB, 0xC, 0xD}
	if a := testing.AllocsPerRun(100, func() { parseFrameHeader(wire) }); a != 0 {
		t.Fatalf("allocs = %v; want 0", a)
	}
}

// FuzzFrameHeader checks that any input parses without panicking, and that
// a parsed header encodes back to the same bytes.
func FuzzFrameHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d})
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0x07})
	f.Add([]byte{0x88, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x02})
	f.Add([]byte{0x02, 0x80 | 126, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n := parseFrameHeader(b)
		if n == 0 {
			if len(b) >= maxFrameHeaderLen {
				t.Fatalf("no header in %d bytes", len(b))
			}
			return
		}
		if n < 2 || n > maxFrameHeaderLen || n > len(b) || n != h.headerLen {
			t.Fatalf("n = %d, headerLen = %d, len(b) = %d", n, h.headerLen, len(b))
		}
		form := lenForm7
		switch b[1] & 0x7F {
		case 126:
			form = lenForm16
		case 127:
			form = lenForm64
		}
		var mask *[4]byte
		if h.masked {
			mask = &h.mask
		}
		re := buildWSFrame(wsTestFrame{fin: h.fin, rsv: h.rsv, op: h.opcode, mask: mask, form: form, length: h.length, lenSet: true})
		if !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoded % x; want % x", re, b[:n])
		}
		if h.nonMinimal != (form == lenForm16 && h.length < 126 || form == lenForm64 && h.length < 65536) {
			t.Fatalf("nonMinimal = %v for form %d length %d", h.nonMinimal, form, h.length)
		}
		if h.topBit != (h.length>>63 == 1) {
			t.Fatalf("topBit = %v for length %#x", h.topBit, h.length)
		}
	})
}
