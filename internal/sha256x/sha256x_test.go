package sha256x

import (
	"crypto/sha256"
	"fmt"
	"math/rand"
	"testing"
)

func checkSums(t *testing.T, ps [][]byte) {
	t.Helper()
	sums := make([][32]byte, len(ps))
	SumMany(ps, sums)
	for i, p := range ps {
		if want := sha256.Sum256(p); sums[i] != want {
			t.Fatalf("message %d of %d (%d bytes): %x; want %x", i, len(ps), len(p), sums[i], want)
		}
	}
}

// TestSumManyLengths: every length up to five blocks, where the padding
// takes one block or two, alone and paired with every other.
func TestSumManyLengths(t *testing.T) {
	if !useX2 {
		t.Log("no SHA extensions here: SumMany is crypto/sha256")
	}
	rng := rand.New(rand.NewSource(1))
	var ps [][]byte
	for n := 0; n <= 320; n++ {
		p := make([]byte, n)
		rng.Read(p)
		ps = append(ps, p)
	}
	checkSums(t, ps)
	for i := range ps {
		checkSums(t, ps[i:i+1])
	}
	// Long against short: lanes run unevenly and take new messages.
	for _, n := range []int{1000, 4096, 65536, 100001} {
		big := make([]byte, n)
		rng.Read(big)
		checkSums(t, append([][]byte{big}, ps[:100]...))
		checkSums(t, append(append([][]byte{}, ps[200:260]...), big, big[:n/2], big[1:]))
	}
	checkSums(t, nil)
}

// TestSumManyRandom: random batches of random sizes.
func TestSumManyRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 300; round++ {
		ps := make([][]byte, rng.Intn(20))
		for i := range ps {
			n := rng.Intn(200)
			if rng.Intn(5) == 0 {
				n = rng.Intn(70000)
			}
			ps[i] = make([]byte, n)
			rng.Read(ps[i])
		}
		checkSums(t, ps)
	}
}

// TestSumManyInputUnchanged: the messages are read, never written, and
// may overlap.
func TestSumManyInputUnchanged(t *testing.T) {
	buf := make([]byte, 5000)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	orig := append([]byte(nil), buf...)
	ps := [][]byte{buf, buf[3:], buf[:64], buf[100:163], buf[4000:]}
	checkSums(t, ps)
	if string(buf) != string(orig) {
		t.Fatal("SumMany wrote to its input")
	}
}

func FuzzSumMany(f *testing.F) {
	f.Add([]byte("abc"), []byte{1, 2})
	f.Add(make([]byte, 300), []byte{55, 56, 63, 64, 119})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var ps [][]byte
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			ps = append(ps, rest[:n])
			rest = rest[n:]
		}
		ps = append(ps, rest, data)
		checkSums(t, ps)
	})
}

func BenchmarkSumMany(b *testing.B) {
	for _, n := range []int{64, 640, 40000} {
		ps := make([][]byte, 64)
		total := 0
		for i := range ps {
			ps[i] = make([]byte, n)
			total += n
		}
		sums := make([][32]byte, len(ps))
		b.Run(fmt.Sprintf("%dB/x2", n), func(b *testing.B) {
			b.SetBytes(int64(total))
			for i := 0; i < b.N; i++ {
				SumMany(ps, sums)
			}
		})
		b.Run(fmt.Sprintf("%dB/crypto", n), func(b *testing.B) {
			b.SetBytes(int64(total))
			for i := 0; i < b.N; i++ {
				for j, p := range ps {
					sums[j] = sha256.Sum256(p)
				}
			}
		})
	}
}
