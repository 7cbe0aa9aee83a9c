package pipeline

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/reassembly"
)

// The staged run splits the work of Run over three goroutines joined by
// bounded queues of batches:
//
//	reader:    source → link/IP/TCP decoding → packet batches
//	dissector: TCP reassembly → dissection → event batches
//	output:    event batches → the sink
//
// Every stage handles its input in order, so the sink receives exactly
// the events, in exactly the order, of the single-goroutine run: the
// outputs are byte for byte the same. Batches are recycled through free
// lists, so a run allocates a fixed number of them whatever the size of
// the input; the queues hold at most stagedQueue batches each, which
// bounds the memory between the stages (and is how far the dissector may
// run ahead of a slow output).
const stagedQueue = 4

// Batch sizes; variables so that tests can make batches tiny.
var (
	pktBatchBytes    = 1 << 20 // TCP bytes per packet batch
	pktBatchPackets  = 2048
	evBatchBytes     = 1 << 20 // payload bytes per event batch
	evBatchEvents    = 1024
	evBatchMaxRetain = 4 << 20 // a batch whose arena grew beyond this is not kept
)

// pktRec is one decoded TCP segment of a packet batch: its TCP header and
// payload are data[off:off+hdr+n].
type pktRec struct {
	t      time.Time
	flow   gopacket.Flow
	off    int
	hdr, n int
}

type pktBatch struct {
	recs []pktRec
	data []byte
}

// readerResult is what the reader stage hands back when it is done.
type readerResult struct {
	st          capture.DecodeStats
	first, last time.Time
	err         error
}

// runStaged is Run over three goroutines; see Config.Workers.
func runStaged(ctx context.Context, src capture.Source, cfg Config, sink dissect.Sink) (Stats, error) {
	full := make(chan *pktBatch, stagedQueue)
	free := make(chan *pktBatch, stagedQueue+2)
	for i := 0; i < stagedQueue+2; i++ {
		free <- &pktBatch{recs: make([]pktRec, 0, pktBatchPackets), data: make([]byte, 0, pktBatchBytes+64<<10)}
	}
	var rr readerResult
	go func() {
		rr = readStage(ctx, src, cfg.MaxPackets, full, free)
		close(full)
	}()

	q := newEventQueue(sink)
	// Digests left to the owner are computed by the output stage.
	q.fillDigest = cfg.Dissect.LateDigest
	outDone := make(chan struct{})
	go func() {
		q.outputStage()
		close(outDone)
	}()

	p := &pipe{cfg: cfg, dcfg: cfg.Dissect}
	p.sink = countingSink{next: q, st: &p.st, dropFrames: cfg.DropFrames}
	r := reassembly.New(cfg.Reassembly, p.newConv)
	var tcp layers.TCP
	for b := range full {
		for i := range b.recs {
			rec := &b.recs[i]
			if err := tcp.DecodeFromBytes(b.data[rec.off:rec.off+rec.hdr+rec.n], gopacket.NilDecodeFeedback); err != nil {
				continue // cannot happen: the reader decoded these bytes
			}
			r.Add(rec.flow, &tcp, rec.t)
		}
		b.recs = b.recs[:0]
		b.data = b.data[:0]
		free <- b
	}
	r.Close()
	q.finish()
	<-outDone

	p.st.Capture = rr.st
	p.st.Reassembly = r.Stats()
	p.st.First, p.st.Last = rr.first, rr.last
	return p.st, rr.err
}

// readStage reads and decodes packets into batches until the source ends,
// ctx is done or maxPackets are read.
func readStage(ctx context.Context, src capture.Source, maxPackets uint64, full, free chan *pktBatch) readerResult {
	var res readerResult
	dec := capture.NewDecoder()
	done := ctx.Done()
	b := <-free
	var n uint64
	for {
		if n&255 == 0 && done != nil && ctx.Err() != nil {
			break // an interrupt is a normal end
		}
		if maxPackets > 0 && n >= maxPackets {
			break
		}
		pkt, e := src.Next()
		if e != nil {
			if errors.Is(e, capture.ErrTimeout) {
				// Not a file: staged runs are for files, but a source
				// that waits is still read to its end.
				if done != nil && ctx.Err() != nil {
					break
				}
				continue
			}
			if !errors.Is(e, io.EOF) {
				res.err = e
			}
			break
		}
		n++
		if res.first.IsZero() {
			res.first = pkt.Timestamp
		}
		if pkt.Timestamp.After(res.last) {
			res.last = pkt.Timestamp
		}
		seg, ok := dec.Decode(pkt)
		if !ok {
			continue
		}
		hdr, pay := seg.TCP.Contents, seg.TCP.Payload
		off := len(b.data)
		b.data = append(b.data, hdr...)
		b.data = append(b.data, pay...)
		b.recs = append(b.recs, pktRec{t: seg.Timestamp, flow: seg.NetFlow, off: off, hdr: len(hdr), n: len(pay)})
		if len(b.data) >= pktBatchBytes || len(b.recs) == cap(b.recs) {
			full <- b
			b = <-free
		}
	}
	if len(b.recs) > 0 {
		full <- b
	}
	res.st = dec.Stats()
	return res
}

// evKind tells which slice of an event batch an event is in.
type evKind uint8

const (
	evHandshake evKind = iota
	evFrame
	evMessage
	evViolation
	evGap
	evEnd
)

// evEntry is one event of a batch: its kind, its place in the slice of
// that kind, its conversation, and the place of its payload in data.
type evEntry struct {
	kind   evKind
	idx    int32
	off, n int
	ref    dissect.ConvRef
}

type evBatch struct {
	order  []evEntry
	hs     []dissect.Handshake
	resp   []dissect.Response
	frames []dissect.Frame
	msgs   []dissect.Message
	viols  []dissect.Violation
	gaps   []dissect.Gap
	sums   []dissect.Summary
	data   []byte
}

func (b *evBatch) reset() {
	b.order = b.order[:0]
	clear(b.hs) // drop the references to handshakes and strings
	b.hs = b.hs[:0]
	clear(b.resp)
	b.resp = b.resp[:0]
	b.frames = b.frames[:0]
	clear(b.msgs)
	b.msgs = b.msgs[:0]
	clear(b.viols)
	b.viols = b.viols[:0]
	b.gaps = b.gaps[:0]
	clear(b.sums)
	b.sums = b.sums[:0]
	if cap(b.data) > evBatchMaxRetain {
		b.data = nil
	}
	b.data = b.data[:0]
}

// eventQueue is the dissector's sink in a staged run: it copies each event
// into a batch, and its output stage replays the batches to the real sink.
type eventQueue struct {
	sink       dissect.Sink
	fillDigest bool
	cur        *evBatch
	full, free chan *evBatch

	// Output side: one ConvRef per open conversation, so that the sink
	// sees the same pointer for all events of a conversation.
	refs map[uint64]*dissect.ConvRef
}

func newEventQueue(sink dissect.Sink) *eventQueue {
	q := &eventQueue{
		sink: sink,
		full: make(chan *evBatch, stagedQueue),
		free: make(chan *evBatch, stagedQueue+2),
		refs: map[uint64]*dissect.ConvRef{},
	}
	for i := 0; i < stagedQueue+2; i++ {
		q.free <- &evBatch{}
	}
	q.cur = <-q.free
	return q
}

// add records event e of conversation c, with payload p, and sends the
// batch on when it is full.
func (q *eventQueue) add(e evEntry, c *dissect.ConvRef, p []byte) {
	b := q.cur
	e.ref = *c
	if len(p) > 0 {
		e.off, e.n = len(b.data), len(p)
		b.data = append(b.data, p...)
	}
	b.order = append(b.order, e)
	if len(b.data) >= evBatchBytes || len(b.order) >= evBatchEvents {
		q.full <- b
		q.cur = <-q.free
	}
}

func (q *eventQueue) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	// A shallow copy: the dissector sets fields of its handshake as the
	// exchange goes on (the same handshake is reported again with its
	// response) but never changes the slices and strings it handed out.
	b := q.cur
	b.hs = append(b.hs, *h)
	hasResp := 0
	if h.Response != nil {
		b.resp = append(b.resp, *h.Response)
		hasResp = 1
	}
	// The Response pointer is set on replay, when resp no longer grows:
	// n says whether there is one, off where it is.
	q.add(evEntry{kind: evHandshake, idx: int32(len(b.hs) - 1), n: hasResp, off: len(b.resp) - 1}, c, nil)
}

func (q *eventQueue) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	b := q.cur
	b.frames = append(b.frames, *f)
	b.frames[len(b.frames)-1].Payload = nil
	q.add(evEntry{kind: evFrame, idx: int32(len(b.frames) - 1)}, c, f.Payload)
}

func (q *eventQueue) Message(c *dissect.ConvRef, m *dissect.Message) {
	b := q.cur
	b.msgs = append(b.msgs, *m)
	b.msgs[len(b.msgs)-1].Payload = nil
	q.add(evEntry{kind: evMessage, idx: int32(len(b.msgs) - 1)}, c, m.Payload)
}

func (q *eventQueue) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	b := q.cur
	b.viols = append(b.viols, *v)
	q.add(evEntry{kind: evViolation, idx: int32(len(b.viols) - 1)}, c, nil)
}

func (q *eventQueue) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	b := q.cur
	b.gaps = append(b.gaps, *g)
	q.add(evEntry{kind: evGap, idx: int32(len(b.gaps) - 1)}, c, nil)
}

func (q *eventQueue) End(c *dissect.ConvRef, s *dissect.Summary) {
	b := q.cur
	b.sums = append(b.sums, *s)
	if s.Handshake != nil {
		// The summary's handshake is the conversation's last one, which
		// nothing changes any more; a copy keeps the batch independent.
		hc := *s.Handshake
		if s.Handshake.Response != nil {
			r := *s.Handshake.Response
			hc.Response = &r
		}
		b.sums[len(b.sums)-1].Handshake = &hc
	}
	q.add(evEntry{kind: evEnd, idx: int32(len(b.sums) - 1)}, c, nil)
}

// finish sends the last batch and ends the output stage.
func (q *eventQueue) finish() {
	if len(q.cur.order) > 0 {
		q.full <- q.cur
	}
	q.cur = nil
	close(q.full)
}

// outputStage replays every batch to the sink, in order.
func (q *eventQueue) outputStage() {
	for b := range q.full {
		q.replay(b)
		b.reset()
		q.free <- b
	}
}

func (q *eventQueue) ref(e *evEntry) *dissect.ConvRef {
	r := q.refs[e.ref.ID]
	if r == nil {
		r = new(dissect.ConvRef)
		q.refs[e.ref.ID] = r
	}
	*r = e.ref
	return r
}

// payload is the payload of a frame or message event, nil when empty.
func (b *evBatch) payload(e *evEntry) []byte {
	if e.n == 0 {
		return nil
	}
	return b.data[e.off : e.off+e.n : e.off+e.n]
}

func (q *eventQueue) replay(b *evBatch) {
	for i := range b.order {
		e := &b.order[i]
		c := q.ref(e)
		switch e.kind {
		case evHandshake:
			h := &b.hs[e.idx]
			h.Response = nil
			if e.n == 1 {
				h.Response = &b.resp[e.off]
			}
			q.sink.Handshake(c, h)
		case evFrame:
			f := &b.frames[e.idx]
			f.Payload = b.payload(e)
			q.sink.Frame(c, f)
		case evMessage:
			m := &b.msgs[e.idx]
			m.Payload = b.payload(e)
			if q.fillDigest {
				dissect.FillDigest(m)
			}
			q.sink.Message(c, m)
		case evViolation:
			q.sink.Violation(c, &b.viols[e.idx])
		case evGap:
			q.sink.Gap(c, &b.gaps[e.idx])
		case evEnd:
			q.sink.End(c, &b.sums[e.idx])
			delete(q.refs, e.ref.ID)
		}
	}
}
