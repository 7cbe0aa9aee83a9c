package sha256x

import (
	"crypto/sha256"
	"hash"
)

// A Digest computes the SHA-256 of one message written in pieces, as
// crypto/sha256 does. With a Hasher, pieces may be queued (WriteLater)
// and hashed later, two Digests at a time (Hasher.Flush).
type Digest struct {
	h    [8]uint32
	buf  [64]byte // a partial block
	nbuf int
	n    uint64 // bytes written
	hs   *Hasher
	q    [][]byte // pieces queued in hs, in order
	inHs bool     // listed in hs.queued
	std  hash.Hash
}

// A Hasher holds the pieces queued by its Digests until Flush hashes them.
// It belongs to one goroutine, as its Digests do.
type Hasher struct {
	queued []*Digest // with pieces in q, or with q emptied by Reset
	lanes  [2]dlane
}

// dlane is a Digest being hashed by Flush: its state, and the next run of
// whole blocks (in its partial block, or in one of its pieces).
type dlane struct {
	dg    *Digest // nil: the lane is free
	h     [8]uint32
	p     []byte
	inBuf bool // p is dg.buf
	piece int  // in dg.q
	off   int  // in dg.q[piece]
}

// NewHasher returns a Hasher, or nil where pieces are not worth queuing
// (no SHA extensions): a nil Hasher is valid, and its Digests hash every
// piece at once.
func NewHasher() *Hasher {
	if !useX2 {
		return nil
	}
	return &Hasher{}
}

// New returns a Digest that queues pieces in hs, which may be nil.
func New(hs *Hasher) *Digest {
	d := &Digest{h: iv, hs: hs}
	if !useX2 {
		d.std = sha256.New()
	}
	return d
}

// Reset starts a new message; queued pieces of the last one are dropped.
func (d *Digest) Reset() {
	if d.std != nil {
		d.std.Reset()
		return
	}
	d.h, d.nbuf, d.n = iv, 0, 0
	clear(d.q)
	d.q = d.q[:0]
}

// Write hashes p now, after the pieces queued before it.
func (d *Digest) Write(p []byte) {
	if d.std != nil {
		d.std.Write(p)
		return
	}
	if len(d.q) > 0 {
		d.hs.Flush()
	}
	d.n += uint64(len(p))
	if d.nbuf > 0 {
		k := copy(d.buf[d.nbuf:], p)
		d.nbuf += k
		p = p[k:]
		if d.nbuf < 64 {
			return
		}
		blockx1(&d.h, &d.buf[0], 1)
		d.nbuf = 0
	}
	if whole := len(p) &^ 63; whole > 0 {
		blockx1(&d.h, &p[0], whole/64)
		p = p[whole:]
	}
	d.nbuf = copy(d.buf[:], p)
}

// WriteLater queues p, which must stay unchanged until the next Flush of
// the Digest's Hasher (or Sum of the Digest); without a Hasher it is
// Write.
func (d *Digest) WriteLater(p []byte) {
	if d.hs == nil || d.std != nil {
		d.Write(p)
		return
	}
	if len(p) == 0 {
		return
	}
	if !d.inHs {
		d.inHs = true
		d.hs.queued = append(d.hs.queued, d)
	}
	d.q = append(d.q, p)
	d.n += uint64(len(p))
}

// Sum appends the digest of what was written to b.
func (d *Digest) Sum(b []byte) []byte {
	if d.std != nil {
		return d.std.Sum(b)
	}
	if len(d.q) > 0 {
		d.hs.Flush()
	}
	h := d.h
	var tail [128]byte
	nt := pad(&tail, d.buf[:d.nbuf], d.n)
	blockx1(&h, &tail[0], nt/64)
	var sum [32]byte
	putDigest(&sum, &h)
	return append(b, sum[:]...)
}

// Pending returns how many Digests have pieces queued.
func (hs *Hasher) Pending() int {
	if hs == nil {
		return 0
	}
	n := 0
	for _, d := range hs.queued {
		if len(d.q) > 0 {
			n++
		}
	}
	return n
}

// Flush hashes every queued piece, two Digests at a time.
func (hs *Hasher) Flush() {
	if hs == nil {
		return
	}
	next := 0
	// take gives the lane the next Digest with pieces left to hash.
	take := func(l *dlane) {
		for l.dg = nil; l.dg == nil && next < len(hs.queued); next++ {
			if d := hs.queued[next]; len(d.q) > 0 {
				l.dg, l.piece, l.off, l.h = d, 0, 0, d.h
				l.advance() // may put all of it in the partial block, and free the lane
			}
		}
	}
	a, b := &hs.lanes[0], &hs.lanes[1]
	take(a)
	take(b)
	for a.dg != nil || b.dg != nil {
		var ha, hb *[8]uint32
		if a.dg != nil {
			ha = &a.h
		}
		if b.dg != nil {
			hb = &b.h
		}
		a.p, b.p = hashRuns(ha, a.p, hb, b.p)
		for _, l := range [2]*dlane{a, b} {
			if l.dg != nil && len(l.p) == 0 {
				if l.advance(); l.dg == nil {
					take(l)
				}
			}
		}
	}
	for _, d := range hs.queued {
		d.inHs = false
	}
	clear(hs.queued)
	hs.queued = hs.queued[:0]
}

// advance finds the next run of whole blocks of the lane's Digest: its
// partial block once filled, or the whole blocks of a piece. With none
// left, the state goes back to the Digest and the lane is free (dg nil).
func (l *dlane) advance() {
	d := l.dg
	if l.inBuf {
		d.nbuf = 0 // the partial block was just hashed
		l.inBuf = false
	}
	for l.piece < len(d.q) {
		p := d.q[l.piece][l.off:]
		if d.nbuf > 0 {
			k := copy(d.buf[d.nbuf:], p)
			d.nbuf += k
			l.off += k
			if d.nbuf == 64 {
				l.p, l.inBuf = d.buf[:], true
				l.skip()
				return
			}
			l.skip()
			continue
		}
		if whole := len(p) &^ 63; whole > 0 {
			l.p = p[:whole]
			l.off += whole
			return
		}
		d.nbuf = copy(d.buf[:], p)
		l.off += len(p)
		l.skip()
	}
	d.h = l.h
	clear(d.q)
	d.q = d.q[:0]
	l.dg, l.p = nil, nil
}

// skip moves to the next piece when the current one is used up.
func (l *dlane) skip() {
	if l.piece < len(l.dg.q) && l.off == len(l.dg.q[l.piece]) {
		l.piece++
		l.off = 0
	}
}
