package dissect

import (
	"crypto/sha256"
	"hash"
	"time"
)

// This file decodes the data framing of the two drafts that preceded RFC
// 6455: draft-hixie-thewebsocketprotocol-75 §4.2 and -76 §5.3 (the latter
// is also draft-ietf-hybi-thewebsocketprotocol-00).
//
// Both drafts read a frame the same way. The first byte is the frame type.
//
//   - High bit clear (0x00 to 0x7F): a sentinel frame. The payload is the
//     bytes up to a 0xFF byte, which ends the frame and is not part of it.
//     Type 0x00 carries UTF-8 text; receivers discard the other types.
//   - High bit set (0x80 to 0xFF): a length-prefixed frame. The length
//     follows in groups of 7 bits, most significant group first, each byte
//     with its high bit set when another byte follows; then that many bytes
//     of payload, with no end marker.
//
// Draft 76 adds the closing handshake: the frame type 0xFF with a length of
// 0 (the two bytes 0xFF 0x00). A side that sent it sends nothing more.
// Draft-75 conversations are read the same way: there the two bytes are an
// empty frame that receivers discard, but clients send them to close.
//
// In the shared event model a sentinel frame is a Frame and a Message with
// Opcode OpText, a length-prefixed frame one with OpBinary, and the closing
// handshake one with OpClose. Frame.HixieType holds the type byte. A frame
// is always final (Fin set), unmasked, and is its own message.

// References of the hixie framing violations.
const (
	refHixie76Framing = "draft-hixie-thewebsocketprotocol-76 §5.3"
	refHixie75Framing = "draft-hixie-thewebsocketprotocol-75 §4.2"
)

// maxHixieLengthBytes is how many length bytes a length-prefixed frame may
// use: nine groups of 7 bits hold 63 bits, the largest length that is
// counted exactly. A ninth byte that announces one more makes the direction
// undecodable (hixie.frame_too_long).
const maxHixieLengthBytes = 9

type hixieState uint8

const (
	hxType     hixieState = iota // expecting a frame type byte
	hxSentinel                   // inside a sentinel frame, up to 0xFF
	hxLength                     // reading the length groups
	hxBody                       // reading a length-prefixed payload
)

// hixieSession decodes both directions of a hixie-75 or hixie-76
// conversation after its opening handshake. It reports to the sink the same
// events as an RFC 6455 session. Like wsSession it reuses its event structs
// and buffers: events are valid only during the Sink call.
type hixieSession struct {
	cfg   *Config
	ref   *ConvRef
	sink  Sink
	proto Protocol
	dirs  [2]hixieDir
	close CloseInfo
	gapEv Gap
	ended bool
}

// hixieDir is the decoding state of one direction.
type hixieDir struct {
	s   *hixieSession
	dir Direction
	st  hixieState

	typ      byte
	start    time.Time // capture time of the type byte
	length   uint64    // payload bytes of the current frame: announced (length-prefixed) or seen so far (sentinel)
	lenBytes int       // length bytes read
	remain   uint64    // payload bytes of a length-prefixed frame still to come
	buf      []byte    // kept payload of the current frame, at most cfg.MaxPayload bytes
	hash     hash.Hash
	utf8     utf8Validator

	closed    bool // this direction sent the closing handshake
	afterSeen bool // data after the closing handshake was reported
	outSync   bool
	offset    uint64 // stream offset of the next byte, gaps included
	msgIndex  uint64
	stats     DirStats

	fr   Frame
	msg  Message
	viol Violation
}

// newHixieSession returns a session for the framing of draft proto
// (ProtoHixie75 or ProtoHixie76). cfg must stay valid for the session's
// life.
func newHixieSession(cfg *Config, ref *ConvRef, sink Sink, proto Protocol) *hixieSession {
	s := &hixieSession{cfg: cfg, ref: ref, sink: sink, proto: proto}
	for i := range s.dirs {
		d := &s.dirs[i]
		d.s = s
		d.dir = Direction(i)
		d.hash = sha256.New()
	}
	return s
}

// framingRef is the specification section of the framing of s's draft.
func (s *hixieSession) framingRef() string {
	if s.proto == ProtoHixie75 {
		return refHixie75Framing
	}
	return refHixie76Framing
}

// feed decodes the next bytes of direction dir, captured at time t. data is
// not kept after the call.
func (s *hixieSession) feed(dir Direction, data []byte, t time.Time) {
	if s.ended || len(data) == 0 {
		return
	}
	d := &s.dirs[dir&1]
	d.offset += uint64(len(data))
	if d.outSync {
		d.stats.UndecodedTail += uint64(len(data))
		return
	}
	d.feed(data, t)
}

// gap tells the session that n bytes of direction dir were not captured.
// The direction is reported out of sync once and not decoded further; a

// skipOffset counts n handshake bytes in the stream offset of dir.
func (s *hixieSession) skipOffset(dir Direction, n uint64) {
	s.dirs[dir&1].offset += n
}

// frame in progress is reported as an incomplete message.
func (s *hixieSession) gap(dir Direction, n uint64, t time.Time) {
	if s.ended || n == 0 {
		return
	}
	d := &s.dirs[dir&1]
	d.stats.GapBytes += n
	if !d.outSync {
		d.flushIncomplete(t)
		d.outSync = true
		d.stats.OutOfSync = true
		s.gapEv = Gap{Dir: d.dir, Time: t, Offset: d.offset, Length: n, InFrame: true}
		s.sink.Gap(s.ref, &s.gapEv)
	}
	d.offset += n
}

// end finishes the session: a frame in progress is reported as an
// incomplete message and sum.Close and sum.Stats are filled. Close.Clean is
// set when both sides sent the closing handshake.
func (s *hixieSession) end(reason EndReason, t time.Time, sum *Summary) {
	if !s.ended {
		s.ended = true
		for i := range s.dirs {
			if !s.dirs[i].outSync {
				s.dirs[i].flushIncomplete(t)
			}
		}
		s.close.Clean = s.close.Sent[FromClient] && s.close.Sent[FromServer]
	}
	if sum != nil {
		sum.Close = s.close
		sum.Stats[FromClient] = s.dirs[FromClient].stats
		sum.Stats[FromServer] = s.dirs[FromServer].stats
	}
}

// violation reports a violation tied to the current frame of d.
func (d *hixieDir) violation(code string, sev Severity, ref, detail string, t time.Time) {
	d.viol = Violation{
		Code: code, Severity: sev, Dir: d.dir,
		HasFrame: true, Frame: d.stats.Frames, Time: t,
		Detail: detail, Ref: ref,
	}
	d.stats.Violations++
	d.s.sink.Violation(d.s.ref, &d.viol)
}

func (d *hixieDir) feed(data []byte, t time.Time) {
	for len(data) > 0 {
		switch d.st {
		case hxType:
			d.begin(data[0], t)
			data = data[1:]
		case hxSentinel:
			end := -1
			for i, c := range data {
				if c == 0xFF {
					end = i
					break
				}
			}
			if end < 0 {
				d.payload(data)
				return
			}
			d.payload(data[:end])
			data = data[end+1:]
			d.finish(t)
		case hxLength:
			c := data[0]
			data = data[1:]
			d.stats.WireBytes++
			d.lenBytes++
			if d.lenBytes == 1 && c == 0x80 {
				d.violation("hixie.non_minimal_length", SeverityWarning, d.s.framingRef(),
					"frame length with a leading zero group", t)
			}
			d.length = d.length<<7 | uint64(c&0x7F)
			if c&0x80 != 0 {
				if d.lenBytes == maxHixieLengthBytes {
					d.violation("hixie.frame_too_long", SeverityError, d.s.framingRef(),
						"frame length of more than 63 bits; the rest of this direction is not decoded", t)
					d.st = hxType
					d.outSync = true
					d.stats.OutOfSync = true
					d.stats.UndecodedTail += uint64(len(data))
					return
				}
				continue
			}
			d.remain = d.length
			d.lengthKnown(t)
			if d.remain == 0 {
				d.finish(t)
			} else {
				d.st = hxBody
			}
		case hxBody:
			k := uint64(len(data))
			if k > d.remain {
				k = d.remain
			}
			d.payload(data[:k])
			data = data[k:]
			d.remain -= k
			if d.remain == 0 {
				d.finish(t)
			}
		}
	}
}

// begin starts a frame with type byte typ.
func (d *hixieDir) begin(typ byte, t time.Time) {
	d.typ = typ
	d.start = t
	d.length, d.lenBytes, d.remain = 0, 0, 0
	d.buf = d.buf[:0]
	d.hash.Reset()
	d.utf8.reset()
	d.stats.WireBytes++
	if d.closed && !d.afterSeen {
		d.afterSeen = true
		d.violation("hixie.data_after_close", SeverityError, refHixie76Framing,
			"bytes sent after this side's closing handshake", t)
	}
	if typ&0x80 == 0 {
		d.st = hxSentinel
		if typ != 0x00 {
			d.violation("hixie.bad_frame_type", SeverityWarning, d.s.framingRef(),
				"sentinel frame of type "+hexByte(typ)+"; only 0x00 (text) is defined", t)
		}
		return
	}
	d.st = hxLength
	if typ != 0x80 && typ != 0xFF {
		d.violation("hixie.bad_frame_type", SeverityWarning, d.s.framingRef(),
			"length-prefixed frame of type "+hexByte(typ)+"; only 0x80 (binary) and 0xFF (closing) are used", t)
	}
}

// lengthKnown is called when the length of a length-prefixed frame has been
// read.
func (d *hixieDir) lengthKnown(t time.Time) {
	if d.typ == 0xFF && d.length != 0 {
		d.violation("hixie.bad_frame_type", SeverityWarning, d.s.framingRef(),
			"frame of type 0xFF with a non-zero length; 0xFF 0x00 is the closing handshake", t)
	}
}

// payload takes the next payload bytes of the current frame.
func (d *hixieDir) payload(p []byte) {
	if len(p) == 0 {
		return
	}
	d.stats.WireBytes += uint64(len(p))
	if d.st == hxSentinel {
		d.length += uint64(len(p))
	}
	if !d.s.cfg.NoDigest {
		d.hash.Write(p)
	}
	if d.typ&0x80 == 0 {
		d.utf8.write(p)
	}
	// Kept up to the payload cap; the buffer grows with the bytes seen,
	// never from a length read off the wire.
	if room := int(d.s.cfg.keep(uint64(len(d.buf))+uint64(len(p)))) - len(d.buf); room > 0 && !d.s.cfg.NoPayload {
		d.buf = append(d.buf, p[:room]...)
	}
}

// opcode maps the current frame type to the shared model's opcode.
func (d *hixieDir) opcode() Opcode {
	switch {
	case d.typ&0x80 == 0:
		return OpText
	case d.typ == 0xFF && d.length == 0:
		return OpClose
	}
	return OpBinary
}

// headerLen is the count of framing bytes before the payload.
func (d *hixieDir) headerLen() int { return 1 + d.lenBytes }

// finish reports the complete current frame and its message.
func (d *hixieDir) finish(t time.Time) {
	sentinel := d.typ&0x80 == 0
	if sentinel {
		d.stats.WireBytes++ // the 0xFF end marker
	}
	d.st = hxType
	d.report(t, false)
}

// flushIncomplete reports a frame cut short as an incomplete message (no
// Frame event, as for RFC 6455).
func (d *hixieDir) flushIncomplete(t time.Time) {
	if d.st == hxType {
		return
	}
	d.st = hxType
	d.report(t, true)
}

func (d *hixieDir) report(t time.Time, incomplete bool) {
	op := d.opcode()
	if incomplete && op == OpClose {
		op = OpBinary // 0xFF whose length never came
	}
	sentinel := d.typ&0x80 == 0
	wire := uint64(d.headerLen())
	seen := d.length
	if !sentinel && incomplete {
		seen = d.length - d.remain
		if d.remain == 0 { // cut inside the length
			seen = 0
		}
	}
	wire += seen
	if sentinel && !incomplete {
		wire++
	}
	kept := d.buf
	if !incomplete {
		d.fr = Frame{
			Dir: d.dir, Index: d.stats.Frames, Time: t, Start: d.start,
			Fin: true, Opcode: op, HixieType: d.typ,
			Length: d.length, HeaderLen: d.headerLen(),
			Payload: kept, PayloadTruncated: uint64(len(kept)) < d.length,
		}
		d.s.sink.Frame(d.s.ref, &d.fr)
		d.stats.Frames++
	}
	m := &d.msg
	*m = Message{
		Dir: d.dir, Index: d.msgIndex, Opcode: op, Frames: 1,
		Start: d.start, End: t,
		WireLength: wire, Length: seen,
		Payload: kept, Truncated: uint64(len(kept)) < seen,
		ValidUTF8:  d.utf8.valid(),
		Incomplete: incomplete,
	}
	if incomplete {
		m.Frames = 0
	}
	if !d.s.cfg.NoDigest || op == OpClose {
		d.hash.Sum(m.SHA256[:0]) // a closing frame has no payload to hash
	}
	if sentinel && !incomplete && !m.ValidUTF8 {
		d.viol = Violation{
			Code: "hixie.invalid_utf8", Severity: SeverityError, Dir: d.dir,
			HasFrame: true, Frame: d.fr.Index, Time: t,
			Detail: "text frame payload is not valid UTF-8", Ref: d.s.framingRef(),
		}
		d.stats.Violations++
		d.s.sink.Violation(d.s.ref, &d.viol)
	}
	d.msgIndex++
	d.stats.PayloadBytes += seen
	if op == OpClose {
		d.stats.Controls++
		if !d.closed {
			d.closed = true
			ci := &d.s.close
			if !ci.Sent[d.dir.Opposite()] {
				ci.Initiator = d.dir
			}
			ci.Sent[d.dir] = true
		}
	} else {
		d.stats.Messages++
	}
	d.s.sink.Message(d.s.ref, m)
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[b>>4], digits[b&0xF]})
}
