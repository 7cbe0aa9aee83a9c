// Package reassembly rebuilds the two byte streams of TCP connections from
// captured segments, on top of github.com/google/gopacket/reassembly.
//
// A Reassembler is fed segments with Add, in capture order, and hands each
// connection's bytes to a Handler made by a Factory: both directions of one
// connection go to one Handler, each direction in sequence order, with the
// bytes that were never captured reported as a Gap of an exact length at the
// place where they are missing. It is not safe for concurrent use.
//
// # Clock
//
// Every timeout runs on the capture clock, the largest packet time given to
// Add so far, never on the wall clock: reading a file of last year gives the
// same result as reading it live. Every FlushInterval of capture time the
// reassembler stops waiting for bytes that are missing for longer than
// GapTimeout (they become a Gap) and ends connections idle for longer than
// IdleTimeout (EndTimeout). Close ends every open connection (EndCapture) after
// handing over what was still buffered.
//
// # Segments
//
//   - A connection whose SYN was not captured starts at the first segment seen
//     in each direction. Bytes sent before that point are unknown and are not
//     reported as a gap.
//   - Retransmitted bytes, a segment captured twice (captures made on "any")
//     and bytes overlapping what was already handed over are dropped: the copy
//     delivered first wins. They are counted in DirStats.Retransmitted.
//   - Segments that arrive ahead of a hole are buffered until the hole is
//     filled, GapTimeout passes or a buffer limit is reached. When two buffered
//     segments overlap with different bytes, the one captured later wins for
//     the overlapping bytes (gopacket replaces buffered bytes by newer ones).
//     Bytes already handed over are never replaced.
//   - TCP keep-alive probes (zero or one byte at the sequence number one
//     below the next expected byte, or one below the highest byte seen when a
//     hole is pending) are counted and never delivered; gopacket would let
//     the probe's garbage byte replace a buffered byte (see below). A
//     one-byte segment whose byte the peer already acknowledged is treated the
//     same way when it is the first segment seen in its direction.
//   - Checksums are not verified: captures taken on the sending host carry
//     checksums the network card fills in later.
//   - FIN from both sides ends a connection (EndFIN) as soon as both are
//     reached in sequence order. A RST ends it at once (EndRST): bytes still
//     buffered behind a hole are dropped and so is everything captured for the
//     connection afterwards, until its 4-tuple is reused by a new SYN.
//   - An ended connection is remembered until IdleTimeout passes, so that
//     its last acknowledgements do not open a new connection; a SYN (without
//     ACK) opens one. A SYN with a new sequence number from a side that
//     already sent a SYN or data ends an open connection (EndReused) and
//     opens a new one.
//
// # Memory
//
// Buffered out-of-order data is bounded by MaxBufferedPagesPerConn and
// MaxBufferedPagesTotal (pages of gopacket, 1900 bytes each); when a limit is
// reached gopacket stops waiting for the oldest hole of the connection and
// the reassembler reports it as a Gap. The number of connections tracked is
// bounded by MaxConns; segments of connections beyond it are counted and
// ignored.
//
// # Workarounds for gopacket v1.1.19
//
// gopacket's Sequence.Difference adds 2^32-1 instead of 2^32 when two
// sequence numbers lie on either side of the wrap at 2^32, so a hole that
// straddles the wrap is measured one byte short, and a one-byte hole right at
// the wrap is not seen at all: the bytes on both sides are joined. The
// reassembler therefore hands gopacket sequence numbers rebased so that
// each direction starts at 2^30: the wrap is then reached only after 3 GiB
// of one direction, not at whatever place the initial sequence number puts
// it. A direction longer than 3 GiB is still exposed to that defect at its
// crossing.
//
// gopacket lets a new segment replace bytes it buffered ahead of a hole.
// For retransmissions that is harmless, but a keep-alive probe sent while
// the capture missed earlier bytes carries one garbage byte at the place of
// the last buffered byte; the reassembler drops such probes before gopacket
// sees them.
//
// gopacket fetches the capture time of a buffered segment through the
// AssemblerContext it was added with, and calling ScatterGather.CaptureInfo
// on the second page of a segment longer than one page dereferences a nil
// context. The reassembler never calls CaptureInfo and passes a context of
// its own to every segment it expects gopacket to buffer, so the time of
// bytes delivered after a hole is the time of the segment that carried them.
//
// # What gopacket sees
//
// A segment that carries the next bytes of a side for which nothing is
// buffered (the common case: a connection without loss or reordering) is
// handed to the Handler directly, without gopacket. From then on that
// side's sequence numbers are shifted down by those bytes before gopacket
// sees them, so that gopacket's view of the side goes on where it stood:
// gopacket handles only reordering, overlaps, holes and the placing of
// FIN and RST. This also means that the wrap defect of the workarounds
// above needs 3 GiB of the bytes gopacket sees, not of the whole
// direction.
//
// gopacket walks its connections in the order of a Go map when it
// flushes. The Handler calls a flush causes (bytes held behind a hole
// that is given up, gaps, ends) are therefore held and made afterwards
// connection by connection in the order of their IDs, as are the ends by
// timeout and at Close: the same input gives the same calls in the same
// order.
//
// # Segment input
//
// Add takes the network flow, the TCP layer and the capture time of a
// segment. The TCP layer must come from gopacket's decoder (or have its ports
// set with SetInternalPortsForTesting), because gopacket keys connections by
// tcp.TransportFlow(). Add modifies tcp.Seq during the call and restores it.
package reassembly

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	gpreasm "github.com/google/gopacket/reassembly"
)

// Side is a direction of a connection as the reassembler sees it: SideA is the
// sender of the SYN when the SYN was captured, otherwise the sender of the first
// packet seen; SideB the other endpoint.
type Side uint8

// The two sides of a connection.
const (
	SideA Side = 0
	SideB Side = 1
)

// String returns "A" or "B".
func (s Side) String() string {
	if s == SideA {
		return "A"
	}
	return "B"
}

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

// EndReason tells why a connection ended.
type EndReason uint8

// Reasons for the end of a connection.
const (
	EndNone    EndReason = iota // still open
	EndFIN                      // both sides sent FIN
	EndRST                      // a side sent RST
	EndTimeout                  // no packet for IdleTimeout of capture time
	EndCapture                  // the input ended (Close) while it was open
	// EndReused: a SYN with a new sequence number opened a new connection
	// on the same addresses and ports before this one was seen to end.
	EndReused
)

var endNames = [...]string{"none", "fin", "rst", "timeout", "capture_end", "reused"}

// String returns the stable token of the reason: "none", "fin", "rst",
// "timeout", "capture_end" or "reused".
func (e EndReason) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "unknown"
}

// Conn describes one TCP connection. It stays valid and the same pointer for
// the connection's life, and is handed to the Factory. The reassembler
// updates it before each Handler call; read it only from the Handler's
// methods or after Close.
type Conn struct {
	ID   uint64 // 1, 2, 3... in order of first packet
	A, B netip.AddrPort
	// RolesFromSYN is true when the connection's SYN (A is its sender) or
	// SYN+ACK (B is its sender) was the first packet seen, so A is known to
	// be the client.
	RolesFromSYN bool
	Start, Last  time.Time    // times of the first and last packet
	Stats        [2]DirStats  // indexed by Side
	End          EndReason    // EndNone while open
	sides        [2]sideFlows // the flows of each side's packets
	keys         [2]flowKey   // the stream's keys in Reassembler.conns, by side
}

type sideFlows struct{ net, tp gopacket.Flow }

// DirStats counts what one side of a connection sent.
type DirStats struct {
	Packets uint64 // segments seen, including pure acknowledgements
	Bytes   uint64 // TCP payload bytes seen, duplicates included
	// Delivered is the number of bytes handed to the Handler in order.
	Delivered uint64
	// OutOfOrder counts payload bytes that arrived ahead of a hole.
	OutOfOrder uint64
	// Retransmitted counts payload bytes at sequence numbers already
	// delivered (retransmissions, duplicated captures, overlaps).
	Retransmitted  uint64
	Gaps, GapBytes uint64 // holes reported with Handler.Gap and their bytes
	KeepAlives     uint64 // keep-alive probes, never delivered
	SYN, FIN, RST  bool   // flags seen
}

// Handler receives one connection's bytes. All calls for a connection come
// from Add, Close or the flushes they run, in order.
type Handler interface {
	// Data hands over the next bytes of a side. data is valid only during
	// the call. t is the capture time of the segment that made the bytes
	// available in order (after a hole: of the first segment after it).
	Data(side Side, data []byte, t time.Time)
	// Gap says that n bytes of side were lost before the next Data of that
	// side.
	Gap(side Side, n uint64, t time.Time)
	// End is called once, last; Conn.End says why. t is the time of the
	// connection's last packet.
	End(t time.Time)
}

// Factory makes the Handler of a new connection.
type Factory func(c *Conn) Handler

// Config holds the limits and timeouts of a Reassembler. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	// MaxBufferedPagesPerConn caps the out-of-order data buffered for one
	// connection, in pages of 1900 bytes.
	MaxBufferedPagesPerConn int
	// MaxBufferedPagesTotal caps the out-of-order data buffered for all
	// connections together, in pages of 1900 bytes.
	MaxBufferedPagesTotal int
	// MaxConns caps the connections tracked, including ended ones that are
	// remembered until IdleTimeout. Segments of new connections beyond it
	// are counted in Stats.ConnLimitDrops and ignored.
	MaxConns int
	// IdleTimeout ends a connection that saw no packet for that long of
	// capture time.
	IdleTimeout time.Duration
	// GapTimeout is how long, in capture time, missing bytes are waited for
	// before they are declared a gap.
	GapTimeout time.Duration
	// FlushInterval is how often, in capture time, the timeouts are checked.
	FlushInterval time.Duration
}

// DefaultConfig returns the limits used for zero fields of a Config.
func DefaultConfig() Config {
	return Config{
		MaxBufferedPagesPerConn: 256,   // about 486 KB
		MaxBufferedPagesTotal:   16384, // about 31 MB
		MaxConns:                100000,
		IdleTimeout:             5 * time.Minute,
		GapTimeout:              2 * time.Second,
		FlushInterval:           time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBufferedPagesPerConn <= 0 {
		c.MaxBufferedPagesPerConn = d.MaxBufferedPagesPerConn
	}
	if c.MaxBufferedPagesTotal <= 0 {
		c.MaxBufferedPagesTotal = d.MaxBufferedPagesTotal
	}
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.GapTimeout <= 0 {
		c.GapTimeout = d.GapTimeout
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = d.FlushInterval
	}
	return c
}

// Stats are the counters of a Reassembler.
type Stats struct {
	Packets uint64 // segments given to Add
	Conns   uint64 // connections opened
	Open    int    // connections tracked now, ended ones included
	// Connections ended, by reason.
	EndedFIN, EndedRST, EndedTimeout, EndedCapture, EndedReused uint64

	Bytes         uint64 // payload bytes seen
	Delivered     uint64 // bytes handed to handlers
	OutOfOrder    uint64 // payload bytes that arrived ahead of a hole
	Retransmitted uint64 // payload bytes already delivered when they arrived
	Gaps          uint64 // holes reported
	GapBytes      uint64 // bytes in those holes
	KeepAlives    uint64 // keep-alive probes dropped
	AfterEnd      uint64 // segments of connections that had already ended

	// Limits hit.
	ConnLimitDrops uint64 // segments ignored because MaxConns was reached
	// PageLimitGaps counts holes given up on because MaxBufferedPagesPerConn
	// or MaxBufferedPagesTotal was reached; TotalPageLimitGaps those of them
	// where the total was reached (the others hit the per-connection limit).
	PageLimitGaps      uint64
	TotalPageLimitGaps uint64
	// TimeoutGaps counts holes given up on after GapTimeout or at Close.
	TimeoutGaps uint64

	Flushes uint64 // periodic flushes run
}

// seqOrigin is where each direction's sequence numbers start in the space
// handed to gopacket (see the package documentation).
const seqOrigin = 1 << 30

// captureCtx is the AssemblerContext handed to gopacket.
type captureCtx struct{ ci gopacket.CaptureInfo }

func (c *captureCtx) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

// flowKey finds the stream of a segment: its addresses and ports, as
// compact as they can be (a map key of gopacket's two Flows is three
// times larger, and the lookup of every segment hashes and compares it).
type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
	alen         uint8 // address length: 4 or 16
}

func keyOf(net gopacket.Flow, sport, dport uint16) flowKey {
	k := flowKey{sport: sport, dport: dport}
	s, d := net.Endpoints()
	k.alen = uint8(copy(k.src[:], s.Raw()))
	copy(k.dst[:], d.Raw())
	return k
}

type connRef struct {
	s    *stream
	side Side
}

// Reassembler turns TCP segments into per-connection byte streams.
type Reassembler struct {
	cfg     Config
	factory Factory
	pool    *gpreasm.StreamPool
	asm     *gpreasm.Assembler

	conns  map[flowKey]connRef // every tracked stream, under both directions
	nconns int
	nextID uint64

	ctx       captureCtx // context of segments delivered at once
	now       time.Time  // the capture clock
	lastFlush time.Time
	creating  *stream   // stream handed to gopacket's factory
	internal  bool      // feeding gopacket a segment of our own
	release   []*stream // ended streams gopacket still holds
	flushing  bool
	closed    bool

	// While gopacket flushes, the handler calls it causes are held here
	// and made afterwards in the order of the connections' IDs: gopacket
	// walks its connections in map order, which changes from run to run,
	// and the output must not.
	held    []heldCall
	heldBuf []byte

	stats Stats
}

// heldCall is a Handler call held during a flush: Data of
// heldBuf[off:off+n], a Gap of gap bytes, or End.
type heldCall struct {
	s      *stream
	kind   uint8
	side   Side
	off, n int
	gap    uint64
	t      time.Time
}

const (
	heldData = iota
	heldGap
	heldEnd
)

// dispatchHeld makes the held handler calls, connection by connection in
// the order of their IDs, each connection's in the order they came.
func (r *Reassembler) dispatchHeld() {
	if len(r.held) == 0 {
		return
	}
	sort.SliceStable(r.held, func(i, j int) bool { return r.held[i].s.conn.ID < r.held[j].s.conn.ID })
	for i := range r.held {
		c := &r.held[i]
		switch c.kind {
		case heldData:
			c.s.h.Data(c.side, r.heldBuf[c.off:c.off+c.n], c.t)
		case heldGap:
			c.s.h.Gap(c.side, c.gap, c.t)
		case heldEnd:
			c.s.h.End(c.t)
		}
		c.s = nil
	}
	r.held = r.held[:0]
	if cap(r.heldBuf) > 1<<20 {
		r.heldBuf = nil
	}
	r.heldBuf = r.heldBuf[:0]
}

// streamsByID returns the streams of r.conns that keep(s) accepts, each
// once, in the order of their IDs.
func (r *Reassembler) streamsByID(keep func(*stream) bool) []*stream {
	var out []*stream
	for k, ref := range r.conns {
		s := ref.s
		if s.conn.keys[SideA] != k || !keep(s) {
			continue // each stream is in the map under both directions
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].conn.ID < out[j].conn.ID })
	return out
}

// New returns a Reassembler that makes a Handler with f for each connection.
func New(cfg Config, f Factory) *Reassembler {
	r := &Reassembler{
		cfg:     cfg.withDefaults(),
		factory: f,
		conns:   make(map[flowKey]connRef),
	}
	r.pool = gpreasm.NewStreamPool(gpFactory{r})
	r.asm = gpreasm.NewAssembler(r.pool)
	r.asm.MaxBufferedPagesPerConnection = r.cfg.MaxBufferedPagesPerConn
	r.asm.MaxBufferedPagesTotal = r.cfg.MaxBufferedPagesTotal
	return r
}

type gpFactory struct{ r *Reassembler }

func (f gpFactory) New(_, _ gopacket.Flow, _ *layers.TCP, _ gpreasm.AssemblerContext) gpreasm.Stream {
	s := f.r.creating
	if s == nil {
		// Not reached: gopacket only creates connections while Add feeds a
		// stream of ours. A stream that accepts nothing keeps it harmless.
		return deadStream{}
	}
	s.inGP = true
	return s
}

// Stats returns the counters so far.
func (r *Reassembler) Stats() Stats {
	st := r.stats
	st.Open = r.nconns
	return st
}

// Add feeds one segment. t is the packet's capture time: all timeouts and
// flushes run on this clock, never on time.Now. netFlow is the segment's
// network-layer flow (source to destination).
func (r *Reassembler) Add(netFlow gopacket.Flow, tcp *layers.TCP, t time.Time) {
	if r.closed || tcp == nil {
		return
	}
	r.stats.Packets++
	if t.After(r.now) {
		r.now = t
	}
	if r.lastFlush.IsZero() {
		r.lastFlush = r.now
	}

	ref, ok := r.conns[keyOf(netFlow, uint16(tcp.SrcPort), uint16(tcp.DstPort))]
	s, side := ref.s, ref.side
	if ok && s.conn.End == EndNone && tcp.SYN && !tcp.ACK {
		if h := &s.half[side]; h.nextOK && !(h.synBase && tcp.Seq == h.base) {
			// A new SYN after this side sent data or another SYN.
			r.end(s, EndReused)
			r.releaseEnded()
		}
	}
	if ok && s.conn.End != EndNone {
		if tcp.SYN && !tcp.ACK && (!s.inGP || s.gpDone) {
			// The 4-tuple is reused by a new connection.
			r.forget(s)
			ok = false
		} else {
			s.count(side, tcp, t)
			r.stats.AfterEnd++
			r.maybeFlush()
			return
		}
	}
	if !ok {
		if r.nconns >= r.cfg.MaxConns {
			r.stats.ConnLimitDrops++
			r.maybeFlush()
			return
		}
		s = r.open(netFlow, tcp, t)
		side = SideA
		if tcp.SYN && tcp.ACK {
			side = SideB
		}
		s.gpC2S = side
	}
	r.segment(s, side, netFlow, tcp, t)
	r.maybeFlush()
}

// Tick moves the capture clock to t when no packet came, so that the
// periodic flush still runs (holes given up after GapTimeout, connections
// ended after IdleTimeout) while a live capture is quiet. t is the capture
// time it is now, for live capture the wall clock; a t earlier than the
// clock changes nothing.
func (r *Reassembler) Tick(t time.Time) {
	if r.closed || t.IsZero() {
		return
	}
	if t.After(r.now) {
		r.now = t
	}
	if r.lastFlush.IsZero() {
		r.lastFlush = r.now
	}
	r.maybeFlush()
}

// segment classifies a segment of a live stream and hands it to gopacket.
func (r *Reassembler) segment(s *stream, side Side, netFlow gopacket.Flow, tcp *layers.TCP, t time.Time) {
	s.count(side, tcp, t)
	h := &s.half[side]
	ds := &s.conn.Stats[side]
	n := len(tcp.Payload)
	if !h.based {
		h.based, h.synBase = true, tcp.SYN
		h.base = tcp.Seq
	}
	rel := tcp.Seq - h.base + seqOrigin - h.shift
	flags := tcp.SYN || tcp.FIN || tcp.RST
	if tcp.ACK {
		// Remember what this side acknowledged of the other's bytes.
		o := &s.half[side.Other()]
		if !o.acked || int32(tcp.Ack-o.ack) > 0 {
			o.ack, o.acked = tcp.Ack, true
		}
	}

	ctx := &r.ctx
	if !flags && n <= 1 && h.nextOK && (rel+1 == h.next || rel+1 == h.hi) {
		// A keep-alive probe: one below the next byte expected, or below
		// the highest byte seen when a hole is pending.
		ds.KeepAlives++
		r.stats.KeepAlives++
		return
	}
	end := rel + uint32(n)
	if tcp.SYN {
		end++
	}
	// Nothing seen beyond the next byte: gopacket holds nothing for this
	// side (see the fast path below).
	nothingAhead := h.nextOK && h.hi == h.next
	if !h.nextOK || int32(end-h.hi) > 0 {
		h.hi = end
	}
	if h.nextOK {
		d := int32(rel - h.next)
		switch {
		case d < 0 && n > 0:
			old := uint64(-int64(d))
			if old > uint64(n) {
				old = uint64(n)
			}
			ds.Retransmitted += old
			r.stats.Retransmitted += old
		case d > 0:
			if n > 0 {
				ds.OutOfOrder += uint64(n)
				r.stats.OutOfOrder += uint64(n)
			}
			// gopacket keeps this segment: give it a context of its own
			// so that its capture time survives.
			ctx = &captureCtx{}
		}
	} else if !flags && n == 1 && h.acked && int32(h.ack-tcp.Seq) >= 1 {
		// First segment of this side, one byte the peer already has.
		ds.KeepAlives++
		r.stats.KeepAlives++
		return
	}
	if n == 0 && !flags && s.inGP {
		return // a pure acknowledgement: nothing for gopacket to do
	}
	if nothingAhead && rel == h.next && n > 0 && !flags && s.inGP && !s.gpDone && !h.gpClosed && s.conn.End == EndNone {
		// The fast path: the next bytes of a side with nothing pending go
		// straight to the handler. gopacket never sees them: the side's
		// sequence numbers are shifted down by their length from now on,
		// so that in gopacket's space the stream goes on where it stood
		// (everything before rel is behind its next byte, everything
		// after lands in its place). Only done while gopacket buffers
		// nothing for the side, whose places would move.
		h.shift += uint32(n)
		h.hi = h.next
		ds.Delivered += uint64(n)
		r.stats.Delivered += uint64(n)
		s.h.Data(side, tcp.Payload, t)
		return
	}

	ctx.ci.Timestamp = t
	saved := tcp.Seq
	tcp.Seq = rel
	r.creating = s
	r.asm.AssembleWithContext(netFlow, tcp, ctx)
	r.creating = nil
	tcp.Seq = saved

	if s.rst && s.conn.End == EndNone {
		// The RST was not reached in order: end now anyway.
		r.end(s, EndRST)
	}
	r.releaseEnded()
}

func (s *stream) count(side Side, tcp *layers.TCP, t time.Time) {
	ds := &s.conn.Stats[side]
	ds.Packets++
	ds.Bytes += uint64(len(tcp.Payload))
	s.r.stats.Bytes += uint64(len(tcp.Payload))
	ds.SYN = ds.SYN || tcp.SYN
	ds.FIN = ds.FIN || tcp.FIN
	ds.RST = ds.RST || tcp.RST
	if t.After(s.conn.Last) {
		s.conn.Last = t
	}
}

// open starts tracking a connection whose first segment is tcp.
func (r *Reassembler) open(netFlow gopacket.Flow, tcp *layers.TCP, t time.Time) *stream {
	r.nextID++
	r.stats.Conns++
	s := &stream{r: r}
	c := &s.conn
	c.ID = r.nextID
	c.Start, c.Last = t, t
	src := addrPort(netFlow.Src(), uint16(tcp.SrcPort))
	dst := addrPort(netFlow.Dst(), uint16(tcp.DstPort))
	tp := tcp.TransportFlow()
	fwd := sideFlows{netFlow, tp}
	rev := sideFlows{netFlow.Reverse(), tp.Reverse()}
	fk := keyOf(netFlow, uint16(tcp.SrcPort), uint16(tcp.DstPort))
	rk := keyOf(rev.net, uint16(tcp.DstPort), uint16(tcp.SrcPort))
	a, b := SideA, SideB
	if tcp.SYN && tcp.ACK {
		src, dst = dst, src
		a, b = b, a
	}
	c.A, c.B = src, dst
	c.RolesFromSYN = tcp.SYN
	c.sides[a], c.sides[b] = fwd, rev
	c.keys[a], c.keys[b] = fk, rk
	r.conns[fk] = connRef{s, a}
	r.conns[rk] = connRef{s, b}
	r.nconns++
	s.h = r.factory(c)
	return s
}

// forget stops tracking an ended stream.
func (r *Reassembler) forget(s *stream) {
	if s.forgotten {
		return
	}
	s.forgotten = true
	for _, k := range s.conn.keys {
		if ref, ok := r.conns[k]; ok && ref.s == s {
			delete(r.conns, k)
		}
	}
	r.nconns--
}

func addrPort(e gopacket.Endpoint, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(e.Raw())
	return netip.AddrPortFrom(a, port)
}

// end ends a stream: the handler's End is called once.
func (r *Reassembler) end(s *stream, why EndReason) {
	if s.conn.End != EndNone {
		return
	}
	s.conn.End = why
	switch why {
	case EndFIN:
		r.stats.EndedFIN++
	case EndRST:
		r.stats.EndedRST++
	case EndTimeout:
		r.stats.EndedTimeout++
	case EndCapture:
		r.stats.EndedCapture++
	case EndReused:
		r.stats.EndedReused++
	}
	if s.h != nil {
		if r.flushing {
			r.held = append(r.held, heldCall{s: s, kind: heldEnd, t: s.conn.Last})
		} else {
			s.h.End(s.conn.Last)
		}
	}
	if s.inGP && !s.gpDone {
		// gopacket may be calling us: release it once it has returned.
		r.release = append(r.release, s)
	}
}

// releaseEnded releases the streams that ended while gopacket was busy.
func (r *Reassembler) releaseEnded() {
	for len(r.release) > 0 {
		s := r.release[len(r.release)-1]
		r.release[len(r.release)-1] = nil
		r.release = r.release[:len(r.release)-1]
		if !s.gpDone {
			r.releaseStream(s)
		}
	}
}

// releaseStream makes gopacket close both halves of an ended stream, so that its
// buffers return to the pool and its 4-tuple can be used again: each open
// half gets an empty FIN at its next expected sequence number.
func (r *Reassembler) releaseStream(s *stream) {
	r.internal = true
	for side := SideA; side <= SideB && !s.gpDone; side++ {
		h := &s.half[side]
		if h.gpClosed {
			continue
		}
		tcp := &layers.TCP{FIN: true, Seq: seqOrigin}
		if h.nextOK {
			tcp.Seq = h.next
		}
		f := s.conn.sides[side]
		tcp.SrcPort = layers.TCPPort(portOf(f.tp.Src()))
		tcp.DstPort = layers.TCPPort(portOf(f.tp.Dst()))
		tcp.SetInternalPortsForTesting()
		ctx := &captureCtx{ci: gopacket.CaptureInfo{Timestamp: r.now}}
		r.asm.AssembleWithContext(f.net, tcp, ctx)
	}
	r.internal = false
}

func portOf(e gopacket.Endpoint) uint16 {
	b := e.Raw()
	if len(b) != 2 {
		return 0
	}
	return uint16(b[0])<<8 | uint16(b[1])
}

// totalPagesUsed returns the pages gopacket has in use, or -1. gopacket
// tells it only in its Dump text; this is read only when a limit was hit.
func (r *Reassembler) totalPagesUsed() int {
	used := -1
	if _, err := fmt.Sscanf(r.asm.Dump(), "pageCache: used: %d", &used); err != nil {
		return -1
	}
	return used
}

// maybeFlush runs the periodic flush when FlushInterval of capture time has
// passed since the last one.
func (r *Reassembler) maybeFlush() {
	if r.now.Sub(r.lastFlush) < r.cfg.FlushInterval {
		return
	}
	r.lastFlush = r.now
	r.flush()
}

// flush stops waiting for holes older than GapTimeout, ends connections
// that saw no packet for IdleTimeout (keep-alives and acknowledgements
// count) and forgets ended ones idle for IdleTimeout.
func (r *Reassembler) flush() {
	r.stats.Flushes++
	wait := r.cfg.GapTimeout
	if r.cfg.IdleTimeout < wait {
		wait = r.cfg.IdleTimeout // hand over what was buffered before ending
	}
	r.flushing = true
	// TC stays zero: gopacket's idle check ignores the segments it never
	// sees (acknowledgements, keep-alives), so idleness is decided here.
	r.asm.FlushWithOptions(gpreasm.FlushOptions{T: r.now.Add(-wait)})
	r.flushing = false
	r.dispatchHeld()
	r.releaseEnded()
	idle := r.now.Add(-r.cfg.IdleTimeout)
	for _, s := range r.streamsByID(func(s *stream) bool { return s.conn.End == EndNone && s.conn.Last.Before(idle) }) {
		r.end(s, EndTimeout)
	}
	r.releaseEnded()
	for _, ref := range r.conns {
		s := ref.s
		if s.forgotten || s.conn.End == EndNone || !s.conn.Last.Before(idle) {
			continue
		}
		if s.inGP && !s.gpDone {
			continue // its FIN could not be placed: wait for gopacket
		}
		r.forget(s)
	}
}

// Close ends the input: everything still buffered is handed over (holes
// become gaps) and every open connection ends with EndCapture. Add does
// nothing after Close.
func (r *Reassembler) Close() {
	if r.closed {
		return
	}
	r.flushing = true
	r.asm.FlushAll()
	r.flushing = false
	r.dispatchHeld()
	r.release = r.release[:0]
	for _, s := range r.streamsByID(func(s *stream) bool { return s.conn.End == EndNone }) {
		r.end(s, EndCapture)
	}
	r.closed = true
}

// half is the state of one direction of a stream. Sequence numbers are in
// the rebased space handed to gopacket.
type half struct {
	based   bool
	synBase bool   // base is the sequence number of a SYN
	base    uint32 // sequence number of the first segment seen
	nextOK  bool
	next    uint32 // next byte gopacket expects
	hi      uint32 // end of the highest segment seen
	acked   bool
	ack     uint32 // highest acknowledgement the peer sent (as on the wire)
	finDone bool   // FIN reached in order
	// shift is the count of bytes delivered without gopacket (the fast
	// path of segment), taken off the side's sequence numbers before
	// gopacket sees them.
	shift    uint32
	gpClosed bool // gopacket closed this half
}

// stream is a connection as gopacket sees it (it implements gpreasm.Stream).
type stream struct {
	r     *Reassembler
	conn  Conn
	h     Handler
	half  [2]half
	gpC2S Side // side of gopacket's client-to-server direction

	rst       bool // a RST was accepted
	inGP      bool // gopacket holds a connection for it
	gpDone    bool // gopacket completed it
	forgotten bool
}

func (s *stream) side(dir gpreasm.TCPFlowDirection) Side {
	if dir == gpreasm.TCPDirClientToServer {
		return s.gpC2S
	}
	return s.gpC2S.Other()
}

// Accept implements gpreasm.Stream.
func (s *stream) Accept(tcp *layers.TCP, _ gopacket.CaptureInfo, dir gpreasm.TCPFlowDirection, nextSeq gpreasm.Sequence, start *bool, _ gpreasm.AssemblerContext) bool {
	*start = true // begin without a SYN
	if s.r.internal {
		return true
	}
	if s.conn.End != EndNone {
		return false
	}
	h := &s.half[s.side(dir)]
	switch {
	case nextSeq >= 0:
		h.next, h.nextOK = uint32(nextSeq), true
	case tcp.SYN:
		h.next, h.nextOK = tcp.Seq+1, true
	default:
		h.next, h.nextOK = tcp.Seq, true
	}
	if tcp.RST {
		s.rst = true
	}
	return true
}

// ReassembledSG implements gpreasm.Stream.
func (s *stream) ReassembledSG(sg gpreasm.ScatterGather, ac gpreasm.AssemblerContext) {
	dir, _, end, skip := sg.Info()
	side := s.side(dir)
	h := &s.half[side]
	if end {
		h.gpClosed = true
	}
	if s.conn.End != EndNone {
		return
	}
	r := s.r
	t := r.now
	if ac != nil {
		t = ac.GetCaptureInfo().Timestamp
	}
	ds := &s.conn.Stats[side]
	if skip > 0 {
		h.next += uint32(skip)
		ds.Gaps++
		ds.GapBytes += uint64(skip)
		r.stats.Gaps++
		r.stats.GapBytes += uint64(skip)
		if r.flushing {
			r.stats.TimeoutGaps++
		} else {
			r.stats.PageLimitGaps++
			if r.totalPagesUsed() >= r.cfg.MaxBufferedPagesTotal {
				r.stats.TotalPageLimitGaps++
			}
		}
		if r.flushing {
			r.held = append(r.held, heldCall{s: s, kind: heldGap, side: side, gap: uint64(skip), t: t})
		} else {
			s.h.Gap(side, uint64(skip), t)
		}
	}
	n, _ := sg.Lengths()
	if n > 0 {
		h.next += uint32(n)
		ds.Delivered += uint64(n)
		r.stats.Delivered += uint64(n)
		if r.flushing {
			off := len(r.heldBuf)
			r.heldBuf = append(r.heldBuf, sg.Fetch(n)...)
			r.held = append(r.held, heldCall{s: s, kind: heldData, side: side, off: off, n: n, t: t})
		} else {
			s.h.Data(side, sg.Fetch(n), t)
		}
	}
	if !end {
		return
	}
	if s.rst {
		r.end(s, EndRST)
		return
	}
	h.finDone = true
	if s.half[side.Other()].finDone {
		r.end(s, EndFIN)
	}
}

// ReassemblyComplete implements gpreasm.Stream: gopacket closed both halves
// and forgets the connection.
func (s *stream) ReassemblyComplete(_ gpreasm.AssemblerContext) bool {
	s.gpDone = true
	s.half[0].gpClosed, s.half[1].gpClosed = true, true
	r := s.r
	if s.conn.End == EndNone {
		// Only Close makes gopacket give up on a connection; FIN and RST
		// end it before gopacket completes it.
		why := EndCapture
		if !r.flushing {
			why = EndFIN
			if s.rst {
				why = EndRST
			}
		}
		r.end(s, why)
	}
	return true
}

// deadStream accepts nothing.
type deadStream struct{}

func (deadStream) Accept(*layers.TCP, gopacket.CaptureInfo, gpreasm.TCPFlowDirection, gpreasm.Sequence, *bool, gpreasm.AssemblerContext) bool {
	return false
}
func (deadStream) ReassembledSG(gpreasm.ScatterGather, gpreasm.AssemblerContext) {}
func (deadStream) ReassemblyComplete(gpreasm.AssemblerContext) bool              { return true }
