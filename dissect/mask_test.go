package dissect

import (
	"bytes"
	"math/rand"
	"testing"
)

// unmaskRef is the byte-at-a-time definition of RFC 6455 §5.3.
func unmaskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

func TestUnmaskAllAlignments(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 100+8)
	for n := 0; n <= 100; n++ {
		for pos := 0; pos < 4; pos++ {
			for off := 0; off < 8; off++ { // start address alignment
				var key [4]byte
				rng.Read(key[:])
				rng.Read(buf)
				want := append([]byte{}, buf[off:off+n]...)
				wantPos := unmaskRef(key, pos, want)
				got := buf[off : off+n]
				gotPos := unmask(key, pos, got)
				if gotPos != wantPos || !bytes.Equal(got, want) {
					t.Fatalf("n=%d pos=%d off=%d: pos %d, % x; want pos %d, % x", n, pos, off, gotPos, got, wantPos, want)
				}
			}
		}
	}
}

func TestUnmaskRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for iter := 0; iter < 500; iter++ {
		n := rng.Intn(300)
		var key [4]byte
		rng.Read(key[:])
		data := make([]byte, n)
		rng.Read(data)
		want := append([]byte{}, data...)
		unmaskRef(key, 0, want)
		pos := 0
		for rest := data; len(rest) > 0; {
			k := 1 + rng.Intn(len(rest))
			pos = unmask(key, pos, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(data, want) || pos != n%4 {
			t.Fatalf("iter %d: split unmask differs (pos %d, want %d)", iter, pos, n%4)
		}
	}
}

func TestUnmaskRoundTrip(t *testing.T) {
	// Masking is its own inverse.
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte("Hello")
	unmask(key, 0, b)
	if want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(b, want) {
		t.Fatalf("masked %q: % x; want % x (RFC 6455 §5.7)", "Hello", b, want)
	}
	unmask(key, 0, b)
	if string(b) != "Hello" {
		t.Fatalf("unmasked back: %q", b)
	}
}

func FuzzUnmask(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, 0, []byte("Hello, WebSocket: a payload of some length"), 7)
	f.Add([]byte{0xff, 0, 0xff, 0}, 3, []byte{}, 0)
	f.Fuzz(func(t *testing.T, k []byte, pos int, data []byte, split int) {
		var key [4]byte
		copy(key[:], k)
		pos &= 3
		want := append([]byte{}, data...)
		wantPos := unmaskRef(key, pos, want)
		got := append([]byte{}, data...)
		if split < 0 {
			split = -split
		}
		if split < 0 || len(got) == 0 {
			split = 0
		} else {
			split %= len(got) + 1
		}
		p := unmask(key, pos, got[:split])
		p = unmask(key, p, got[split:])
		if p != wantPos || !bytes.Equal(got, want) {
			t.Fatalf("pos %d split %d: got pos %d % x; want pos %d % x", pos, split, p, got, wantPos, want)
		}
	})
}

// BenchmarkParseUnmask64K parses the header of a masked 64 KiB frame and
// unmasks its payload in place.
func BenchmarkParseUnmask64K(b *testing.B) {
	payload := make([]byte, 64<<10)
	for i := range payload {
		payload[i] = byte(i)
	}
	frame := buildWSFrame(wsTestFrame{fin: true, op: OpBinary, mask: &[4]byte{1, 2, 3, 4}, payload: payload})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, n := parseFrameHeader(frame)
		unmask(h.mask, 0, frame[n:n+int(h.length)])
	}
}
