// Package tui is the terminal user interface of wsdump: a Bubble Tea program
// with a conversation list, the message timeline of the selected
// conversation, a payload and handshake view and a status bar.
//
// The pipeline never talks to the program directly. It sends its events to
// a Feed (a dissect.Sink), which copies what the interface shows (payloads
// capped) into batches. A goroutine hands the batches to the program through
// a bounded channel every Interval, and a batch that reaches MaxBatch events
// goes at once if the channel has room. When the interface falls behind
// (the channel is full), the batch being filled stops growing and what no
// longer fits is counted as dropped, while message counts and byte totals
// stay exact. The pipeline never waits for the interface.
package tui

import (
	"strings"
	"sync"
	"time"

	"github.com/wsdump/wsdump/dissect"
)

// Default limits of a Feed and a Model.
const (
	DefaultInterval   = 50 * time.Millisecond
	DefaultMaxBody    = 16 << 10
	DefaultMaxBodies  = 1000
	DefaultMaxBatch   = 20000
	DefaultMaxEntries = 500000
)

// recKind says what a record of a batch holds.
type recKind uint8

const (
	recHandshake recKind = iota
	recMessage
	recViolation
	recGap
	recEnd
)

// record is an owned copy of one event, as the interface needs it.
type record struct {
	kind   recKind
	conv   uint64
	client string
	server string

	hs  *handshakeInfo
	msg msgInfo
	vio *dissect.Violation
	gap dissect.Gap
	sum *dissect.Summary
}

// handshakeInfo is what the interface keeps of a handshake.
type handshakeInfo struct {
	Protocol    dissect.Protocol
	Request     dissect.Request
	Response    *dissect.Response
	Upgraded    bool
	Host        string
	Subprotocol string
	AcceptValid bool
	Compressed  bool // a compression extension was agreed
	Extensions  string
}

// msgInfo is what the interface keeps of a message.
type msgInfo struct {
	Dir          dissect.Direction
	Index        uint64
	Opcode       dissect.Opcode
	Frames       int
	End          time.Time // capture time of the last frame
	WireLength   uint64
	Length       uint64
	Body         []byte // first bytes of the payload, nil when none or dropped
	Truncated    bool   // Body holds fewer than Length bytes
	Compressed   bool
	InflateErr   string
	ValidUTF8    bool
	Incomplete   bool
	HasCloseCode bool
	CloseCode    uint16
	CloseReason  string
	HasRTT       bool
	RTT          time.Duration
}

// tally counts the messages of one conversation that did not fit in a
// batch, so that the counts the interface shows stay exact.
type tally struct {
	msgs, bytes [2]uint64
	violations  uint64
	last        time.Time
}

// Progress is a snapshot of how far the input has been read.
type Progress struct {
	Packets   uint64 // packets read
	BytesRead int64  // bytes of the input read
	Size      int64  // size of the input, 0 when unknown (a live interface, a pipe)
}

// batch is what the Feed hands to the program at once.
type batch struct {
	recs    []record
	lost    map[uint64]*tally
	dropped uint64 // events that did not fit, in total since the start
	prog    Progress
	wall    time.Time
	done    bool
	err     error
	summary string
}

// FeedOptions tune a Feed.
type FeedOptions struct {
	// Interval between batches; DefaultInterval when 0.
	Interval time.Duration
	// MaxBody caps the payload bytes copied of each message;
	// DefaultMaxBody when 0.
	MaxBody int
	// MaxBatch caps the events of one batch; beyond it events are counted
	// and dropped. DefaultMaxBatch when 0.
	MaxBatch int
	// Progress, when not nil, is called once per batch for the status bar.
	// It must be safe to call from another goroutine.
	Progress func() Progress
	// Now returns the wall clock; time.Now when nil.
	Now func() time.Time
}

// Feed is the dissect.Sink of the interface. Its methods are called by the
// pipeline goroutine; it never blocks them for longer than a short lock.
type Feed struct {
	opt  FeedOptions
	ch   chan *batch
	quit chan struct{}
	stop sync.Once

	mu      sync.Mutex
	cur     *batch
	dropped uint64
	ended   bool
	swapped map[*dissect.ConvRef]bool
}

// NewFeed returns a Feed. Call Start to begin sending batches, and Close when
// the pipeline is done.
func NewFeed(o FeedOptions) *Feed {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Feed{
		opt:     o,
		ch:      make(chan *batch, 4),
		quit:    make(chan struct{}),
		cur:     &batch{},
		swapped: map[*dissect.ConvRef]bool{},
	}
}

// Start runs the goroutine that sends a batch every Interval until Close or
// Stop.
func (f *Feed) Start() {
	go func() {
		t := time.NewTicker(f.opt.Interval)
		defer t.Stop()
		for {
			select {
			case <-f.quit:
				return
			case <-t.C:
				if f.flush() {
					return
				}
			}
		}
	}()
}

// flush tries to hand the current batch over without blocking. It reports
// whether the final batch went out.
func (f *Feed) flush() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	done := f.ended
	if !f.send() {
		// The interface is behind: keep filling this batch (up to MaxBatch).
		return false
	}
	return done
}

// send hands the current batch to the program if the channel has room,
// without waiting, and reports whether it did. Called with f.mu held.
func (f *Feed) send() bool {
	b := f.cur
	b.dropped = f.dropped
	if f.opt.Progress != nil {
		b.prog = f.opt.Progress()
	}
	b.wall = f.opt.Now()
	b.done = f.ended
	select {
	case f.ch <- b:
		f.cur = &batch{}
		return true
	default:
		return false
	}
}

// Close says the pipeline is done: err is its error (nil for a clean end)
// and summary a line for the status bar. The last batch is sent on the next
// tick.
func (f *Feed) Close(err error, summary string) {
	f.mu.Lock()
	f.ended = true
	f.cur.err = err
	f.cur.summary = summary
	f.mu.Unlock()
}

// Stop ends the sending goroutine (the program has quit).
func (f *Feed) Stop() { f.stop.Do(func() { close(f.quit) }) }

// Dropped returns how many events did not fit in a batch so far.
func (f *Feed) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// add appends r to the current batch, or counts it when the batch is full.
// Messages and violations that do not fit are tallied per conversation.
// Called with f.mu held.
func (f *Feed) add(r record) {
	b := f.cur
	limit := f.opt.MaxBatch
	if r.kind == recHandshake || r.kind == recEnd {
		limit *= 2 // rare and needed for the conversation's state
	}
	if len(b.recs) >= limit && !f.ended && f.send() {
		// A full batch goes at once when the program has room for it.
		b = f.cur
	}
	if len(b.recs) < limit {
		b.recs = append(b.recs, r)
		return
	}
	f.dropped++
	if r.client != "" || r.server != "" {
		// The endpoints went with the dropped record: send them again.
		for ref := range f.swapped {
			if ref.ID == r.conv {
				delete(f.swapped, ref)
				break
			}
		}
	}
	if r.kind != recMessage && r.kind != recViolation {
		return
	}
	if b.lost == nil {
		b.lost = map[uint64]*tally{}
	}
	t := b.lost[r.conv]
	if t == nil {
		t = &tally{}
		b.lost[r.conv] = t
	}
	if r.kind == recMessage {
		t.msgs[r.msg.Dir]++
		t.bytes[r.msg.Dir] += r.msg.Length
		t.last = r.msg.End
	} else {
		t.violations++
		t.last = r.vio.Time
	}
}

func (f *Feed) rec(c *dissect.ConvRef, k recKind) record {
	r := record{kind: k, conv: c.ID}
	// Endpoints are sent with the first event of a conversation and when the
	// dissector swaps the roles.
	if sw, ok := f.swapped[c]; !ok || sw != c.Swapped {
		f.swapped[c] = c.Swapped
		r.client = strings.Clone(c.Client)
		r.server = strings.Clone(c.Server)
	}
	return r
}

// Handshake implements dissect.Sink.
func (f *Feed) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	hi := &handshakeInfo{
		Protocol:    h.Protocol,
		Request:     copyRequest(&h.Request),
		Upgraded:    h.Upgraded,
		Host:        strings.Clone(h.Host),
		Subprotocol: strings.Clone(h.Subprotocol),
		AcceptValid: h.AcceptValid,
		Compressed:  h.Deflate != nil,
	}
	if h.Deflate != nil {
		hi.Extensions = h.Deflate.Extension
	}
	if h.Response != nil {
		resp := *h.Response
		resp.Version = strings.Clone(resp.Version)
		resp.Reason = strings.Clone(resp.Reason)
		resp.Headers = copyHeaders(resp.Headers)
		hi.Response = &resp
	}
	f.mu.Lock()
	r := f.rec(c, recHandshake)
	r.hs = hi
	f.add(r)
	f.mu.Unlock()
}

func copyRequest(q *dissect.Request) dissect.Request {
	return dissect.Request{
		Method:  strings.Clone(q.Method),
		URI:     strings.Clone(q.URI),
		Version: strings.Clone(q.Version),
		Headers: copyHeaders(q.Headers),
		Time:    q.Time,
	}
}

func copyHeaders(hs []dissect.Header) []dissect.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]dissect.Header, len(hs))
	for i, h := range hs {
		out[i] = dissect.Header{Name: strings.Clone(h.Name), Value: strings.Clone(h.Value)}
	}
	return out
}

// Frame implements dissect.Sink. The interface shows messages, which carry
// their frame counts, so frames are not copied.
func (f *Feed) Frame(c *dissect.ConvRef, fr *dissect.Frame) {}

// Message implements dissect.Sink.
func (f *Feed) Message(c *dissect.ConvRef, m *dissect.Message) {
	mi := msgInfo{
		Dir:          m.Dir,
		Index:        m.Index,
		Opcode:       m.Opcode,
		Frames:       m.Frames,
		End:          m.End,
		WireLength:   m.WireLength,
		Length:       m.Length,
		Truncated:    m.Truncated,
		Compressed:   m.Compressed,
		ValidUTF8:    m.ValidUTF8,
		Incomplete:   m.Incomplete,
		HasCloseCode: m.HasCloseCode,
		CloseCode:    m.CloseCode,
		HasRTT:       m.HasRTT,
		RTT:          m.RTT,
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cur.recs) < f.opt.MaxBatch || len(f.ch) < cap(f.ch) {
		// Copy the payload only when the record will be kept.
		mi.InflateErr = strings.Clone(m.InflateErr)
		mi.CloseReason = strings.Clone(m.CloseReason)
		p := m.Payload
		if len(p) > f.opt.MaxBody {
			p = p[:f.opt.MaxBody]
			mi.Truncated = true
		}
		if len(p) > 0 {
			mi.Body = append([]byte(nil), p...)
		}
	}
	r := f.rec(c, recMessage)
	r.msg = mi
	f.add(r)
}

// Violation implements dissect.Sink.
func (f *Feed) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	vc := *v
	vc.Code = strings.Clone(v.Code)
	vc.Detail = strings.Clone(v.Detail)
	vc.Ref = strings.Clone(v.Ref)
	f.mu.Lock()
	r := f.rec(c, recViolation)
	r.vio = &vc
	f.add(r)
	f.mu.Unlock()
}

// Gap implements dissect.Sink.
func (f *Feed) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	f.mu.Lock()
	r := f.rec(c, recGap)
	r.gap = *g
	f.add(r)
	f.mu.Unlock()
}

// End implements dissect.Sink.
func (f *Feed) End(c *dissect.ConvRef, s *dissect.Summary) {
	sc := *s
	sc.Handshake = nil // the interface has its own copy
	for d := 0; d < 2; d++ {
		sc.Close.Reason[d] = strings.Clone(s.Close.Reason[d])
	}
	f.mu.Lock()
	r := f.rec(c, recEnd)
	r.sum = &sc
	delete(f.swapped, c)
	f.add(r)
	f.mu.Unlock()
}

// take returns the batch being filled and starts a new one, as a tick
// would, without the channel.
func (f *Feed) take() *batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.cur
	b.dropped = f.dropped
	b.done = f.ended
	if f.opt.Progress != nil {
		b.prog = f.opt.Progress()
	}
	f.cur = &batch{}
	return b
}
