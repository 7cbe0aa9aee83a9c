package report

import (
	"bytes"
	"encoding/base64"
	"math/rand"
	"testing"
)

func TestAppendBase64(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 300; n++ {
		src := make([]byte, n)
		rng.Read(src)
		for _, prefix := range [][]byte{nil, []byte(`"data":"`)} {
			want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
			got := appendBase64(bytes.Clone(prefix), src)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: got %q, want %q", n, got, want)
			}
		}
	}
	// Every 12-bit value, at every place of a step.
	all := make([]byte, 3*4096/2)
	for i := 0; i < 4096; i += 2 {
		all[3*i/2] = byte(i >> 4)
		all[3*i/2+1] = byte(i<<4) | byte((i+1)>>8)
		all[3*i/2+2] = byte(i + 1)
	}
	for off := 0; off < 6; off++ {
		if got, want := appendBase64(nil, all[off:]), base64.StdEncoding.AppendEncode(nil, all[off:]); !bytes.Equal(got, want) {
			t.Fatalf("offset %d: encodings differ", off)
		}
	}
}

func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte("hello, world"), []byte("x"))
	f.Fuzz(func(t *testing.T, src, prefix []byte) {
		want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
		if got := appendBase64(bytes.Clone(prefix), src); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func BenchmarkAppendBase64(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	large := make([]byte, 64<<10)
	rng.Read(large)
	short := make([]byte, 30)
	rng.Read(short)
	dst := make([]byte, 0, 2*len(large))
	for _, c := range []struct {
		name string
		src  []byte
		enc  func(dst, src []byte) []byte
	}{
		{"64KiB", large, appendBase64},
		{"30B", short, appendBase64},
		{"64KiB-stdlib", large, base64.StdEncoding.AppendEncode},
		{"30B-stdlib", short, base64.StdEncoding.AppendEncode},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.src)))
			for i := 0; i < b.N; i++ {
				dst = c.enc(dst[:0], c.src)
			}
		})
	}
}
