package dissect

import (
	"crypto/sha256"
	"hash"
	"math"
	"math/bits"
	"sync"
	"time"
	"unsafe"

	"github.com/wsdump/wsdump/internal/sha256x"
)

// Kept payloads are copied into buffers that belong to one direction of a
// conversation while it lives. A buffer grows by doubling, up to what the
// payload cap allows, and at the end of the conversation goes back to a
// free list for the next conversation, so that a capture of many
// conversations does not build each one's buffers from nothing.
const (
	// minPayloadBuf is the capacity of a payload buffer's first allocation.
	minPayloadBuf = 512
	// maxPooledBuf is the largest capacity a buffer may have to be put on
	// the free list; larger ones (MaxPayload above it, or 0) are left to
	// the garbage collector.
	maxPooledBuf = 256 << 10
)

// payloadBufs are the two payload buffers of a direction: the current
// frame's and the current message's.
type payloadBufs struct {
	frame, msg []byte
}

// payloadBufPool holds payloadBufs of ended conversations. A sync.Pool
// empties itself across garbage collections, so it never pins memory that
// the running conversations do not need.
var payloadBufPool = sync.Pool{New: func() any { return new(payloadBufs) }}

// appendKept appends p to buf, which will never hold more than limit bytes
// (len(buf)+len(p) <= limit). When buf is full it is replaced by one of
// twice its capacity (at least minPayloadBuf, at most limit), or at once by
// one of want bytes when more are expected: want is what the buffer will
// hold in all when the frame header said so, 0 when unknown. A want above
// maxPooledBuf is not trusted up front (a header may claim any length).
func appendKept(buf, p []byte, limit, want int) []byte {
	need := len(buf) + len(p)
	if need > cap(buf) {
		nb := make([]byte, len(buf), keptCap(cap(buf), need, limit, want))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, p...)
}

// keptCap is the capacity appendKept gives a buffer of capacity c that
// must hold need bytes.
func keptCap(c, need, limit, want int) int {
	n := max(2*c, minPayloadBuf, need)
	if want <= maxPooledBuf {
		n = max(n, want)
	}
	if n > limit {
		n = max(limit, need)
	}
	return n
}

// payloadWriter takes the payload bytes of a data message after any
// transform (inflating) and before UTF-8 checking, hashing and capping.
type payloadWriter interface {
	writePayload(p []byte)
}

// messageInflater decompresses the compressed payloads of one direction:
// messages with RSV1 set on their first frame (permessage-deflate, RFC 7692
// §6), or frames with RSV1 set (the per-frame drafts). The message assembler
// calls begin at the first frame of each data message; if begin returns
// true, frame is called at the header of every data frame of the message
// (the first included), write with its payload bytes as they arrive
// (unmasked, still compressed), frameEnd after each of its frames and end
// once after the last frame, or when the message ends incomplete. The
// payload to report (inflated, or as it was when it cannot be inflated) is
// handed to out; violations are reported through out.
type messageInflater interface {
	// perFrame reports that RSV1 marks compressed frames rather than
	// compressed messages, so RSV1 on a continuation frame is allowed.
	perFrame() bool
	begin(compressed bool) bool
	frame(compressed bool)
	write(p []byte, out inflateOutput)
	frameEnd(out inflateOutput)
	end(out inflateOutput, complete bool) inflateResult
	// release gives back the buffers of an ended conversation; nothing
	// is inflated afterwards.
	release()
}

// pingSlots is how many unanswered pings per direction are remembered for
// matching pongs; older ones are forgotten.
const pingSlots = 8

type pingRecord struct {
	used   bool
	length uint64
	sum    [32]byte
	t      time.Time
}

// dirState is the decoding state of one direction of a WebSocket
// conversation: the frame decoder, the message assembler and the control
// frame handling. It implements frameHandler.
type dirState struct {
	s   *wsSession
	dir Direction
	dec frameDecoder

	// Current frame.
	fr       Frame
	frameBuf []byte // kept payload of the current frame
	// frameView is the kept payload of the current frame when all of it
	// came in one piece: a view of the caller's bytes, not a copy, used
	// only before feed returns (the frame ends in the same call).
	frameView []byte
	frameCap  int  // payload bytes of the current frame to keep
	ctl       bool // the current frame stands alone (control or reserved opcode)
	afterFin  bool // the current frame is the last of its message

	// Data message in progress.
	inMsg     bool
	msg       Message
	msgBuf    []byte
	msgShared bool   // the message is the current frame alone: its payload is frameBuf
	msgOne    bool   // the message is one frame, not transformed
	msgView   []byte // kept payload when it came in one piece, as frameView
	msgHash   *sha256x.Digest
	msgDigest bool // the current message is hashed as it goes
	msgLazy   bool // ... from the moment its payload is cut, if it is
	msgUTF8   utf8Validator
	msgRaw    uint64 // payload bytes on the wire (before inflating)
	inflater  messageInflater
	inflating bool
	lastFrame uint64
	bufs      *payloadBufs // where frameBuf and msgBuf came from; nil: none yet

	// Control frame in progress.
	ctlHash hash.Hash
	ctlUTF8 utf8Validator
	ctlPos  uint64  // payload bytes of the control frame seen so far
	ctlHead [2]byte // first payload bytes: the close status code

	closed   bool // this direction sent a close frame
	outSync  bool // a gap stopped decoding of this direction
	offset   uint64
	msgIndex uint64
	pings    [pingSlots]pingRecord
	pingNext int
	stats    DirStats
	viol     Violation
}

func (d *dirState) init(s *wsSession, dir Direction, inf messageInflater) {
	d.s = s
	d.dir = dir
	d.dec.scratch = &s.scratch
	d.msgHash = sha256x.New(s.cfg.Digests)
	d.ctlHash = sha256.New()
	d.inflater = inf
}

// violation reports a violation of this direction tied to the current frame.
func (d *dirState) violation(code string, sev Severity, ref, detail string, t time.Time) {
	d.viol = Violation{
		Code: code, Severity: sev, Dir: d.dir,
		HasFrame: true, Frame: d.fr.Index, Time: t,
		Detail: detail, Ref: ref,
	}
	d.stats.Violations++
	d.s.sink.Violation(d.s.ref, &d.viol)
}

func (d *dirState) frameHeader(h *frameHeader, start, t time.Time) {
	d.fr = Frame{
		Dir: d.dir, Index: d.stats.Frames, Start: start,
		Fin: h.fin, Rsv: h.rsv, Opcode: h.opcode,
		Masked: h.masked, Mask: h.mask,
		Length: h.length, HeaderLen: h.headerLen,
	}
	d.frameBuf = d.frameBuf[:0]
	d.frameView = nil
	d.frameCap = int(min(d.s.cfg.keep(h.length), math.MaxInt)) // a capacity limit, never allocated up front
	if (d.s.cfg.NoPayload || d.s.cfg.NoFramePayload) && !h.opcode.IsControl() && !h.opcode.IsReserved() {
		d.frameCap = 0
	}
	d.stats.WireBytes += uint64(h.headerLen)

	const err, warn = SeverityError, SeverityWarning
	if d.dir == FromClient && !h.masked {
		d.violation("ws.client_frame_unmasked", err, "RFC 6455 §5.1", "client frame without masking key", t)
	}
	if d.dir == FromServer && h.masked {
		d.violation("ws.server_frame_masked", err, "RFC 6455 §5.1", "server frame with masking key", t)
	}
	if h.rsv&^d.s.opt.AllowedRSV != 0 {
		d.violation("ws.rsv_without_extension", err, "RFC 6455 §5.2", "RSV bit set that no negotiated extension defines", t)
	}
	if h.opcode.IsReserved() {
		d.violation("ws.reserved_opcode", err, "RFC 6455 §5.2", "opcode reserved by RFC 6455", t)
	}
	if h.opcode.IsControl() {
		if h.length > maxControlPayload {
			d.violation("ws.control_frame_too_long", err, "RFC 6455 §5.5", "control frame payload longer than 125 bytes", t)
		}
		if !h.fin {
			d.violation("ws.control_frame_fragmented", err, "RFC 6455 §5.5", "control frame without FIN", t)
		}
	}
	if h.topBit {
		d.violation("ws.length_top_bit_set", err, "RFC 6455 §5.2", "64-bit payload length with the most significant bit set", t)
	}
	if h.nonMinimal {
		d.violation("ws.non_minimal_length", warn, "RFC 6455 §5.2", "payload length not in its shortest encoding", t)
	}
	if h.rsv&0x4 != 0 && d.inflater != nil {
		if h.opcode.IsControl() {
			d.violation("ws.compressed_control_frame", err, "RFC 7692 §6", "RSV1 (compressed) set on a control frame", t)
		} else if h.opcode == OpContinuation && !d.inflater.perFrame() {
			d.violation("ws.compressed_continuation", err, "RFC 7692 §6", "RSV1 (compressed) set on a continuation frame", t)
		}
	}
	if d.closed {
		d.violation("ws.data_after_close", err, "RFC 6455 §5.5.1", "frame sent after this side's close frame", t)
	}

	d.ctl = h.opcode.IsControl() || h.opcode.IsReserved()
	if d.ctl {
		d.ctlHash.Reset()
		d.ctlUTF8.reset()
		d.ctlPos = 0
		return
	}
	switch {
	case h.opcode == OpContinuation && !d.inMsg:
		d.violation("ws.unexpected_continuation", err, "RFC 6455 §5.4", "continuation frame without a message in progress", t)
		d.beginMessage(h, start)
	case h.opcode != OpContinuation && d.inMsg:
		d.violation("ws.data_frame_inside_fragmented_message", err, "RFC 6455 §5.4", "new data frame before the last frame of the previous message", t)
		d.flushIncomplete(t)
		d.beginMessage(h, start)
	case h.opcode != OpContinuation:
		d.beginMessage(h, start)
	}
	if d.inflating {
		rsv1 := h.rsv&0x4 != 0 && d.s.opt.AllowedRSV&0x4 != 0
		d.inflater.frame(rsv1)
		if rsv1 && d.inflater.perFrame() {
			d.msg.Compressed = true
		}
	}
	d.msg.WireLength += uint64(h.headerLen)
	d.afterFin = h.fin
}

// beginMessage starts a data message with the frame whose header is h. A
// continuation frame without a message starts one with Opcode
// OpContinuation (its type is unknown).
func (d *dirState) beginMessage(h *frameHeader, start time.Time) {
	d.inMsg = true
	d.msg = Message{Dir: d.dir, Opcode: h.opcode, Start: start}
	d.msg.Compressed = h.rsv&0x4 != 0 && d.s.opt.AllowedRSV&0x4 != 0
	d.msgBuf = d.msgBuf[:0]
	d.msgHash.Reset()
	cfg := d.s.cfg
	d.msgUTF8.reset()
	d.msgRaw = 0
	d.inflating = d.inflater != nil && d.inflater.begin(d.msg.Compressed)
	d.msgOne = h.fin && !d.inflating
	// With LateDigest the owner hashes a message kept whole, from its
	// payload: one of one frame within the payload cap is; one whose size
	// is not known yet (fragmented, or inflated) is unless its payload
	// gets cut, when it is hashed from then on (writePayload).
	late := cfg.LateDigest && !cfg.NoPayload && !cfg.NoDigest
	d.msgLazy = late && !d.msgOne
	d.msgDigest = !cfg.NoDigest && !d.msgLazy && !(late && (cfg.MaxPayload <= 0 || h.length <= uint64(cfg.MaxPayload)))
	// A message of one frame, not transformed, uses the frame's buffer,
	// unless frames keep no payload; then the message's buffer is made
	// the size of the frame's kept bytes at once.
	d.msgShared = d.msgOne && !cfg.NoFramePayload
	d.msgView = nil
}

func (d *dirState) framePayload(p []byte) {
	d.stats.WireBytes += uint64(len(p))
	if room := d.frameCap - len(d.frameBuf); room > 0 {
		if room > len(p) {
			room = len(p)
		}
		if !d.ctl && uint64(len(p)) == d.fr.Length {
			// The whole payload at once: the frame ends before feed
			// returns, so a view of p serves instead of a copy.
			d.frameView = p[:room]
		} else {
			if d.frameBuf == nil {
				d.takeBufs()
				d.frameBuf = d.bufs.frame[:0]
			}
			d.frameBuf = appendKept(d.frameBuf, p[:room], d.frameCap, d.frameCap)
		}
	}
	if d.ctl {
		d.ctlHash.Write(p)
		q := p
		if d.fr.Opcode == OpClose && d.ctlPos < 2 {
			// The status code is not part of the reason text.
			k := copy(d.ctlHead[d.ctlPos:], q)
			q = q[k:]
		}
		d.ctlUTF8.write(q)
		d.ctlPos += uint64(len(p))
		return
	}
	d.msg.WireLength += uint64(len(p))
	d.msgRaw += uint64(len(p))
	if d.inflating {
		d.inflater.write(p, d)
		return
	}
	// Bytes lying in the caller's (see wsSession.fed) may be hashed later.
	d.write(p, (d.msgDigest || d.msgLazy) && d.s.fed != nil && within(p, d.s.fed))
}

// within reports whether all of p lies in buf.
func within(p, buf []byte) bool {
	if len(p) == 0 || len(buf) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= base && at+uintptr(len(p)) <= base+uintptr(len(buf))
}

// writePayload implements payloadWriter: p is message payload after any
// inflating, in a buffer of the dissector's.
func (d *dirState) writePayload(p []byte) { d.write(p, false) }

// write takes the next payload bytes of the message; stable says that p
// stays unchanged until Config.Digests is flushed.
func (d *dirState) write(p []byte, stable bool) {
	d.msg.Length += uint64(len(p))
	d.msgUTF8.write(p)
	if d.msgLazy && d.s.cfg.MaxPayload > 0 && d.msg.Length > uint64(d.s.cfg.MaxPayload) {
		// The payload gets cut here, so its digest cannot come from it:
		// from now on the message is hashed as it goes, starting with
		// what is kept (all of it until now). The kept bytes do not change
		// any more before the message ends, when its digest is taken
		// first: they may be hashed later.
		kept := len(d.msgBuf)
		d.keepPayload(p)
		d.msgLazy, d.msgDigest = false, true
		d.msgHash.WriteLater(d.msgBuf)
		d.hashPayload(p[len(d.msgBuf)-kept:], stable)
		return
	}
	if d.msgDigest {
		d.hashPayload(p, stable)
	}
	d.keepPayload(p)
}

// hashPayload hashes p into the message's digest, later if p is stable
// (see write).
func (d *dirState) hashPayload(p []byte, stable bool) {
	if stable {
		d.msgHash.WriteLater(p)
	} else {
		d.msgHash.Write(p)
	}
}

// keepPayload keeps what the payload cap allows of p, the message's
// latest bytes.
func (d *dirState) keepPayload(p []byte) {
	if d.msgShared || d.s.cfg.NoPayload {
		return
	}
	if room := int(min(d.s.cfg.keep(d.msg.Length), math.MaxInt)) - len(d.msgBuf); room > 0 {
		if room > len(p) {
			room = len(p)
		}
		if d.msgOne && uint64(len(p)) == d.fr.Length {
			// The whole payload of a one-frame message (not inflated) at
			// once; see frameView.
			d.msgView = p[:room]
			return
		}
		limit := math.MaxInt
		if d.s.cfg.MaxPayload > 0 {
			limit = d.s.cfg.MaxPayload
		}
		want := 0 // what the message will keep, when its one frame says
		if d.msgOne {
			want = int(min(d.s.cfg.keep(d.fr.Length), math.MaxInt))
		}
		if d.msgBuf == nil {
			d.takeBufs()
			if d.s.cfg.HandOff && want >= handOffMin && want <= maxPooledBuf {
				// Kept whole, the payload will be handed off: a buffer
				// of its size class at once.
				d.msgBuf = takeHandedBack(want)
			} else {
				d.msgBuf = d.bufs.msg[:0]
			}
		}
		if need := len(d.msgBuf) + room; need > cap(d.msgBuf) && d.s.cfg.HandOff {
			d.growHandOff(need, limit, want)
		}
		d.msgBuf = appendKept(d.msgBuf, p[:room], limit, want)
	}
}

// growHandOff replaces the message buffer by one that can hold need bytes,
// under Config.HandOff: a payload that large will be handed off, so the
// new buffer comes from (and the old one, unless it is the direction's
// own, goes back to) the buffers the sink gave back.
func (d *dirState) growHandOff(need, limit, want int) {
	n := keptCap(cap(d.msgBuf), need, limit, want)
	if n < handOffMin || n > maxPooledBuf {
		return // appendKept allocates
	}
	nb := takeHandedBack(n)[:len(d.msgBuf)]
	copy(nb, d.msgBuf)
	if !sameArray(d.msgBuf, d.bufs.msg) {
		ReleasePayload(d.msgBuf)
	}
	d.msgBuf = nb
}

// sameArray tells whether a and b share their backing array.
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// takeBufs gives the direction its buffers from the free list the first
// time it keeps payload bytes. A buffer still nil takes its pooled
// counterpart only when bytes go into it, so that an empty payload is nil
// or not exactly as it would be without the free list.
func (d *dirState) takeBufs() {
	if d.bufs == nil {
		d.bufs = payloadBufPool.Get().(*payloadBufs)
	}
}

// releaseBufs puts the direction's buffers back on the free list. It is
// called when the conversation has ended and reported its last event;
// nothing of the direction is decoded afterwards.
func (d *dirState) releaseBufs() {
	if d.inflater != nil {
		d.inflater.release()
	}
	b := d.bufs
	if b == nil {
		return
	}
	d.bufs = nil
	if d.frameBuf != nil {
		b.frame = d.frameBuf[:0]
	}
	if d.msgBuf != nil {
		b.msg = d.msgBuf[:0]
	}
	d.frameBuf, d.msgBuf = nil, nil
	if cap(b.frame) > maxPooledBuf {
		b.frame = nil
	}
	if cap(b.msg) > maxPooledBuf {
		b.msg = nil
	}
	payloadBufPool.Put(b)
}

// inflateViolation implements inflateOutput: a violation found while
// inflating the current message, tied to its latest frame.
func (d *dirState) inflateViolation(code string, sev Severity, ref, detail string) {
	d.violation(code, sev, ref, detail, d.msg.End)
}

func (d *dirState) frameEnd(t time.Time) {
	d.fr.Time = t
	// An empty payload is nil, whether a buffer was used before or not.
	d.fr.Payload = nil
	if d.frameView != nil {
		d.fr.Payload = d.frameView
	} else if len(d.frameBuf) > 0 {
		d.fr.Payload = d.frameBuf
	}
	d.fr.PayloadTruncated = uint64(len(d.fr.Payload)) < d.fr.Length
	d.s.sink.Frame(d.s.ref, &d.fr)
	d.stats.Frames++
	if d.ctl {
		d.controlEnd(t)
		return
	}
	d.msg.Frames++
	d.msg.End = t
	d.lastFrame = d.fr.Index
	if d.inflating {
		d.inflater.frameEnd(d)
	}
	if d.afterFin {
		d.finishMessage(t, false)
	}
}

// finishMessage reports the data message in progress. incomplete is set
// when it ends without its final frame.
func (d *dirState) finishMessage(t time.Time, incomplete bool) {
	d.inMsg = false
	m := &d.msg
	m.Incomplete = incomplete
	cut := false
	if d.inflating {
		r := d.inflater.end(d, !incomplete)
		m.Inflated = r.inflated && m.Compressed
		cut = r.cut
		if r.err != nil {
			m.InflateErr = r.err.Error()
		}
	}
	switch {
	case d.msgShared && d.frameView != nil:
		m.Payload = d.frameView
	case d.msgShared:
		m.Payload = d.frameBuf
	case d.msgView != nil:
		m.Payload = d.msgView
	default:
		m.Payload = d.msgBuf
	}
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	m.Truncated = uint64(len(m.Payload)) < m.Length || cut
	if d.msgDigest {
		d.msgHash.Sum(m.SHA256[:0])
	}
	m.ValidUTF8 = d.msgUTF8.valid()
	if m.Opcode == OpText && !m.ValidUTF8 && !incomplete && (!m.Compressed || (m.Inflated && m.InflateErr == "")) {
		d.viol = Violation{
			Code: "ws.invalid_utf8", Severity: SeverityError, Dir: d.dir,
			HasFrame: true, Frame: d.lastFrame, Time: t,
			Detail: "text message payload is not valid UTF-8", Ref: "RFC 6455 §8.1",
		}
		d.stats.Violations++
		d.s.sink.Violation(d.s.ref, &d.viol)
	}
	m.Index = d.msgIndex
	d.msgIndex++
	d.stats.Messages++
	d.stats.PayloadBytes += m.Length
	m.WirePayload = d.msgRaw
	if m.Compressed {
		d.stats.Compressed += d.msgRaw
		if m.Inflated {
			d.stats.Inflated += m.Length
		}
	}
	if d.s.cfg.HandOff && !d.msgShared && d.msgView == nil && len(m.Payload) >= handOffMin {
		m.PayloadHandedOff = true
	}
	d.s.sink.Message(d.s.ref, m)
	if m.PayloadHandedOff {
		// The sink has the buffer now; the next message takes another.
		if sameArray(d.msgBuf, d.bufs.msg) {
			d.bufs.msg = nil
		}
		d.msgBuf = nil
	}
}

// handOffMin is the shortest kept payload handed off under Config.HandOff;
// shorter ones cost less to copy than to hand over.
const handOffMin = 8 << 10

// handedBack holds buffers given back with ReleasePayload, for the
// messages of any conversation, by size class: free[c] holds buffers of
// at least 1<<c bytes.
var handedBack struct {
	sync.Mutex
	free [handClassMax + 1][][]byte
}

const (
	handClassMin = 13 // handOffMin
	handClassMax = 18 // maxPooledBuf
	// maxHandedBack bounds the buffers kept for reuse in each class.
	maxHandedBack = 128
)

// ReleasePayload gives back the payload buffer of a message reported with
// PayloadHandedOff (see Config.HandOff), once its receiver is done with
// it; the buffer is written again afterwards. Other slices must not be
// given.
func ReleasePayload(p []byte) {
	if cap(p) < handOffMin || cap(p) > maxPooledBuf {
		return
	}
	c := bits.Len(uint(cap(p))) - 1 // the class it fills
	handedBack.Lock()
	if len(handedBack.free[c]) < maxHandedBack {
		handedBack.free[c] = append(handedBack.free[c], p[:0])
	}
	handedBack.Unlock()
}

// takeHandedBack returns an empty buffer of at least n bytes (n at most
// maxPooledBuf), given back with ReleasePayload if there is one: the
// capacity is n rounded up to a power of two, so that the buffers given
// back serve messages of any size.
func takeHandedBack(n int) []byte {
	c := max(bits.Len(uint(n-1)), handClassMin)
	handedBack.Lock()
	var b []byte
	if k := len(handedBack.free[c]); k > 0 {
		b = handedBack.free[c][k-1]
		handedBack.free[c][k-1] = nil
		handedBack.free[c] = handedBack.free[c][:k-1]
	}
	handedBack.Unlock()
	if b == nil {
		b = make([]byte, 0, 1<<c)
	}
	return b
}

// flushIncomplete reports a data message in progress as incomplete; t is
// used as its end when a frame of it was cut short.
func (d *dirState) flushIncomplete(t time.Time) {
	if !d.inMsg {
		return
	}
	if d.dec.midFrame() && !d.ctl {
		d.msg.End = t
	}
	d.finishMessage(d.msg.End, true)
}

// controlEnd reports a control frame (or a frame with a reserved opcode) as
// a message of its own.
func (d *dirState) controlEnd(t time.Time) {
	m := &d.s.ctlMsg
	*m = Message{
		Dir: d.dir, Index: d.msgIndex, Opcode: d.fr.Opcode, Frames: 1,
		Start: d.fr.Start, End: t,
		WireLength:  uint64(d.fr.HeaderLen) + d.fr.Length,
		WirePayload: d.fr.Length,
		Length:      d.fr.Length,
		Payload:     d.fr.Payload, Truncated: d.fr.PayloadTruncated,
		ValidUTF8: d.ctlUTF8.valid(),
	}
	d.ctlHash.Sum(m.SHA256[:0])
	d.msgIndex++
	d.stats.Controls++
	d.stats.PayloadBytes += d.fr.Length
	switch d.fr.Opcode {
	case OpClose:
		d.closeFrame(m, t)
	case OpPing:
		d.stats.Pings++
		d.pings[d.pingNext] = pingRecord{used: true, length: m.Length, sum: m.SHA256, t: t}
		d.pingNext = (d.pingNext + 1) % pingSlots
	case OpPong:
		d.stats.Pongs++
		d.s.matchPong(d, m, t)
	}
	d.s.sink.Message(d.s.ref, m)
}

func (d *dirState) closeFrame(m *Message, t time.Time) {
	switch {
	case m.Length == 1:
		d.violation("ws.close_payload_one_byte", SeverityError, "RFC 6455 §5.5.1", "close frame payload of one byte", t)
	case m.Length >= 2:
		m.HasCloseCode = true
		m.CloseCode = uint16(d.ctlHead[0])<<8 | uint16(d.ctlHead[1])
		if len(d.frameBuf) > 2 {
			m.CloseReason = string(d.frameBuf[2:])
		}
		if _, _, ok := closeCodeInfo(m.CloseCode); !ok {
			d.violation("ws.invalid_close_code", SeverityError, "RFC 6455 §7.4", "close status code not allowed on the wire", t)
		}
		if !m.ValidUTF8 {
			d.violation("ws.close_reason_invalid_utf8", SeverityError, "RFC 6455 §7.1.6", "close reason is not valid UTF-8", t)
		}
	}
	ci := &d.s.close
	if !d.closed {
		d.closed = true
		if !ci.Sent[d.dir.Opposite()] {
			ci.Initiator = d.dir
		}
		ci.Sent[d.dir] = true
		ci.HasCode[d.dir] = m.HasCloseCode
		ci.Code[d.dir] = m.CloseCode
		ci.Reason[d.dir] = m.CloseReason
	}
}
