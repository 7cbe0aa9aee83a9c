package tui

import (
	"time"

	"github.com/wsdump/wsdump/dissect"
)

// entryKind says what a timeline entry is.
type entryKind uint8

const (
	entMessage entryKind = iota
	entViolation
	entGap
)

// entry is one line of a conversation's timeline.
type entry struct {
	kind        entryKind
	bodyDropped bool // the body was dropped to bound memory
	seq         uint64
	msg         msgInfo
	vio         *dissect.Violation
	gap         *dissect.Gap
}

func (e *entry) dir() dissect.Direction {
	switch e.kind {
	case entViolation:
		return e.vio.Dir
	case entGap:
		return e.gap.Dir
	}
	return e.msg.Dir
}

func (e *entry) time() time.Time {
	switch e.kind {
	case entViolation:
		return e.vio.Time
	case entGap:
		return e.gap.Time
	}
	return e.msg.End
}

// conv is what the interface knows of one conversation. Counts are exact;
// the timeline keeps at most maxEntries entries (the oldest go first) and
// at most maxBodies message bodies (older bodies are dropped and marked).
type conv struct {
	id             uint64
	num            int // 1-based position in the list
	client, server string
	hs             *handshakeInfo
	sum            *dissect.Summary
	ended          bool

	// The timeline is kept in blocks of blockSize entries, so that it grows
	// without copying and the oldest entries go a block at a time.
	blocks   [][]entry
	firstSeq uint64 // seq of blocks[0][0]
	nextSeq  uint64
	trimmed  uint64 // entries dropped from the front

	bodies    []uint64 // seqs of entries holding a body, oldest first
	bodyHead  int
	bodyBytes int

	msgs, bytes [2]uint64
	controls    uint64
	violations  uint64
	gaps        uint64
	first, last time.Time
	compressed  bool
	closeSeen   bool
}

// entryAt returns the entry with sequence number seq, or nil when it was
// trimmed or does not exist.
func (c *conv) entryAt(seq uint64) *entry {
	if seq < c.firstSeq || seq >= c.nextSeq {
		return nil
	}
	i := seq - c.firstSeq
	return &c.blocks[i/blockSize][i%blockSize]
}

// blockSize is the number of timeline entries in one block.
const blockSize = 4096

// count returns the number of entries held.
func (c *conv) count() int { return int(c.nextSeq - c.firstSeq) }

// each calls fn for every entry held, oldest first.
func (c *conv) each(fn func(e *entry)) {
	for _, b := range c.blocks {
		for i := range b {
			fn(&b[i])
		}
	}
}

func (c *conv) touch(t time.Time) {
	if t.IsZero() {
		return
	}
	if c.first.IsZero() || t.Before(c.first) {
		c.first = t
	}
	if t.After(c.last) {
		c.last = t
	}
}

// push appends an entry and applies the limits.
func (c *conv) push(e entry, maxEntries, maxBodies int) {
	e.seq = c.nextSeq
	c.nextSeq++
	if n := len(c.blocks); n == 0 || len(c.blocks[n-1]) == blockSize {
		// The first block grows as needed: most conversations are short.
		size := blockSize
		if n == 0 {
			size = 8
		}
		c.blocks = append(c.blocks, make([]entry, 0, size))
	}
	last := &c.blocks[len(c.blocks)-1]
	*last = append(*last, e)
	if e.kind == entMessage && e.msg.Body != nil {
		c.bodies = append(c.bodies, e.seq)
		c.bodyBytes += len(e.msg.Body)
		for len(c.bodies)-c.bodyHead > maxBodies {
			old := c.bodies[c.bodyHead]
			c.bodyHead++
			if oe := c.entryAt(old); oe != nil {
				c.bodyBytes -= len(oe.msg.Body)
				oe.msg.Body = nil
				oe.bodyDropped = true
			}
		}
		if c.bodyHead > 1024 && c.bodyHead*2 > len(c.bodies) {
			c.bodies = append(c.bodies[:0], c.bodies[c.bodyHead:]...)
			c.bodyHead = 0
		}
	}
	for maxEntries > 0 && c.count() >= maxEntries+blockSize && len(c.blocks) > 1 {
		old := c.blocks[0]
		for i := range old {
			c.bodyBytes -= len(old[i].msg.Body)
		}
		c.blocks[0] = nil
		c.blocks = c.blocks[1:]
		c.firstSeq += uint64(len(old))
		c.trimmed += uint64(len(old))
	}
}

// state returns the conversation's state for the list: open, closing
// (a close frame was seen), clean (both sides closed) or abnormal (the
// connection ended without a closing handshake).
func (c *conv) state() string {
	if c.ended {
		if c.sum != nil && c.sum.Close.Clean {
			return "clean"
		}
		return "abnormal"
	}
	if c.closeSeen {
		return "closed"
	}
	return "open"
}

// rate returns the data messages per second over the conversation's life.
func (c *conv) rate() float64 {
	d := c.last.Sub(c.first).Seconds()
	n := float64(c.msgs[0] + c.msgs[1])
	if d <= 0 {
		return 0
	}
	return n / d
}

func (c *conv) hostPath() string {
	if c.hs == nil {
		return ""
	}
	return c.hs.Host + c.hs.Request.URI
}
