package dissect

import (
	"strconv"
	"time"
)

// sessionOptions carries what the opening handshake decided for the frame
// layer of a conversation.
type sessionOptions struct {
	// AllowedRSV holds the RSV bits (RSV1 0x4, RSV2 0x2, RSV3 0x1) that the
	// negotiated extensions define; any other RSV bit set is a violation.
	// The bits are allowed on every frame of both directions.
	AllowedRSV uint8
	// Inflater, indexed by Direction, decompresses the messages of that
	// direction that have RSV1 set on their first frame while AllowedRSV
	// allows RSV1. nil leaves their payload as it was on the wire
	// (Message.Compressed set, Inflated not).
	Inflater [2]messageInflater
}

// wsSession decodes the frames of both directions of one WebSocket
// conversation after its opening handshake (RFC 6455 §5 to §8) and reports
// frames, messages, violations and gaps to a Sink.
//
// The decode path does not allocate per frame or per message: event
// structs and payload buffers are reused and passed by pointer, valid only
// during the Sink call. A close frame's reason is the exception (a string).
type wsSession struct {
	cfg     *Config
	ref     *ConvRef
	sink    Sink
	opt     sessionOptions
	dirs    [2]dirState
	close   CloseInfo
	ctlMsg  Message
	gapEv   Gap
	ended   bool
	scratch [unmaskScratchLen]byte
	// fed is the caller's bytes during Conversation.Feed: payload lying
	// in them may be hashed later (Config.Digests).
	fed []byte
}

// newWSSession returns a session that reports to sink for the conversation
// ref. cfg must stay valid for the session's life.
func newWSSession(cfg *Config, ref *ConvRef, sink Sink, opt sessionOptions) *wsSession {
	s := &wsSession{cfg: cfg, ref: ref, sink: sink, opt: opt}
	for i := range s.dirs {
		s.dirs[i].init(s, Direction(i), opt.Inflater[i])
	}
	return s
}

// feed decodes the next bytes of direction dir, captured at time t. data is
// not kept after the call. Bytes of a direction that is out of sync are
// only counted (DirStats.UndecodedTail).
func (s *wsSession) feed(dir Direction, data []byte, t time.Time) {
	if s.ended || len(data) == 0 {
		return
	}
	d := &s.dirs[dir&1]
	d.offset += uint64(len(data))
	if d.outSync {
		d.stats.UndecodedTail += uint64(len(data))
		return
	}
	d.dec.feed(data, t, d)
}

// skipOffset moves the stream offset of direction dir on by n bytes that
// came before the frames (the opening handshake), so that gap offsets count
// from the start of the direction.
func (s *wsSession) skipOffset(dir Direction, n uint64) {
	s.dirs[dir&1].offset += n
}

// gap tells the session that n bytes of direction dir were not captured. A
// gap leaves no way to know where the next frame starts, so the direction
// is reported out of sync once (a Gap event with InFrame set and
// DirStats.OutOfSync) and is not decoded further: a data message in
// progress is reported as incomplete, later bytes are counted as
// undecoded. The other direction goes on.
func (s *wsSession) gap(dir Direction, n uint64, t time.Time) {
	if s.ended || n == 0 {
		return
	}
	d := &s.dirs[dir&1]
	d.stats.GapBytes += n
	if !d.outSync {
		// Finding the next frame boundary to resynchronise at would go
		// here; for now the direction stops.
		d.flushIncomplete(t)
		d.outSync = true
		d.stats.OutOfSync = true
		s.gapEv = Gap{Dir: d.dir, Time: t, Offset: d.offset, Length: n, InFrame: true}
		s.sink.Gap(s.ref, &s.gapEv)
	}
	d.offset += n
}

// resync resumes decoding of direction dir, out of sync since a gap, at a
// frame boundary the caller found after skipping skipped bytes. A message
// cut by the gap was already reported incomplete; a compression context
// the sender keeps across messages is lost with the bytes, so its messages
// stay undecodable (a direction without context takeover inflates again).
func (s *wsSession) resync(dir Direction, skipped uint64, t time.Time) {
	d := &s.dirs[dir&1]
	if s.ended || !d.outSync {
		return
	}
	d.outSync = false
	d.dec.hdrN, d.dec.inBody, d.dec.left, d.dec.maskPos = 0, false, 0, 0
	d.offset += skipped
	d.stats.UndecodedTail += skipped
	if l, ok := d.inflater.(interface{ loseContext() }); ok {
		l.loseContext()
	}
	d.viol = Violation{Code: "ws.resync", Severity: SeverityInfo, Dir: d.dir, Time: t, Ref: "RFC 6455 §5.2",
		Detail: "decoding resumes at the next frame found after the gap, " + strconv.FormatUint(skipped, 10) + " bytes skipped"}
	s.sink.Violation(s.ref, &d.viol)
}

// end finishes the session when the connection ended for reason at time t:
// a data message in progress is reported with Message.Incomplete set (a
// control frame cut short is dropped; its bytes stay counted in
// DirStats.WireBytes), and sum.Close and sum.Stats are filled. Close.Clean
// is set only when both sides sent a close frame. end does not call
// sink.End; the session takes no more input afterwards.
func (s *wsSession) end(reason EndReason, t time.Time, sum *Summary) {
	if !s.ended {
		s.ended = true
		for i := range s.dirs {
			if !s.dirs[i].outSync {
				s.dirs[i].flushIncomplete(t)
			}
			s.dirs[i].releaseBufs()
		}
		s.close.Clean = s.close.Sent[FromClient] && s.close.Sent[FromServer]
	}
	if sum != nil {
		sum.Close = s.close
		sum.Stats[FromClient] = s.dirs[FromClient].stats
		sum.Stats[FromServer] = s.dirs[FromServer].stats
	}
}

// matchPong looks for the ping that the pong m of direction d answers: the
// most recent unanswered ping of the other direction with the same
// payload. A match sets m.RTT and counts it in the stats of the direction
// that sent the ping; no match marks the pong unsolicited.
func (s *wsSession) matchPong(d *dirState, m *Message, t time.Time) {
	o := &s.dirs[d.dir.Opposite()]
	for k := 1; k <= pingSlots; k++ {
		p := &o.pings[(o.pingNext-k+pingSlots)%pingSlots]
		if !p.used || p.length != m.Length || p.sum != m.SHA256 {
			continue
		}
		p.used = false
		rtt := t.Sub(p.t)
		m.HasRTT, m.RTT = true, rtt
		st := &o.stats
		if st.RTTCount == 0 || rtt < st.RTTMin {
			st.RTTMin = rtt
		}
		if st.RTTCount == 0 || rtt > st.RTTMax {
			st.RTTMax = rtt
		}
		st.RTTCount++
		st.RTTSum += rtt
		return
	}
	m.Unsolicited = true
}
