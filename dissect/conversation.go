package dissect

import (
	"strconv"
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
	stateProbe                  // no handshake: looking for frames by their headers
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
	probes     [2]probe  // sides whose frames are being looked for
	pickup     bool      // frames are looked for where no handshake was seen
	midstream  bool      // the conversation was picked up without a handshake
	ended      bool
}

// probe holds the bytes of a side while its frames are looked for.
type probe struct {
	active bool
	resync bool   // after a gap in a decoded direction
	dead   bool   // no frames found: bytes are counted, not decoded
	buf    []byte // bytes since the probe began
	base   uint64 // stream offset of buf[0]
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
	// A connection whose SYN was captured shows its handshake, if it had
	// one; only one picked up in the middle is searched for frames.
	c.pickup = cfg.Midstream && !opt.RolesKnown
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
// is only read during the call, or, with Config.Digests, until the next
// Flush of Config.Digests.
func (c *Conversation) Feed(side int, data []byte, t time.Time) {
	side &= 1
	if c.ended || len(data) == 0 {
		return
	}
	if c.start.IsZero() {
		c.start = t
	}
	c.last = t
	if c.cfg.Digests != nil {
		if ws, ok := c.ws.(*wsSession); ok {
			// Payload in data may be hashed later.
			ws.fed = data
			c.feed(side, data, t)
			ws.fed = nil
			return
		}
	}
	c.feed(side, data, t)
}

func (c *Conversation) feed(side int, data []byte, t time.Time) {
	switch c.state {
	case stateWS:
		if c.probes[side].active {
			c.probeFeed(side, data, t)
			return
		}
		if !c.rolesFixed {
			c.guessRoles(side, data)
		}
		c.wsFeed(side, data, t)
	case stateOther:
		c.undecoded[side] += uint64(len(data))
	case stateHTTP:
		c.feedHTTP(side, data, t)
	case stateProbe:
		c.probeFeed(side, data, t)
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
				rest = in[n:]
				if !c.http.notHTTP() {
					c.httpBytes[s] += uint64(n)
				}
				if c.http.notHTTP() {
					// The phase takes everything once it gives up; none
					// of this piece was decoded.
					rest = nil
					if c.pickup && c.ws == nil {
						if _, spoke := c.http.clientSide(); !spoke {
							c.startProbing(s, in, t)
							return
						}
					}
					c.state = stateOther
					c.undecoded[s] += uint64(len(in))
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
		p := &c.probes[side]
		if p.active {
			// Lost again while looking: start over after this gap.
			c.undecoded[side] += uint64(len(p.buf))
			p.base += uint64(len(p.buf)) + n
			p.buf = p.buf[:0]
			return
		}
		c.wsGap(side, n, t)
		if _, ok := c.ws.(*wsSession); ok && c.cfg.Midstream {
			*p = probe{active: true, resync: true}
		}
	case stateProbe:
		p := &c.probes[side]
		c.undecoded[side] += uint64(len(p.buf))
		p.base += uint64(len(p.buf)) + n
		p.buf = p.buf[:0]
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
	if c.state == stateProbe {
		// A short conversation: two frames in a row from the very start
		// of a side are enough once it is over.
		for side := 0; side < 2 && c.state == stateProbe; side++ {
			if p := &c.probes[side]; len(p.buf) > 0 {
				if r := findChain(p.buf, maskAny, 2, probeNeedScan); r.found && r.off == 0 {
					c.confirm(side, r, t)
				}
			}
		}
	}
	for side := range c.probes {
		if p := &c.probes[side]; p.active {
			c.undecoded[side] += uint64(len(p.buf))
			p.buf = nil
		}
	}
	s.Handshake = c.hs
	s.Midstream = c.midstream
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

// startProbing turns a conversation that is not HTTP, and was picked up
// after its start, to looking for WebSocket frames by their headers. data
// is the piece of side that showed it is not HTTP; bytes of the other side
// that waited for an HTTP answer are looked at too.
func (c *Conversation) startProbing(side int, data []byte, t time.Time) {
	c.state = stateProbe
	for s := range c.probes {
		c.probes[s] = probe{active: true, base: c.httpBytes[s]}
	}
	other := 1 - side
	if len(c.pending[other]) > 0 {
		pend := c.pending[other]
		c.pending[other] = nil
		c.probeFeed(other, pend, t)
	}
	if c.state == stateProbe || c.probes[side].active {
		c.probeFeed(side, data, t)
	} else {
		c.undecoded[side] += uint64(len(data))
	}
}

// probeFeed adds bytes of side to its probe and looks for frames in them.
func (c *Conversation) probeFeed(side int, data []byte, t time.Time) {
	p := &c.probes[side]
	if p.dead {
		c.undecoded[side] += uint64(len(data))
		return
	}
	if len(p.buf)+len(data) > probeCap {
		c.probeFailed(side, data)
		return
	}
	p.buf = append(p.buf, data...)
	rule := maskAny
	if c.rolesFixed {
		rule = maskClear
		if c.dir(side) == FromClient {
			rule = maskSet
		}
	}
	need := probeNeedStart
	if p.resync {
		need = 2 // the direction's mask bit is known: one more frame confirms
	}
	r := findChain(p.buf, rule, need, probeNeedScan)
	switch {
	case r.found:
		c.confirm(side, r, t)
	case !r.more:
		c.probeFailed(side, nil)
	}
}

// probeFailed gives up looking for frames of side: its bytes are counted,
// not decoded, from now on.
func (c *Conversation) probeFailed(side int, data []byte) {
	p := &c.probes[side]
	c.undecoded[side] += uint64(len(p.buf) + len(data))
	*p = probe{active: true, dead: true}
	if c.state == stateProbe {
		// Without frames on both sides it is not taken for WebSocket.
		other := &c.probes[1-side]
		c.undecoded[1-side] += uint64(len(other.buf))
		*other = probe{}
		*p = probe{}
		c.state = stateOther
	}
}

// confirm starts decoding side at the frames found in its probe.
func (c *Conversation) confirm(side int, r chainResult, t time.Time) {
	p := &c.probes[side]
	buf, base, resync := p.buf, p.base, p.resync
	*p = probe{}
	start := buf[r.off:]
	if resync {
		// The session counts the bytes skipped.
		c.ws.(*wsSession).resync(c.dir(side), uint64(r.off), t)
		c.ws.feed(c.dir(side), start, t)
		return
	}
	c.undecoded[side] += uint64(r.off)
	if c.state == stateProbe {
		if !c.rolesFixed {
			if r.masked {
				c.setClient(side)
			} else {
				c.setClient(1 - side)
			}
		}
		var opt sessionOptions
		if r.rsv1 {
			// Compression without its negotiation: assume permessage-
			// deflate with a fresh context per message; a message that
			// needs an earlier one fails to inflate and says so.
			opt.AllowedRSV = 0x4
			opt.Inflater = newDeflateInflaters(c.cfg, &DeflateParams{
				Extension:         "permessage-deflate",
				NoContextTakeover: [2]bool{true, true},
				MaxWindowBits:     [2]int{15, 15},
			})
		}
		c.midstream = true
		c.wsBegun = [2]bool{true, true}
		c.startWS(opt, ProtoRFC6455)
		v := Violation{Code: "ws.handshake_not_seen", Severity: SeverityInfo, Dir: c.dir(side), Time: t, Ref: "RFC 6455 §4",
			Detail: "no opening handshake captured: frames found by their headers from stream offset " + strconv.FormatUint(base+uint64(r.off), 10)}
		c.sink.Violation(c.ref, &v)
	}
	c.ws.skipOffset(c.dir(side), base+uint64(r.off))
	c.ws.feed(c.dir(side), start, t)
	// The other side may already hold frames.
	other := 1 - side
	if op := &c.probes[other]; op.active && !op.dead && len(op.buf) > 0 {
		pend := op.buf
		op.buf = nil
		c.probeFeed(other, pend, t)
	}
}
