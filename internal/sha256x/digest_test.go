package sha256x

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"math/rand"
	"testing"
)

// runDigests drives digests of one Hasher with the operations of ops, and
// checks every Sum against crypto/sha256 fed the same bytes. Queued pieces
// are overwritten after each Flush, which must have hashed them already.
func runDigests(t *testing.T, ops []byte, withHasher bool) {
	t.Helper()
	var hs *Hasher
	if withHasher {
		hs = NewHasher()
	}
	const n = 4
	var ds [n]*Digest
	var refs [n]hash.Hash
	for i := range ds {
		ds[i] = New(hs)
		refs[i] = sha256.New()
	}
	var queued [][]byte
	scribble := func() {
		for _, p := range queued {
			for i := range p {
				p[i] ^= 0xA5
			}
		}
		queued = queued[:0]
	}
	rng := rand.New(rand.NewSource(int64(len(ops))))
	for k := 0; k+1 < len(ops); k += 2 {
		i := int(ops[k]) % n
		size := int(ops[k+1])
		switch ops[k] >> 5 {
		case 0, 1, 2: // queue a piece
			if ops[k]&16 != 0 {
				size *= 37 // some pieces of many blocks
			}
			p := make([]byte, size)
			rng.Read(p)
			refs[i].Write(p)
			ds[i].WriteLater(p)
			queued = append(queued, p)
		case 3, 4: // write a piece now
			p := make([]byte, size)
			rng.Read(p)
			refs[i].Write(p)
			ds[i].Write(p)
		case 5:
			hs.Flush()
			scribble()
		case 6: // sum, and go on writing the same message
			got := ds[i].Sum(nil)
			if want := refs[i].Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("op %d: digest %d: %x; want %x", k/2, i, got, want)
			}
		case 7:
			ds[i].Reset()
			refs[i].Reset()
		}
		if ops[k]>>5 == 3 || ops[k]>>5 == 4 || ops[k]>>5 == 6 {
			// Write and Sum flushed the Hasher if the Digest had
			// pieces queued; the others may still have theirs.
			if hs != nil && len(hs.queued) == 0 {
				scribble()
			}
		}
	}
	hs.Flush()
	scribble()
	for i := range ds {
		if got, want := ds[i].Sum(nil), refs[i].Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("end: digest %d: %x; want %x", i, got, want)
		}
	}
}

func TestDigestRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for round := 0; round < 2000; round++ {
		ops := make([]byte, 2*rng.Intn(60))
		rng.Read(ops)
		runDigests(t, ops, true)
		runDigests(t, ops, false)
	}
}

// TestDigestBoundaries: pieces around the block size, queued for two
// digests at once, every split of 200 bytes.
func TestDigestBoundaries(t *testing.T) {
	data := make([]byte, 400)
	for i := range data {
		data[i] = byte(i*13 + 1)
	}
	hs := NewHasher()
	for cut := 0; cut <= 200; cut++ {
		a, b := New(hs), New(hs)
		a.WriteLater(data[:cut])
		b.WriteLater(data[200 : 200+cut/2])
		a.WriteLater(data[cut:200])
		b.WriteLater(data[200+cut/2:])
		hs.Flush()
		if got, want := a.Sum(nil), sha256.Sum256(data[:200]); !bytes.Equal(got, want[:]) {
			t.Fatalf("cut %d: a %x; want %x", cut, got, want)
		}
		if got, want := b.Sum(nil), sha256.Sum256(data[200:]); !bytes.Equal(got, want[:]) {
			t.Fatalf("cut %d: b %x; want %x", cut, got, want)
		}
	}
}

func FuzzDigest(f *testing.F) {
	f.Add([]byte{0, 10, 1, 64, 2, 63, 160, 0, 192, 0})
	f.Add([]byte{16, 200, 17, 100, 192, 0, 96, 5, 193, 0, 224, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		runDigests(t, ops, true)
	})
}

func BenchmarkDigest(b *testing.B) {
	piece := make([]byte, 1448)
	for _, queue := range []bool{false, true} {
		name := "write"
		if queue {
			name = "queue"
		}
		b.Run(name, func(b *testing.B) {
			hs := NewHasher()
			ds := []*Digest{New(hs), New(hs), New(hs)}
			b.SetBytes(int64(len(piece)) * 30)
			for i := 0; i < b.N; i++ {
				for k := 0; k < 30; k++ {
					if queue {
						ds[k%3].WriteLater(piece)
					} else {
						ds[k%3].Write(piece)
					}
				}
				hs.Flush()
			}
		})
	}
}
