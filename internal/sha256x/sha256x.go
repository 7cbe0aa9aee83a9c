// Package sha256x computes the SHA-256 digests of many messages at once.
//
// On amd64 processors with the SHA extensions, one message keeps the
// SHA256RNDS2 unit busy only half the time (each instruction waits for
// the one before); SumMany hashes two messages at a time, their rounds
// interleaved, which about doubles the throughput of one core. Elsewhere
// it is crypto/sha256 message by message. The digests are those of
// crypto/sha256 either way.
package sha256x

import (
	"crypto/sha256"
	"encoding/binary"
)

// iv is the initial hash value (FIPS 180-4, 5.3.3).
var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// SumMany sets sums[i] to the SHA-256 digest of ps[i], for every i; sums
// is at least as long as ps.
func SumMany(ps [][]byte, sums [][32]byte) {
	_ = sums[:len(ps)]
	if !useX2 {
		for i, p := range ps {
			sums[i] = sha256.Sum256(p)
		}
		return
	}
	var ls [2]lane
	next := 0
	for k := range ls {
		ls[k].msg = -1
		if next < len(ps) {
			ls[k].start(next, ps[next])
			next++
		}
	}
	a, b := &ls[0], &ls[1]
	for a.msg >= 0 || b.msg >= 0 {
		var ha, hb *[8]uint32
		if a.msg >= 0 {
			ha = &a.h
		}
		if b.msg >= 0 {
			hb = &b.h
		}
		a.p, b.p = hashRuns(ha, a.p, hb, b.p)
		for k := range ls {
			l := &ls[k]
			if l.msg < 0 || len(l.p) > 0 {
				continue
			}
			if !l.inTail {
				l.p, l.inTail = l.tail[:l.nt], true
				continue
			}
			putDigest(&sums[l.msg], &l.h)
			l.msg = -1
			if next < len(ps) {
				l.start(next, ps[next])
				next++
			}
		}
	}
}

// lane is one message being hashed: its whole blocks are read where they
// are, then the tail (the last partial block with the padding and the
// length) from a copy.
type lane struct {
	h      [8]uint32
	p      []byte // blocks of the current run not hashed yet
	tail   [128]byte
	nt     int  // bytes of tail: one block or two
	inTail bool // p is in tail
	msg    int  // index of the message; -1: the lane is idle
}

func (l *lane) start(i int, p []byte) {
	l.h = iv
	l.msg = i
	whole := len(p) &^ 63
	l.nt = pad(&l.tail, p[whole:], uint64(len(p)))
	l.p, l.inTail = p[:whole], false
	if whole == 0 {
		l.p, l.inTail = l.tail[:l.nt], true
	}
}

// hashRuns hashes the whole blocks of two lanes' runs, a into *ha and b
// into *hb (a nil state: an idle lane), two at a time as far as the
// shorter run goes, or all of a lone lane's run; it returns what is left
// of each run, nothing of at least one of the busy ones.
func hashRuns(ha *[8]uint32, a []byte, hb *[8]uint32, b []byte) ([]byte, []byte) {
	switch {
	case ha != nil && hb != nil:
		n := min(len(a), len(b)) / 64
		blockx2(ha, hb, &a[0], &b[0], n)
		return a[n*64:], b[n*64:]
	case ha != nil:
		blockx1(ha, &a[0], len(a)/64)
		return nil, b
	case hb != nil:
		blockx1(hb, &b[0], len(b)/64)
		return a, nil
	}
	return a, b
}

// pad writes the end of a message of n bytes into tail: its last bytes
// (rest, fewer than 64), the 0x80 marker, zeros and the length in bits
// (FIPS 180-4, 5.1.1). It returns the bytes of tail used: one block or
// two.
func pad(tail *[128]byte, rest []byte, n uint64) int {
	k := copy(tail[:], rest)
	tail[k] = 0x80
	nt := 64
	if k+1+8 > 64 {
		nt = 128
	}
	clear(tail[k+1 : nt-8])
	binary.BigEndian.PutUint64(tail[nt-8:nt], n*8)
	return nt
}

// putDigest writes the state h as a digest.
func putDigest(sum *[32]byte, h *[8]uint32) {
	for j, v := range h {
		binary.BigEndian.PutUint32(sum[4*j:], v)
	}
}
