package dissect

import (
	"time"
)

// ConvOptions say how a conversation starts.
type ConvOptions struct {
	// AssumeWebSocket decodes frames from the first byte of each side, with
	// no handshake (like Wireshark's "Decode As").
	AssumeWebSocket bool
	// ClientSide is the side (0 or 1) believed to have opened the
	// connection: the sender of the SYN, or of the first packet seen.
	ClientSide int
	// RolesKnown says ClientSide comes from a captured SYN. Without it, and
	// with AssumeWebSocket, the first frame's mask bit decides: clients
	// mask, servers do not (RFC 6455 §5.1).
	RolesKnown bool
}

type convState uint8

const (
	stateHTTP  convState = iota // following HTTP until an upgrade
	stateWS                     // frames
	stateOther                  // not WebSocket: bytes are counted, not decoded
)

// maxPending caps the bytes held for a side that waits for the other side
// (a client whose upgrade request is not answered yet).
const maxPending = 1 << 20

// frameSession decodes the frames of both directions after the opening
// handshake: wsSession for RFC 6455, hixieSession for the hixie drafts.
type frameSession interface {
	feed(dir Direction, data []byte, t time.Time)
	gap(dir Direction, n uint64, t time.Time)
	end(reason EndReason, t time.Time, sum *Summary)
	// skipOffset counts n bytes that came before the frames (the opening
	// handshake) in the stream offset of dir.
	skipOffset(dir Direction, n uint64)
}

// Conversation decodes one TCP connection. Feed it the bytes of each side in
// order, in any pieces; it reports events to the sink.
type Conversation struct {
	cfg   *Config
	ref   *ConvRef
	sink  Sink
	state convState

	clientSide int  // the reassembler side that is the WebSocket client
	rolesFixed bool // clientSide is settled
	http       *httpPhase
	pending    [2][]byte // bytes of a side the HTTP phase cannot take yet
	ws         frameSession
	hs         *Handshake // the last handshake seen
	protocol   Protocol
	start      time.Time
	last       time.Time
	undecoded  [2]uint64
	httpBytes  [2]uint64 // bytes of each side the HTTP phase consumed
	wsBegun    [2]bool   // the side's frame offset counts its HTTP bytes
	ended      bool
}

// wsFeed hands frame bytes of side to the session.
func (c *Conversation) wsFeed(side int, data []byte, t time.Time) {
	c.beginWS(side)
	c.ws.feed(c.dir(side), data, t)
}

// wsGap reports lost bytes of side to the session.
func (c *Conversation) wsGap(side int, n uint64, t time.Time) {
	c.beginWS(side)
	c.ws.gap(c.dir(side), n, t)
}

// beginWS makes the session's stream offsets of side start after the
// handshake bytes, once.
func (c *Conversation) beginWS(side int) {
	if !c.wsBegun[side] {
		c.wsBegun[side] = true
		c.ws.skipOffset(c.dir(side), c.httpBytes[side])
	}
}

// NewConversation starts the dissection of one connection. ref names it in
// every event; the conversation swaps ref.Client and ref.Server (and sets
// ref.Swapped) when the content shows that the roles are the other way
// round, always before the first event that depends on them.
func NewConversation(cfg *Config, ref *ConvRef, sink Sink, opt ConvOptions) *Conversation {
	c := &Conversation{cfg: cfg, ref: ref, sink: sink, clientSide: opt.ClientSide & 1}
	if opt.AssumeWebSocket {
		if opt.RolesKnown {
			c.setClient(c.clientSide)
		}
		c.startWS(sessionOptions{}, ProtoRFC6455)
		return c
	}
	c.http = newHTTPPhase(cfg)
	c.http.onHandshake = c.onHandshake
	c.http.onViolation = c.onHTTPViolation
	return c
}

// setClient records which reassembler side is the client, swapping the
// endpoints of ref when it is side 1.
func (c *Conversation) setClient(side int) {
	c.clientSide = side
	c.rolesFixed = true
	if swapped := side == 1; swapped != c.ref.Swapped {
		c.ref.Client, c.ref.Server = c.ref.Server, c.ref.Client
		c.ref.Swapped = swapped
	}
}

func (c *Conversation) dir(side int) Direction {
	if side == c.clientSide {
		return FromClient
	}
	return FromServer
}

func (c *Conversation) startWS(opt sessionOptions, p Protocol) {
	c.state = stateWS
	c.protocol = p
	c.ws = newWSSession(c.cfg, c.ref, c.sink, opt)
}

func (c *Conversation) onHandshake(h *Handshake) {
	if side, ok := c.http.clientSide(); ok && (!c.rolesFixed || side != c.clientSide) {
		c.setClient(side)
	}
	c.hs = h
	c.sink.Handshake(c.ref, h)
	if h.Upgraded && c.ws == nil {
		var opt sessionOptions
		if h.Deflate != nil {
			opt.AllowedRSV = 0x4
			opt.Inflater = newDeflateInflaters(c.cfg, h.Deflate)
		}
		c.protocol = h.Protocol
		if h.Protocol == ProtoHixie75 || h.Protocol == ProtoHixie76 {
			c.ws = newHixieSession(c.cfg, c.ref, c.sink, h.Protocol)
		} else {
			c.ws = newWSSession(c.cfg, c.ref, c.sink, opt)
		}
	}
}

func (c *Conversation) onHTTPViolation(side int, v *Violation) {
	if !c.rolesFixed {
		if s, ok := c.http.clientSide(); ok {
			c.setClient(s)
		}
	}
	v.Dir = c.dir(side)
	c.sink.Violation(c.ref, v)
}

// Feed hands over the next bytes of side (0 or 1), captured at time t. data
// is only read during the call.
func (c *Conversation) Feed(side int, data []byte, t time.Time) {
	side &= 1
	if c.ended || len(data) == 0 {
		return
	}
	if c.start.IsZero() {
		c.start = t
	}
	c.last = t
	switch c.state {
	case stateWS:
		if !c.rolesFixed {
			c.guessRoles(side, data)
		}
		c.wsFeed(side, data, t)
	case stateOther:
		c.undecoded[side] += uint64(len(data))
	case stateHTTP:
		c.feedHTTP(side, data, t)
	}
}

// guessRoles decides, without a handshake, which side is the client from
// the mask bit of its first frame.
func (c *Conversation) guessRoles(side int, data []byte) {
	if len(data) < 2 {
		return // decided by a later, longer piece; frames decode the same
	}
	if data[1]&0x80 != 0 {
		c.setClient(side)
	} else {
		c.setClient(1 - side)
	}
}

// feedHTTP offers bytes to the HTTP phase. What it cannot take yet waits in
// pending and is offered again whenever the other side moves the phase on;
// once a side is upgraded, its remaining bytes are frames.
func (c *Conversation) feedHTTP(side int, data []byte, t time.Time) {
	if len(c.pending[side]) > 0 {
		if len(c.pending[side])+len(data) > maxPending {
			c.giveUp(side, t, "bytes waiting for the other side's answer exceed the limit")
			c.undecoded[side] += uint64(len(data))
			return
		}
		c.pending[side] = append(c.pending[side], data...)
		data = nil
	}
	// Offer side's bytes, then the other side's waiting bytes, until
	// neither moves.
	cur := [2][]byte{}
	cur[side] = data
	for progress := true; progress; {
		progress = false
		for s := side; s < side+2; s++ {
			s := s & 1
			in := cur[s]
			fromPending := false
			if len(c.pending[s]) > 0 {
				in, fromPending = c.pending[s], true
			}
			if len(in) == 0 {
				continue
			}
			rest := in
			switch {
			case c.state == stateOther:
				c.undecoded[s] += uint64(len(in))
				rest = nil
			case c.ws != nil && c.http.upgraded(s):
				c.wsFeed(s, in, t)
				rest = nil
			default:
				n := c.http.feed(s, in, t)
				c.httpBytes[s] += uint64(n)
				rest = in[n:]
				if c.http.notHTTP() {
					// The phase takes everything once it gives up; none
					// of this piece was decoded.
					c.state = stateOther
					c.undecoded[s] += uint64(len(in))
					rest = nil
				} else if c.ws != nil && c.http.upgraded(s) && len(rest) > 0 {
					c.wsFeed(s, rest, t)
					rest = nil
				}
			}
			if len(rest) != len(in) {
				progress = true
			}
			if fromPending {
				c.pending[s] = append(c.pending[s][:0], rest...)
			} else {
				cur[s] = nil
				if len(rest) > 0 {
					if len(rest) > maxPending {
						c.giveUp(s, t, "bytes waiting for the other side's answer exceed the limit")
						continue
					}
					c.pending[s] = append(c.pending[s][:0], rest...)
				}
			}
		}
	}
	if c.ws != nil && c.http.upgraded(0) && c.http.upgraded(1) {
		c.state = stateWS
	}
}

// giveUp stops decoding the conversation as HTTP, saying why.
func (c *Conversation) giveUp(side int, t time.Time, why string) {
	c.state = stateOther
	for s := range c.pending {
		c.undecoded[s] += uint64(len(c.pending[s]))
		c.pending[s] = nil
	}
	v := Violation{Code: "http.pending_limit", Severity: SeverityWarning, Dir: c.dir(side), Time: t, Detail: why}
	c.sink.Violation(c.ref, &v)
}

// Gap says n bytes of side were not captured before the next Feed of it.
func (c *Conversation) Gap(side int, n uint64, t time.Time) {
	side &= 1
	if c.ended || n == 0 {
		return
	}
	switch c.state {
	case stateWS:
		c.wsGap(side, n, t)
	case stateHTTP:
		if c.ws != nil && c.http.upgraded(side) {
			c.wsGap(side, n, t)
			return
		}
		// Without the handshake's bytes nothing after them can be trusted.
		c.state = stateOther
		g := Gap{Dir: c.dir(side), Time: t, Length: n, InFrame: true}
		c.sink.Gap(c.ref, &g)
	}
}

// End finishes the conversation and returns its summary. The caller adds
// the transport counts and passes it on to the sink's End.
func (c *Conversation) End(reason EndReason, t time.Time) *Summary {
	s := &Summary{Start: c.start, End: c.last, EndReason: reason}
	if c.ended {
		return s
	}
	c.ended = true
	if c.http != nil {
		// Bytes still waiting for an answer that never came.
		for side := range c.pending {
			c.undecoded[side] += uint64(len(c.pending[side]))
			c.pending[side] = nil
		}
		c.http.end(t)
	}
	s.Handshake = c.hs
	if c.ws != nil {
		s.IsWebSocket = true
		s.Protocol = c.protocol
		c.ws.end(reason, t, s)
	}
	for side := 0; side < 2; side++ {
		s.Stats[c.dir(side)].UndecodedTail += c.undecoded[side]
	}
	return s
}
