// Package pipeline wires the stages of wsdump together: a packet source, the
// link-layer decoder, the TCP reassembler and one dissector per conversation,
// whose events go to a sink.
package pipeline

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/reassembly"
)

// Config is what a run needs beyond its source and sink.
type Config struct {
	Dissect    dissect.Config
	Reassembly reassembly.Config
	// WSPorts are TCP ports decoded as WebSocket from the first byte, without
	// a handshake (like Wireshark's Decode As).
	WSPorts []uint16
	// MaxPackets stops after this many packets (0: no limit).
	MaxPackets uint64
	// Dissectors is the number of dissecting goroutines. 0: one goroutine
	// does everything. n > 0: reading, decoding and reassembly in one,
	// dissection in n (connections shared out by ID), the sink in one
	// more, joined by bounded queues (see staged.go); the sink
	// receives the very same events in the same order. Events wait in
	// batches of up to a few thousand packets: meant for files; a live
	// source would show them late.
	Dissectors int
	// DropFrames leaves Frame events out (they are still counted): for
	// sinks that show none, which saves copying them between stages.
	DropFrames bool
}

// Stats counts what a run saw.
type Stats struct {
	Capture       capture.DecodeStats
	Reassembly    reassembly.Stats
	Conversations uint64 // TCP conversations ended
	WebSockets    uint64 // of which spoke WebSocket
	Handshakes    uint64
	Messages      uint64
	Frames        uint64
	Violations    uint64
	Gaps          uint64
	First, Last   time.Time // capture times of the first and last packet
}

// addCounts adds the counts a dissector keeps (conversations and events)
// of o to s.
func (s *Stats) addCounts(o *Stats) {
	s.Conversations += o.Conversations
	s.WebSockets += o.WebSockets
	s.Handshakes += o.Handshakes
	s.Messages += o.Messages
	s.Frames += o.Frames
	s.Violations += o.Violations
	s.Gaps += o.Gaps
}

// Run reads src to its end (or until ctx is done or MaxPackets is reached),
// and sends every event to sink. Conversations still open at the end are
// ended, so nothing decoded is lost. The error is the source's, for a damaged
// input; the stats cover everything read before it.
//
// A live source returns capture.ErrTimeout while the link is quiet: Run then
// moves the reassembler's clock to the time the source says (Tick), so that
// holes are given up and idle conversations end without new packets, and
// checks ctx, so an interrupt is noticed within one read timeout.
func Run(ctx context.Context, src capture.Source, cfg Config, sink dissect.Sink) (Stats, error) {
	if cfg.Dissectors > 0 {
		return runStaged(ctx, src, cfg, sink)
	}
	p := &pipe{cfg: cfg, dcfg: cfg.dissectConfig()}
	p.sink = countingSink{next: sink, st: &p.st, dropFrames: cfg.DropFrames, fillDigest: cfg.fillDigest()}
	dec := capture.NewDecoder()
	r := reassembly.New(cfg.Reassembly, p.newConv)
	err := readLoop(ctx, src, cfg.MaxPackets, dec, r, &p.st)
	r.Close()
	p.st.Capture = dec.Stats()
	p.st.Reassembly = r.Stats()
	return p.st, err
}

// readLoop reads src to its end (or until ctx is done or maxPackets are
// read), decodes each packet and gives its segment to r. It sets First and
// Last of st, and returns the source's error for a damaged input.
func readLoop(ctx context.Context, src capture.Source, maxPackets uint64, dec *capture.Decoder, r *reassembly.Reassembler, st *Stats) error {
	var err error
	done := ctx.Done()
	var n uint64
	for {
		if n&255 == 0 && done != nil {
			select {
			case <-done:
				err = ctx.Err()
			default:
			}
			if err != nil {
				err = nil // an interrupt is a normal end
				break
			}
		}
		if maxPackets > 0 && n >= maxPackets {
			break
		}
		pkt, e := src.Next()
		if e != nil {
			if errors.Is(e, capture.ErrTimeout) {
				// A quiet live capture: let the capture clock run, and
				// notice an interrupt.
				r.Tick(pkt.Timestamp)
				if done != nil && ctx.Err() != nil {
					break
				}
				continue
			}
			if !errors.Is(e, io.EOF) {
				err = e
			}
			break
		}
		n++
		if st.First.IsZero() {
			st.First = pkt.Timestamp
		}
		if pkt.Timestamp.After(st.Last) {
			st.Last = pkt.Timestamp
		}
		seg, ok := dec.Decode(pkt)
		if !ok {
			continue
		}
		r.Add(seg.NetFlow, seg.TCP, seg.Timestamp)
	}
	return err
}

type pipe struct {
	cfg  Config
	dcfg dissect.Config
	sink countingSink
	st   Stats
	// idleSum is the summary of conversations that never carried a byte,
	// reused from one to the next.
	idleSum dissect.Summary
}

func (p *pipe) isWSPort(port uint16) bool {
	for _, q := range p.cfg.WSPorts {
		if q == port {
			return true
		}
	}
	return false
}

func (p *pipe) newConv(c *reassembly.Conn) reassembly.Handler {
	return &conv{p: p, rc: c}
}

// dissector returns the conversation's dissector, made when the first byte
// (or gap) arrives: connections that never carry data (half-open scans,
// refused connections) cost no dissector state.
func (c *conv) dissector() *dissect.Conversation {
	if c.d != nil {
		return c.d
	}
	p, rc := c.p, c.rc
	c.ref = dissect.ConvRef{ID: rc.ID, Client: addrString(rc.A), Server: addrString(rc.B)}
	opt := dissect.ConvOptions{RolesKnown: rc.RolesFromSYN}
	switch {
	case p.isWSPort(rc.B.Port()):
		opt.AssumeWebSocket = true
	case p.isWSPort(rc.A.Port()):
		opt.AssumeWebSocket = true
		if !rc.RolesFromSYN {
			// Until a frame's mask bit says otherwise, the side on the
			// WebSocket port is the server.
			opt.ClientSide = 1
		}
	}
	c.d = dissect.NewConversation(&p.dcfg, &c.ref, p.sink, opt)
	return c.d
}

func addrString(a netip.AddrPort) string {
	return a.String()
}

// conv joins one reassembled connection to its dissector.
type conv struct {
	p   *pipe
	rc  *reassembly.Conn
	ref dissect.ConvRef
	d   *dissect.Conversation
}

func (c *conv) Data(side reassembly.Side, data []byte, t time.Time) {
	c.dissector().Feed(int(side), data, t)
}

func (c *conv) Gap(side reassembly.Side, n uint64, t time.Time) {
	c.dissector().Gap(int(side), n, t)
}

func (c *conv) End(t time.Time) {
	var sum *dissect.Summary
	if c.d != nil {
		sum = c.d.End(endReason(c.rc.End), t)
	} else {
		// No byte ever came: nothing to dissect.
		c.ref = dissect.ConvRef{ID: c.rc.ID, Client: addrString(c.rc.A), Server: addrString(c.rc.B)}
		sum = &c.p.idleSum
		*sum = dissect.Summary{EndReason: endReason(c.rc.End)}
	}
	sum.Start = c.rc.Start
	sum.End = c.rc.Last
	for side := 0; side < 2; side++ {
		d := side
		if c.ref.Swapped {
			d = 1 - side
		}
		rs := &c.rc.Stats[side]
		sum.TCP[d] = dissect.TCPStats{
			Packets:  rs.Packets,
			Bytes:    rs.Bytes,
			Gaps:     rs.Gaps,
			GapBytes: rs.GapBytes,
			FIN:      rs.FIN,
			RST:      rs.RST,
		}
	}
	c.p.st.Conversations++
	if sum.IsWebSocket {
		c.p.st.WebSockets++
	}
	c.p.sink.next.End(&c.ref, sum)
	// The reassembler remembers an ended connection for a while (so that
	// its last acknowledgements open nothing new), and this handler with
	// it: let the dissector's state go now.
	c.d = nil
}

func endReason(r reassembly.EndReason) dissect.EndReason {
	switch r {
	case reassembly.EndFIN:
		return dissect.EndFIN
	case reassembly.EndRST:
		return dissect.EndRST
	case reassembly.EndTimeout:
		return dissect.EndTimeout
	case reassembly.EndReused:
		return dissect.EndReused
	case reassembly.EndCapture:
		return dissect.EndCapture
	}
	return dissect.EndUnknown
}

// countingSink counts events on their way to the real sink.
type countingSink struct {
	next       dissect.Sink
	st         *Stats
	dropFrames bool
	fillDigest bool // complete the digests the dissector left to its owner
}

func (s countingSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	s.st.Handshakes++
	s.next.Handshake(c, h)
}
func (s countingSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	s.st.Frames++
	if !s.dropFrames {
		s.next.Frame(c, f)
	}
}
func (s countingSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	s.st.Messages++
	if s.fillDigest {
		dissect.FillDigest(m)
	}
	s.next.Message(c, m)
}
func (s countingSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	s.st.Violations++
	s.next.Violation(c, v)
}
func (s countingSink) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	s.st.Gaps++
	s.next.Gap(c, g)
}
func (s countingSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	s.next.End(c, sum)
}

// fillDigest tells whether the pipeline completes the digests the
// dissectors leave to their owner (dissect.Config.LateDigest): not when no
// digest is wanted at all.
func (cfg *Config) fillDigest() bool {
	return cfg.Dissect.LateDigest && !cfg.Dissect.NoDigest
}

// dissectConfig is the configuration of the conversations' dissectors:
// Dissect, with frames' payloads left out when frames are.
func (cfg *Config) dissectConfig() dissect.Config {
	d := cfg.Dissect
	if cfg.DropFrames {
		d.NoFramePayload = true
	}
	return d
}
