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

	entries  []entry
	firstSeq uint64 // seq of entries[0]
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
	return &c.entries[seq-c.firstSeq]
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
	c.entries = append(c.entries, e)
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
	if maxEntries > 0 && len(c.entries) > maxEntries+maxEntries/4 {
		n := len(c.entries) - maxEntries
		for i := range c.entries[:n] {
			if c.entries[i].msg.Body != nil {
				c.bodyBytes -= len(c.entries[i].msg.Body)
			}
		}
		c.entries = append(c.entries[:0:0], c.entries[n:]...)
		c.firstSeq += uint64(n)
		c.trimmed += uint64(n)
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
