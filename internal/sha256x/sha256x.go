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
	for {
		switch {
		case a.msg >= 0 && b.msg >= 0:
			n := min(len(a.p), len(b.p)) / 64
			blockx2(&a.h, &b.h, &a.p[0], &b.p[0], n)
			a.p, b.p = a.p[n*64:], b.p[n*64:]
		case a.msg >= 0:
			blockx1(&a.h, &a.p[0], len(a.p)/64)
			a.p = nil
		case b.msg >= 0:
			blockx1(&b.h, &b.p[0], len(b.p)/64)
			b.p = nil
		default:
			return
		}
		for k := range ls {
			l := &ls[k]
			if l.msg < 0 || len(l.p) > 0 {
				continue
			}
			if !l.inTail {
				l.p, l.inTail = l.tail[:l.nt], true
				continue
			}
			for j, v := range l.h {
				binary.BigEndian.PutUint32(sums[l.msg][4*j:], v)
			}
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
	n := copy(l.tail[:], p[whole:])
	l.tail[n] = 0x80
	l.nt = 64
	if n+1+8 > 64 {
		l.nt = 128
	}
	clear(l.tail[n+1 : l.nt-8])
	binary.BigEndian.PutUint64(l.tail[l.nt-8:l.nt], uint64(len(p))*8)
	l.p, l.inTail = p[:whole], false
	if whole == 0 {
		l.p, l.inTail = l.tail[:l.nt], true
	}
}
