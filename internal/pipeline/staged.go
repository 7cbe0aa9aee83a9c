package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/sha256x"
	"github.com/wsdump/wsdump/reassembly"
)

// The staged run splits the work of Run over three goroutines joined by
// bounded queues of batches:
//
//	reader:    source → link/IP/TCP decoding → TCP reassembly → stream batches
//	dissector: stream batches → dissection → event batches
//	output:    event batches → the sink
//
// Every stage handles its input in order, so the sink receives exactly
// the events, in exactly the order, of the single-goroutine run: the
// outputs are byte for byte the same. Batches are recycled through free
// lists, so a run allocates a fixed number of them whatever the size of
// the input; the queues hold at most stagedQueue batches each, which
// bounds the memory between the stages (and is how far the reader may run
// ahead of the dissector, and the dissector ahead of a slow output).
const stagedQueue = 4

// Batch sizes; variables so that tests can make batches tiny.
var (
	streamBatchBytes = 1 << 20 // reassembled bytes per stream batch
	streamBatchRecs  = 1024
	evBatchBytes     = 1 << 20 // payload bytes per event batch
	evBatchEvents    = 512
	batchMaxRetain   = 4 << 20 // a batch whose arena grew beyond this gets a new one
	// Arenas are made twice the size at which a batch is sent on, so that
	// a batch is sent before any event of up to that size would make its
	// arena grow.
)

// streamKind tells which Handler call a streamRec stands for, or the
// opening of a connection.
type streamKind uint8

const (
	streamOpen streamKind = iota
	streamData
	streamGap
	streamEnd
)

// streamRec is one thing the reassembler did: open a connection (conn is
// the index of its description in the batch), hand over bytes
// (data[off:off+n]), report a gap of gap bytes, or end a connection (conn:
// its final description).
type streamRec struct {
	seq    uint64 // place among all records of the reader, for the merge
	kind   streamKind
	side   reassembly.Side
	slot   int32 // the connection's place in its dissector's table; -1: none
	t      time.Time
	off, n int
	gap    uint64
	conn   int
}

type streamBatch struct {
	recs  []streamRec
	data  []byte
	conns []reassembly.Conn
}

func (b *streamBatch) reset() {
	b.recs = b.recs[:0]
	if cap(b.data) > batchMaxRetain {
		b.data = make([]byte, 0, 2*streamBatchBytes)
	}
	b.data = b.data[:0]
	clear(b.conns)
	b.conns = b.conns[:0]
}

// streamQueue is the reassembler's side of the queue to one dissector.
type streamQueue struct {
	rt         *streamRouter
	cur        *streamBatch
	full, free chan *streamBatch
	// Slots number the connections of the shard that carried something,
	// densely, so that the dissector finds them in a slice: a slot is
	// given when a connection is announced and freed at its end.
	freeSlots []int32
	slots     int32
}

func (q *streamQueue) takeSlot() int32 {
	if n := len(q.freeSlots); n > 0 {
		s := q.freeSlots[n-1]
		q.freeSlots = q.freeSlots[:n-1]
		return s
	}
	q.slots++
	return q.slots - 1
}

// streamRouter sends each connection's records to the dissector of its
// shard (its ID modulo the number of dissectors) and numbers all records
// in the order the reassembler made them. The batches of all shards are
// sent on together, so that the n-th batch of every dissector covers the
// same span of records: the output stage merges the events of a span by
// record number.
type streamRouter struct {
	shards []*streamQueue
	seq    uint64
}

func newStreamRouter(n int) *streamRouter {
	rt := &streamRouter{}
	for i := 0; i < n; i++ {
		q := &streamQueue{rt: rt, full: make(chan *streamBatch, stagedQueue), free: make(chan *streamBatch, stagedQueue+2)}
		for j := 0; j < stagedQueue+2; j++ {
			q.free <- &streamBatch{recs: make([]streamRec, 0, streamBatchRecs), data: make([]byte, 0, 2*streamBatchBytes)}
		}
		q.cur = <-q.free
		rt.shards = append(rt.shards, q)
	}
	return rt
}

func (rt *streamRouter) queue(id uint64) *streamQueue {
	return rt.shards[id%uint64(len(rt.shards))]
}

// sendAll sends the current batch of every shard on, empty ones too.
func (rt *streamRouter) sendAll() {
	for _, q := range rt.shards {
		q.full <- q.cur
		q.cur = <-q.free
	}
}

// close sends what is left and ends the dissectors' input.
func (rt *streamRouter) close() {
	for _, q := range rt.shards {
		if len(q.cur.recs) > 0 {
			rt.sendAll()
			break
		}
	}
	for _, q := range rt.shards {
		q.cur = nil
		close(q.full)
	}
}

func (q *streamQueue) add(r streamRec, data []byte) {
	b := q.cur
	r.seq = q.rt.seq
	q.rt.seq++
	if len(data) > 0 {
		r.off, r.n = len(b.data), len(data)
		b.data = append(b.data, data...)
	}
	b.recs = append(b.recs, r)
	if len(b.data) >= streamBatchBytes || len(b.recs) >= streamBatchRecs {
		q.rt.sendAll()
	}
}

func (q *streamQueue) addConn(k streamKind, c *reassembly.Conn, slot int32, t time.Time) {
	b := q.cur
	b.conns = append(b.conns, *c)
	q.add(streamRec{kind: k, slot: slot, t: t, conn: len(b.conns) - 1}, nil)
}

// streamRecorder is the reassembler's Handler of a connection in the
// reader stage: it queues what it is handed. The connection is announced
// to the dissector stage with its first bytes or gap, or with its end:
// connections that never carry data (half-open scans) cost the dissector
// stage nothing while they are open.
type streamRecorder struct {
	q         *streamQueue // of the connection's shard
	rc        *reassembly.Conn
	announced bool
	slot      int32
}

func (h *streamRecorder) announce(t time.Time) {
	if !h.announced {
		h.announced = true
		h.slot = h.q.takeSlot()
		h.q.addConn(streamOpen, h.rc, h.slot, t)
	}
}

func (h *streamRecorder) Data(side reassembly.Side, data []byte, t time.Time) {
	h.announce(t)
	h.q.add(streamRec{kind: streamData, side: side, slot: h.slot, t: t}, data)
}

func (h *streamRecorder) Gap(side reassembly.Side, n uint64, t time.Time) {
	h.announce(t)
	h.q.add(streamRec{kind: streamGap, side: side, slot: h.slot, t: t, gap: n}, nil)
}

func (h *streamRecorder) End(t time.Time) {
	if !h.announced {
		h.q.addConn(streamEnd, h.rc, -1, t)
		return
	}
	h.q.addConn(streamEnd, h.rc, h.slot, t)
	h.q.freeSlots = append(h.q.freeSlots, h.slot)
}

// readerResult is what the reader stage hands back when it is done.
type readerResult struct {
	st  Stats // Capture, Reassembly, First and Last
	err error
}

// runStaged is Run over goroutines; see Config.Dissectors.
func runStaged(ctx context.Context, src capture.Source, cfg Config, sink dissect.Sink) (Stats, error) {
	shards := cfg.Dissectors
	rt := newStreamRouter(shards)
	var rr readerResult
	go func() {
		rr = readStage(ctx, src, cfg, rt)
		rt.close()
	}()

	out := newOutput(sink)
	var dissectors []*dissectStage
	var wg sync.WaitGroup
	for i := 0; i < shards; i++ {
		d := newDissectStage(cfg)
		dissectors = append(dissectors, d)
		out.in = append(out.in, d.q)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run(rt.shards[i])
		}()
	}
	out.run()
	wg.Wait() // their counts are read below

	var st Stats
	for _, d := range dissectors {
		st.addCounts(&d.p.st)
	}
	st.Capture = rr.st.Capture
	st.Reassembly = rr.st.Reassembly
	st.First, st.Last = rr.st.First, rr.st.Last
	return st, rr.err
}

// dissectStage is one dissector goroutine: the conversations of its shard.
type dissectStage struct {
	p        *pipe
	q        *eventQueue
	convs    []*conv // by slot (streamRec.slot)
	idle     conv
	idleConn reassembly.Conn
}

func newDissectStage(cfg Config) *dissectStage {
	dcfg := cfg.dissectConfig()
	// Large payloads the dissectors kept travel to the output stage in
	// their own buffers, which it gives back (evBatch.reset).
	dcfg.HandOff = true
	// The bytes of a stream batch stay as they are until the batch is
	// done: digests may hash them then, two messages at a time.
	dcfg.Digests = sha256x.NewHasher()
	d := &dissectStage{p: &pipe{cfg: cfg, dcfg: dcfg}, q: newEventQueue(cfg.fillDigest())}
	d.p.sink = countingSink{next: d.q, st: &d.p.st, dropFrames: cfg.DropFrames}
	return d
}

// run dissects the records of in; after each batch it sends its events
// on, the last batch marked as the end of the span.
func (d *dissectStage) run(in *streamQueue) {
	for b := range in.full {
		for i := range b.recs {
			r := &b.recs[i]
			d.q.seq = r.seq
			switch r.kind {
			case streamOpen:
				rc := new(reassembly.Conn)
				*rc = b.conns[r.conn]
				for int(r.slot) >= len(d.convs) {
					d.convs = append(d.convs, nil)
				}
				d.convs[r.slot] = &conv{p: d.p, rc: rc}
			case streamData:
				d.convs[r.slot].Data(r.side, b.data[r.off:r.off+r.n], r.t)
			case streamGap:
				d.convs[r.slot].Gap(r.side, r.gap, r.t)
			case streamEnd:
				var c *conv
				if r.slot >= 0 {
					c = d.convs[r.slot]
					d.convs[r.slot] = nil
				}
				if c == nil {
					// Announced by its end: it never carried data. Such
					// connections can come by the hundred thousand (a
					// scan): they share one conv, used for the End alone.
					c = &d.idle
					*c = conv{p: d.p, rc: &d.idleConn}
				}
				*c.rc = b.conns[r.conn]
				c.End(r.t)
			}
		}
		d.p.dcfg.Digests.Flush()
		b.reset()
		in.free <- b
		d.q.endSpan()
	}
	close(d.q.full)
}

// readStage reads, decodes and reassembles packets until the source ends,
// ctx is done or MaxPackets are read, and queues what the reassembler
// hands over.
func readStage(ctx context.Context, src capture.Source, cfg Config, rt *streamRouter) readerResult {
	var res readerResult
	dec := capture.NewDecoder()
	r := reassembly.New(cfg.Reassembly, func(c *reassembly.Conn) reassembly.Handler {
		return &streamRecorder{q: rt.queue(c.ID), rc: c}
	})
	res.err = readLoop(ctx, src, cfg.MaxPackets, dec, r, &res.st)
	r.Close()
	res.st.Capture = dec.Stats()
	res.st.Reassembly = r.Stats()
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
// that kind, its conversation, and the place of its payload in data (off
// below 0: the payload is owned[-off-1]).
type evEntry struct {
	seq    uint64 // the stream record that caused it
	kind   evKind
	idx    int32
	off, n int
	ref    dissect.ConvRef
}

type evBatch struct {
	last   bool // the last batch of a span of records
	order  []evEntry
	hs     []dissect.Handshake
	resp   []dissect.Response
	frames []dissect.Frame
	msgs   []dissect.Message
	viols  []dissect.Violation
	gaps   []dissect.Gap
	sums   []dissect.Summary
	data   []byte
	// owned are payloads handed off by the dissector (dissect.Config.
	// HandOff), given back when the batch is recycled; ownedBytes is
	// their capacity.
	owned      [][]byte
	ownedBytes int
}

func (b *evBatch) reset() {
	b.last = false
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
	if cap(b.data) > batchMaxRetain {
		b.data = make([]byte, 0, 2*evBatchBytes)
	}
	b.data = b.data[:0]
	for i, p := range b.owned {
		dissect.ReleasePayload(p)
		b.owned[i] = nil
	}
	b.owned = b.owned[:0]
	b.ownedBytes = 0
}

// eventQueue is the dissector's sink in a staged run: it copies each event
// into a batch, and its output stage replays the batches to the real sink.
type eventQueue struct {
	seq        uint64 // the stream record being dissected
	cur        *evBatch
	full, free chan *evBatch

	// With digest, the digests the dissector left to its owner
	// (dissect.Config.LateDigest) are computed when a batch is sent on,
	// all those of the batch together: sha256x hashes two at a time, on
	// payloads still in this core's cache.
	digest bool
	dps    [][]byte
	didx   []int32
	dsums  [][32]byte
}

func newEventQueue(digest bool) *eventQueue {
	q := &eventQueue{
		full:   make(chan *evBatch, stagedQueue),
		free:   make(chan *evBatch, stagedQueue+2),
		digest: digest,
	}
	for i := 0; i < stagedQueue+2; i++ {
		q.free <- &evBatch{data: make([]byte, 0, 2*evBatchBytes)}
	}
	q.cur = <-q.free
	return q
}

// endSpan sends the current batch on, marked as the last of its span of
// stream records (empty if no event came).
func (q *eventQueue) endSpan() {
	q.cur.last = true
	q.send()
}

// send sends the current batch on and takes a free one.
func (q *eventQueue) send() {
	if q.digest {
		q.fillDigests(q.cur)
	}
	q.full <- q.cur
	q.cur = <-q.free
}

// fillDigests computes the digests left to the owner of the messages of
// b (dissect.FillDigest, for all of them at once). The batch is complete:
// the messages' payloads are set to where they stay.
func (q *eventQueue) fillDigests(b *evBatch) {
	for i := range b.order {
		e := &b.order[i]
		if e.kind != evMessage {
			continue
		}
		m := &b.msgs[e.idx]
		m.Payload = b.payload(e)
		if dissect.DigestLeft(m) {
			q.dps = append(q.dps, m.Payload)
			q.didx = append(q.didx, e.idx)
		}
	}
	if len(q.dps) == 0 {
		return
	}
	q.dsums = slices.Grow(q.dsums[:0], len(q.dps))[:len(q.dps)]
	sha256x.SumMany(q.dps, q.dsums)
	for k, i := range q.didx {
		b.msgs[i].SHA256 = q.dsums[k]
	}
	clear(q.dps)
	q.dps, q.didx = q.dps[:0], q.didx[:0]
}

// add records event e of conversation c, with payload p, and sends the
// batch on when it is full.
func (q *eventQueue) add(e evEntry, c *dissect.ConvRef, p []byte) {
	b := q.cur
	e.ref = *c
	e.seq = q.seq
	if len(p) > 0 {
		e.off, e.n = len(b.data), len(p)
		b.data = append(b.data, p...)
	}
	b.order = append(b.order, e)
	if len(b.data)+b.ownedBytes >= evBatchBytes || len(b.order) >= evBatchEvents {
		q.send()
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
	if m.PayloadHandedOff {
		b.owned = append(b.owned, m.Payload)
		b.ownedBytes += cap(m.Payload)
		q.add(evEntry{kind: evMessage, idx: int32(len(b.msgs) - 1), off: -len(b.owned), n: len(m.Payload)}, c, nil)
		return
	}
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

// output is the output stage: it merges the event batches of the
// dissectors by stream record number and replays them to the sink.
type output struct {
	sink dissect.Sink
	in   []*eventQueue

	// One ConvRef per open conversation, so that the sink sees the same
	// pointer for all events of a conversation.
	refs  map[uint64]*dissect.ConvRef
	spare []*dissect.ConvRef // of ended conversations, for new ones
}

func newOutput(sink dissect.Sink) *output {
	return &output{sink: sink, refs: map[uint64]*dissect.ConvRef{}}
}

// run replays every event until the dissectors are done. The dissectors
// send, for each span of stream records, their events in record order
// ending with a batch marked last; within a span the events of all
// dissectors are merged by record number. A record's events all come
// from the one dissector of its connection.
func (o *output) run() {
	heads := make([]*evBatch, len(o.in))
	pos := make([]int, len(o.in))
	for {
		for k, q := range o.in {
			b, ok := <-q.full
			if !ok {
				return // every dissector ends after the same span
			}
			heads[k], pos[k] = b, 0
		}
		for {
			best := -1
			for k, q := range o.in {
				for pos[k] == len(heads[k].order) && !heads[k].last {
					o.recycle(q, heads[k])
					heads[k], pos[k] = <-q.full, 0
				}
				if pos[k] < len(heads[k].order) && (best < 0 || heads[k].order[pos[k]].seq < heads[best].order[pos[best]].seq) {
					best = k
				}
			}
			if best < 0 {
				break // the span is done
			}
			o.replay(heads[best], pos[best])
			pos[best]++
		}
		for k, q := range o.in {
			o.recycle(q, heads[k])
			heads[k] = nil
		}
	}
}

func (o *output) recycle(q *eventQueue, b *evBatch) {
	b.reset()
	q.free <- b
}

func (o *output) ref(e *evEntry) *dissect.ConvRef {
	r := o.refs[e.ref.ID]
	if r == nil {
		if n := len(o.spare); n > 0 {
			r = o.spare[n-1]
			o.spare = o.spare[:n-1]
		} else {
			r = new(dissect.ConvRef)
		}
		o.refs[e.ref.ID] = r
	}
	*r = e.ref
	return r
}

// payload is the payload of a frame or message event, nil when empty.
func (b *evBatch) payload(e *evEntry) []byte {
	if e.n == 0 {
		return nil
	}
	if e.off < 0 {
		return b.owned[-e.off-1]
	}
	return b.data[e.off : e.off+e.n : e.off+e.n]
}

// replay gives the i-th event of b to the sink.
func (o *output) replay(b *evBatch, i int) {
	e := &b.order[i]
	c := o.ref(e)
	switch e.kind {
	case evHandshake:
		h := &b.hs[e.idx]
		h.Response = nil
		if e.n == 1 {
			h.Response = &b.resp[e.off]
		}
		o.sink.Handshake(c, h)
	case evFrame:
		f := &b.frames[e.idx]
		f.Payload = b.payload(e)
		o.sink.Frame(c, f)
	case evMessage:
		m := &b.msgs[e.idx]
		m.Payload = b.payload(e)
		m.PayloadHandedOff = false // the batch owns the buffer, not the sink
		o.sink.Message(c, m)
	case evViolation:
		o.sink.Violation(c, &b.viols[e.idx])
	case evGap:
		o.sink.Gap(c, &b.gaps[e.idx])
	case evEnd:
		o.sink.End(c, &b.sums[e.idx])
		delete(o.refs, e.ref.ID)
		*c = dissect.ConvRef{}
		o.spare = append(o.spare, c)
	}
}
