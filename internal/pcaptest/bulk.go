package pcaptest

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// BulkOptions choose the capture WriteBulk writes. Zero fields take the
// defaults given with each field; the zero value is a valid 1 MiB capture
// without compression, loss or reordering. Kinds of traffic beyond that
// are fields whose zero value leaves the capture of the others unchanged,
// byte for byte.
type BulkOptions struct {
	// Size is the number of file bytes after which no message and no
	// connection is started any more (default 1 MiB). The connections still
	// open then finish the message in progress and close, so the file ends
	// beyond Size by what that takes: in practice a few hundred bytes per
	// open connection, at most one largest message with its packet headers
	// and the close per connection.
	Size int64
	// Conns is the number of connections open at once (default 200). A
	// connection that closes is replaced by a new one until Size is reached.
	Conns int
	// Seed seeds the generator; the same options give the same bytes.
	Seed int64
	// MSS is the largest TCP payload of a segment (default 1448, the MSS
	// of Ethernet with TCP timestamps).
	MSS int
	// MessagesPerConn is the mean number of messages a connection sends
	// before it closes (default 200); each connection draws its count
	// uniformly from 1 to twice the mean.
	MessagesPerConn int
	// MaxBinary is the largest binary message (default 96 KiB, so that some
	// use the 64-bit length form). Memory use grows with Conns × MaxBinary.
	MaxBinary int
	// Start is the time of the first packet (default DefaultStart).
	Start time.Time

	// Deflate is the percentage of connections, 0 to 100, that negotiate
	// permessage-deflate (RFC 7692) without parameters: 15-bit windows and
	// context takeover both ways. Connection n (from 0) uses it when
	// ⌊(n+1)·Deflate/100⌋ exceeds the number of earlier ones that did, so
	// the share is exact. Every data message of such a connection is
	// compressed (RFC 7692 section 7.2.1) by one compressor per direction
	// kept for the connection's life, RSV1 set on its first frame; a
	// fragmented message is compressed whole and its compressed bytes
	// fragmented. Control frames are never compressed. A compressor holds
	// about 0.8 MB, so at most 128 such connections are open at once
	// (about 200 MB); while that many are, new connections go without and
	// the share is made up by later ones.
	Deflate int
	// LossEvery, when not 0 (then at least 2), drops one segment in every
	// LossEvery of each direction of each connection, the one chosen at
	// random in each run of LossEvery. Only segments carrying data
	// messages, pings and pongs count: the handshake and the close frames
	// always arrive. A dropped segment is not written and not
	// retransmitted; later acknowledgments cover it, as when a capture
	// misses a packet.
	LossEvery int
	// ReorderEvery, when not 0 (then at least 2), swaps one segment in
	// every ReorderEvery of each direction of each connection with the next
	// one: the delayed segment comes right after it, with its time stamp.
	// Only a segment whose connection sends next another segment of the same
	// direction counts (the first of each acknowledged pair of a long
	// write), as the peer cannot acknowledge or answer a segment before the
	// capture point sees it; and, as for LossEvery, only segments of data
	// messages, pings and pongs, and not dropped ones. When the segment it
	// would be swapped with is dropped, the delayed one comes in its place.
	//
	// Loss and reordering draw from a random stream of their own and do
	// not change the traffic: the capture is the one written without them,
	// less the dropped segments and with the delayed ones moved. Size
	// counts the bytes of dropped segments too.
	ReorderEvery int
}

// BulkStats counts exactly what WriteBulk wrote.
type BulkStats struct {
	Bytes    int64  // file bytes
	Packets  uint64 // packets (every one an Ethernet/IPv4/TCP frame)
	Conns    uint64 // TCP connections, each upgraded to WebSocket and closed
	TCPBytes uint64 // TCP payload bytes of both directions

	// Frames counts WebSocket frames; Messages counts what a dissector
	// reports as messages: data messages (however many frames each) and
	// control frames. Messages = Text + Binary + Pings + Pongs + Closes.
	Frames       uint64
	Messages     uint64
	Text, Binary uint64 // data messages by type
	Fragmented   uint64 // data messages sent in more than one frame
	Pings, Pongs uint64
	Closes       uint64 // close frames (two per connection)
	ClientFrames uint64 // frames sent by clients, all masked
	// PayloadBytes counts the payload bytes of all messages, inflated
	// where compressed: what a dissector reports as message lengths.
	PayloadBytes  uint64
	MaxMessageLen int // longest message payload (inflated)

	// DeflateConns counts the connections that negotiated
	// permessage-deflate; CompressedMessages their data messages, every
	// one sent compressed (one frame with RSV1 each). WirePayloadBytes
	// counts the payload bytes of all frames as on the wire: PayloadBytes
	// with compressed messages at their compressed size.
	DeflateConns       uint64
	CompressedMessages uint64
	WirePayloadBytes   uint64

	// With loss and reordering, Bytes, Packets and TCPBytes count what is
	// in the file; the frame and message counts above count what was sent,
	// dropped segments included.
	DroppedSegments   uint64 // segments not written
	DroppedBytes      uint64 // their TCP payload bytes
	ReorderedSegments uint64 // segments written after the next one of their direction

	Start, End time.Time // times of the first and last packet
}

// Defaults of BulkOptions.
const (
	bulkDefaultSize     = 1 << 20
	bulkDefaultConns    = 200
	bulkDefaultMSS      = 1448
	bulkDefaultMessages = 200
	bulkDefaultBinary   = 96 << 10
)

// Limits of BulkOptions.
const (
	bulkMaxConns  = 1 << 20
	bulkMinMSS    = 64
	bulkMaxMSS    = 9000 - 40 // a jumbo frame less the IPv4 and TCP headers
	bulkMinBinary = 1 << 10
	bulkMaxBinary = 16 << 20
	bulkFragment  = 16 << 10 // frame size of fragmented binary messages
	bulkServerIP  = 0xC0000201
	bulkPort      = 80
	bulkWindow    = 64240
	bulkBlockPad  = 64 << 10 // random offsets into the block of binary bytes

	// bulkDeflateLevel is the level of the compressors. DefaultCompression
	// writes smaller messages than BestSpeed and, on messages of a few
	// hundred bytes flushed one by one, runs faster with this package.
	bulkDeflateLevel = flate.DefaultCompression
	// bulkMaxDeflateOpen caps the connections with permessage-deflate
	// open at once: each holds two compressors of about 0.8 MB.
	bulkMaxDeflateOpen = 128
)

// Check returns the error WriteBulk would return for these options before
// writing anything, or nil.
func (o BulkOptions) Check() error {
	_, err := o.withDefaults()
	return err
}

func (o BulkOptions) withDefaults() (BulkOptions, error) {
	if o.Size < 0 || o.Conns < 0 || o.MSS < 0 || o.MessagesPerConn < 0 || o.MaxBinary < 0 ||
		o.Deflate < 0 || o.LossEvery < 0 || o.ReorderEvery < 0 {
		return o, errors.New("pcaptest: negative BulkOptions field")
	}
	if o.Size == 0 {
		o.Size = bulkDefaultSize
	}
	if o.Conns == 0 {
		o.Conns = bulkDefaultConns
	}
	if o.MSS == 0 {
		o.MSS = bulkDefaultMSS
	}
	if o.MessagesPerConn == 0 {
		o.MessagesPerConn = bulkDefaultMessages
	}
	if o.MaxBinary == 0 {
		o.MaxBinary = bulkDefaultBinary
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	switch {
	case o.Conns > bulkMaxConns:
		return o, fmt.Errorf("pcaptest: %d connections; at most %d", o.Conns, bulkMaxConns)
	case o.MSS < bulkMinMSS || o.MSS > bulkMaxMSS:
		return o, fmt.Errorf("pcaptest: MSS %d outside %d..%d", o.MSS, bulkMinMSS, bulkMaxMSS)
	case o.MaxBinary < bulkMinBinary || o.MaxBinary > bulkMaxBinary:
		return o, fmt.Errorf("pcaptest: MaxBinary %d outside %d..%d", o.MaxBinary, bulkMinBinary, bulkMaxBinary)
	case o.MessagesPerConn > 1<<30:
		return o, fmt.Errorf("pcaptest: MessagesPerConn %d too large", o.MessagesPerConn)
	case o.Deflate > 100:
		return o, fmt.Errorf("pcaptest: Deflate %d%%; at most 100", o.Deflate)
	case o.LossEvery == 1 || o.LossEvery > 1<<30:
		return o, fmt.Errorf("pcaptest: LossEvery %d; want 0 or 2 to %d", o.LossEvery, 1<<30)
	case o.ReorderEvery == 1 || o.ReorderEvery > 1<<30:
		return o, fmt.Errorf("pcaptest: ReorderEvery %d; want 0 or 2 to %d", o.ReorderEvery, 1<<30)
	}
	return o, nil
}

// WriteBulk writes a large, realistic WebSocket capture to w as a pcap file
// (Ethernet, microsecond timestamps) and returns what it wrote.
//
// Conns connections to one server (192.0.2.1:80) are open at once, their
// packets interleaved at random. Each does the TCP handshake (with the MSS
// option), an RFC 6455 upgrade (random key, correct Sec-WebSocket-Accept,
// a subprotocol on half of them, permessage-deflate on Deflate percent of
// them), then exchanges messages: mostly small
// JSON text messages both ways (some with non-ASCII UTF-8), some binary
// messages of up to MaxBinary bytes from the server (a third of those
// over 16 KiB fragmented in 16 KiB frames), small binary messages from the
// client, and pings from either side answered by pongs with the same
// payload. Every client frame is masked with a random key. A connection ends with the
// close handshake (either side first), then FIN from the server, FIN from
// the client and the last ACK. Segments carry at most MSS bytes; the
// receiver acknowledges every second segment of a long write and the end
// of a write unless its own reply carries the acknowledgment. LossEvery
// and ReorderEvery drop and reorder segments.
//
// The first packet is at Start, the others 1 to 40 µs apart. IPv4 header checksums are correct; TCP
// checksums are zero. Headers are written by hand into a reused buffer and
// the whole capture goes through one bufio.Writer, so generation runs at
// hundreds of megabytes per second.
func WriteBulk(w io.Writer, opt BulkOptions) (BulkStats, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return BulkStats{}, err
	}
	g := &bulkGen{
		opt:   opt,
		rnd:   bulkRand{uint64(opt.Seed)},
		bw:    bufio.NewWriterSize(w, 1<<20),
		clock: opt.Start.UnixMicro(),
		lrnd:  bulkRand{uint64(opt.Seed) ^ 0x5deece66d1b2c3d4},
		zsink: new(bulkSink),
	}
	g.block = make([]byte, opt.MaxBinary+bulkBlockPad)
	for i := 0; i+8 <= len(g.block); i += 8 {
		binary.LittleEndian.PutUint64(g.block[i:], g.rnd.u64())
	}
	g.st.Start = time.UnixMicro(g.clock).UTC()
	g.fileHeader()
	g.gen = g.st.Bytes

	active := make([]*bulkConn, 0, opt.Conns)
	for i := 0; i < opt.Conns; i++ {
		active = append(active, g.newConn(nil))
	}
	for len(active) > 0 && g.err == nil {
		i := g.rnd.intn(len(active))
		c := active[i]
		c.next(g)
		if g.gen >= opt.Size {
			g.stopping = true
		}
		if c.phase == phDone {
			g.endConn(c)
			if g.stopping {
				active[i] = active[len(active)-1]
				active = active[:len(active)-1]
			} else {
				active[i] = g.newConn(c.w[:0]) // its buffer is reused
			}
		}
	}
	if g.err == nil {
		g.err = g.bw.Flush()
	}
	g.st.End = time.UnixMicro(g.clock).UTC()
	return g.st, g.err
}

// bulkRand is SplitMix64: small, fast and the same on every platform.
type bulkRand struct{ s uint64 }

func (r *bulkRand) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n) for 0 < n < 2^32.
func (r *bulkRand) intn(n int) int { return int((r.u64() >> 32) * uint64(n) >> 32) }

// between returns a number in [lo, hi].
func (r *bulkRand) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance returns true with probability n/1000.
func (r *bulkRand) chance(n int) bool { return r.intn(1000) < n }

type bulkGen struct {
	opt      BulkOptions
	rnd      bulkRand
	lrnd     bulkRand // chooses the segments dropped and reordered
	bw       *bufio.Writer
	err      error
	hdr      [16 + 14 + 20 + 24]byte // record, Ethernet, IPv4 and TCP headers
	clock    int64                   // µs since the epoch
	block    []byte                  // random bytes binary payloads are cut from
	scratch  []byte                  // payload under construction
	st       BulkStats
	gen      int64 // file bytes with those of dropped and delayed segments
	nconns   uint64
	stopping bool

	zsink       *bulkSink       // where every compressor writes
	zpool       []*flate.Writer // compressors of closed connections
	deflateOpen int             // connections with permessage-deflate open
}

// bulkSink collects the output of a compressor.
type bulkSink struct{ b []byte }

func (s *bulkSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// bulkPicker picks one in every n segments: the pick-th of each run of n.
type bulkPicker struct{ i, pick int }

func (w *bulkPicker) start(r *bulkRand, n int) { w.i, w.pick = 0, r.intn(n) }

// hit counts a segment and says whether it is the one picked in its run.
func (w *bulkPicker) hit(r *bulkRand, n int) bool {
	hit := w.i == w.pick
	if w.i++; w.i == n {
		w.start(r, n)
	}
	return hit
}

func (g *bulkGen) write(b []byte) {
	if g.err != nil {
		return
	}
	n, err := g.bw.Write(b)
	g.st.Bytes += int64(n)
	g.err = err
}

func (g *bulkGen) fileHeader() {
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], 0xA1B2C3D4)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], 262144)
	le.PutUint32(h[20:], uint32(LinkEthernet))
	g.write(h[:])
}

// Phases of a connection; next writes one packet of the current phase.
const (
	phSYN uint8 = iota
	phSYNACK
	phACK
	phData // writes, one segment at a time
	phFINServer
	phFINClient
	phLastACK
	phDone
)

// What the current write of a connection is.
const (
	wrRequest uint8 = iota
	wrResponse
	wrMessage
	wrPing
	wrPong
	wrClose
	wrCloseEcho
)

// bulkConn is one connection of WriteBulk. Index 0 of the arrays is the
// client, 1 the server.
type bulkConn struct {
	ip    [2]uint32
	port  [2]uint16
	seq   [2]uint32 // next sequence number of each direction
	ipid  [2]uint16
	phase uint8

	w       []byte // bytes of the current write
	wdir    int    // its sender
	woff    int    // bytes of it already sent
	wkind   uint8
	unacked int // segments of the current write not acknowledged
	ackFrom int // side that owes a pure ACK before anything else; -1: none

	msgsLeft  int
	key       string // Sec-WebSocket-Key
	subproto  bool
	ping      [8]byte // payload of the last ping, echoed by the pong
	closeCode uint16  // status code of the first close frame

	deflate bool             // permessage-deflate negotiated
	zw      [2]*flate.Writer // compressor of each direction, when deflate

	loss, reorder [2]bulkPicker
	// held is a delayed segment, record header first; the connection's next
	// packet, from the same side, comes before it.
	held []byte
}

// newConn starts a connection; w, when not nil, is a buffer to reuse.
func (g *bulkGen) newConn(w []byte) *bulkConn {
	n := g.nconns
	g.nconns++
	// Clients 10.0.0.2 onwards, 20000 ports each: every 4-tuple is new.
	c := &bulkConn{
		ip:      [2]uint32{0x0A000002 + uint32(n/20000), bulkServerIP},
		port:    [2]uint16{30000 + uint16(n%20000), bulkPort},
		seq:     [2]uint32{uint32(g.rnd.u64()), uint32(g.rnd.u64())},
		ackFrom: -1,
	}
	c.msgsLeft = g.rnd.between(1, 2*g.opt.MessagesPerConn)
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], g.rnd.u64())
	binary.LittleEndian.PutUint64(k[8:], g.rnd.u64())
	c.key = base64.StdEncoding.EncodeToString(k[:])
	c.subproto = g.rnd.intn(2) == 0
	c.w = w
	if c.w == nil {
		c.w = make([]byte, 0, 512)
	}
	g.st.Conns++
	if d := uint64(g.opt.Deflate); d > 0 && (n+1)*d/100 > g.st.DeflateConns && g.deflateOpen < bulkMaxDeflateOpen {
		c.deflate = true
		g.st.DeflateConns++
		g.deflateOpen++
		for i := range c.zw {
			if k := len(g.zpool); k > 0 {
				c.zw[i] = g.zpool[k-1]
				g.zpool = g.zpool[:k-1]
				c.zw[i].Reset(g.zsink)
			} else {
				// The level is valid, so NewWriter cannot fail.
				c.zw[i], _ = flate.NewWriter(g.zsink, bulkDeflateLevel)
			}
		}
	}
	for i := range 2 {
		if g.opt.LossEvery > 0 {
			c.loss[i].start(&g.lrnd, g.opt.LossEvery)
		}
		if g.opt.ReorderEvery > 0 {
			c.reorder[i].start(&g.lrnd, g.opt.ReorderEvery)
		}
	}
	return c
}

// endConn returns the compressors of a closed connection to the pool.
func (g *bulkGen) endConn(c *bulkConn) {
	if c.deflate {
		g.zpool = append(g.zpool, c.zw[0], c.zw[1])
		c.zw = [2]*flate.Writer{}
		g.deflateOpen--
	}
}

// next writes the connection's next packet.
func (c *bulkConn) next(g *bulkGen) {
	if c.ackFrom >= 0 {
		g.packet(c, c.ackFrom, ACK, nil)
		c.ackFrom = -1
		return
	}
	switch c.phase {
	case phSYN:
		g.packet(c, 0, SYN, nil)
		c.seq[0]++
		c.phase = phSYNACK
	case phSYNACK:
		g.packet(c, 1, SYN|ACK, nil)
		c.seq[1]++
		c.phase = phACK
	case phACK:
		g.packet(c, 0, ACK, nil)
		c.phase = phData
		c.startRequest()
	case phData:
		n := min(len(c.w)-c.woff, g.opt.MSS)
		last := c.woff+n == len(c.w)
		flags := uint8(ACK)
		if last {
			flags |= PSH
		}
		g.segment(c, flags, c.w[c.woff:c.woff+n], !last && c.unacked == 0)
		c.seq[c.wdir] += uint32(n)
		c.woff += n
		c.unacked++
		if !last {
			if c.unacked >= 2 {
				c.ackFrom = 1 - c.wdir
				c.unacked = 0
			}
			return
		}
		c.unacked = 0
		prev := c.wdir
		c.plan(g)
		if c.phase != phData || c.wdir == prev {
			c.ackFrom = 1 - prev
		}
	case phFINServer:
		g.packet(c, 1, FIN|ACK, nil)
		c.seq[1]++
		c.phase = phFINClient
	case phFINClient:
		g.packet(c, 0, FIN|ACK, nil)
		c.seq[0]++
		c.phase = phLastACK
	case phLastACK:
		g.packet(c, 1, ACK, nil)
		c.phase = phDone
	}
}

func (c *bulkConn) begin(dir int, kind uint8) {
	c.w = c.w[:0]
	c.wdir = dir
	c.woff = 0
	c.wkind = kind
}

func (c *bulkConn) startRequest() {
	c.begin(0, wrRequest)
	c.w = append(c.w, "GET /stream?v=2&client="...)
	c.w = strconv.AppendUint(c.w, uint64(c.port[0]), 10)
	c.w = append(c.w, " HTTP/1.1\r\nHost: stream.example.com\r\n"+
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"+
		"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"+
		"Sec-WebSocket-Version: 13\r\nOrigin: https://app.example.com\r\nSec-WebSocket-Key: "...)
	c.w = append(c.w, c.key...)
	c.w = append(c.w, "\r\nConnection: keep-alive, Upgrade\r\nCookie: session=7f3a9c2e41b05d68\r\n"...)
	if c.subproto {
		c.w = append(c.w, "Sec-WebSocket-Protocol: json.v2, json.v1\r\n"...)
	}
	if c.deflate {
		c.w = append(c.w, "Sec-WebSocket-Extensions: permessage-deflate\r\n"...)
	}
	c.w = append(c.w, "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n"...)
}

// plan starts the write that follows the one just finished, or the TCP
// close when the close handshake is over.
func (c *bulkConn) plan(g *bulkGen) {
	switch c.wkind {
	case wrRequest:
		c.begin(1, wrResponse)
		c.w = append(c.w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		c.w = append(c.w, AcceptKey(c.key)...)
		if c.subproto {
			c.w = append(c.w, "\r\nSec-WebSocket-Protocol: json.v2"...)
		}
		if c.deflate {
			c.w = append(c.w, "\r\nSec-WebSocket-Extensions: permessage-deflate"...)
		}
		c.w = append(c.w, "\r\nDate: Wed, 01 May 2024 12:00:00 GMT\r\nServer: nginx\r\n\r\n"...)
		return
	case wrPing:
		g.frame(c, 1-c.wdir, wrPong, OpPong, c.ping[:])
		g.st.Pongs++
		return
	case wrClose:
		// The peer echoes the status code, as RFC 6455 section 5.5.1 suggests.
		g.frame(c, 1-c.wdir, wrCloseEcho, OpClose, g.closePayload(c.closeCode, ""))
		g.st.Closes++
		return
	case wrCloseEcho:
		c.phase = phFINServer
		return
	}
	if c.msgsLeft <= 0 || g.stopping {
		dir, reason := 0, "bye"
		c.closeCode = 1000
		if g.rnd.chance(300) {
			dir, reason = 1, "going away"
			c.closeCode = 1001
		}
		g.frame(c, dir, wrClose, OpClose, g.closePayload(c.closeCode, reason))
		g.st.Closes++
		return
	}
	c.msgsLeft--
	r := g.rnd.intn(1000)
	switch {
	case r < 440:
		g.message(c, 0, OpText, g.clientJSON())
		g.st.Text++
	case r < 940:
		g.message(c, 1, OpText, g.serverJSON())
		g.st.Text++
	case r < 965:
		n := g.rnd.between(2<<10, g.opt.MaxBinary)
		p := g.binary(n)
		if g.rnd.chance(333) && n > bulkFragment {
			if g.fragmented(c, p) > 1 {
				g.st.Fragmented++
			}
		} else {
			g.message(c, 1, OpBinary, p)
		}
		g.st.Binary++
	case r < 975:
		g.message(c, 0, OpBinary, g.binary(g.rnd.between(256, 8<<10)))
		g.st.Binary++
	default:
		dir := g.rnd.intn(2)
		binary.BigEndian.PutUint64(c.ping[:], g.rnd.u64())
		g.frame(c, dir, wrPing, OpPing, c.ping[:])
		g.st.Pings++
	}
}

// closePayload returns the payload of a close frame in g.scratch.
func (g *bulkGen) closePayload(code uint16, reason string) []byte {
	g.scratch = append(binary.BigEndian.AppendUint16(g.scratch[:0], code), reason...)
	return g.scratch
}

// binary returns n bytes for a binary payload; they are a slice of the
// random block, not to be modified.
func (g *bulkGen) binary(n int) []byte {
	off := g.rnd.intn(bulkBlockPad)
	return g.block[off : off+n]
}

// frame starts a write of one uncompressed frame from dir carrying p.
// Client frames are masked with a random key.
func (g *bulkGen) frame(c *bulkConn, dir int, kind uint8, op byte, p []byte) {
	c.begin(dir, kind)
	g.appendFrame(c, true, false, op, p)
	g.counted(p)
}

// counted counts a message of payload p.
func (g *bulkGen) counted(p []byte) {
	g.st.Messages++
	g.st.PayloadBytes += uint64(len(p))
	g.st.MaxMessageLen = max(g.st.MaxMessageLen, len(p))
}

// message starts a write of a data message from dir in one frame,
// compressed if the connection uses permessage-deflate.
func (g *bulkGen) message(c *bulkConn, dir int, op byte, p []byte) {
	if !c.deflate {
		g.frame(c, dir, wrMessage, op, p)
		return
	}
	z := g.compress(c, dir, p)
	c.begin(dir, wrMessage)
	g.appendFrame(c, true, true, op, z)
	g.st.CompressedMessages++
	g.counted(p)
}

// fragmented starts a write of a binary message from the server in frames
// of bulkFragment bytes (of compressed bytes if the connection compresses)
// and returns the number of frames.
func (g *bulkGen) fragmented(c *bulkConn, p []byte) int {
	c.begin(1, wrMessage)
	w := p
	if c.deflate {
		w = g.compress(c, 1, p)
		g.st.CompressedMessages++
	}
	op := byte(OpBinary)
	frames := 0
	for i := 0; i < len(w); i += bulkFragment {
		end := min(i+bulkFragment, len(w))
		g.appendFrame(c, end == len(w), c.deflate && i == 0, op, w[i:end])
		op = OpCont
		frames++
	}
	g.counted(p)
	return frames
}

// deflateTail ends the output of a sync flush: the empty stored block
// RFC 7692 section 7.2.1 removes from every compressed message.
var deflateTail = []byte{0, 0, 0xff, 0xff}

// compress returns p compressed by the compressor of direction dir, valid
// until the next call: the output of a sync flush less its last four
// bytes. The compressor keeps its window from one message to the next
// (context takeover).
func (g *bulkGen) compress(c *bulkConn, dir int, p []byte) []byte {
	g.zsink.b = g.zsink.b[:0]
	zw := c.zw[dir]
	_, err := zw.Write(p)
	if err == nil {
		err = zw.Flush()
	}
	b := g.zsink.b
	if err == nil && !bytes.HasSuffix(b, deflateTail) {
		err = errors.New("pcaptest: a sync flush did not end in 00 00 ff ff")
	}
	if err != nil {
		if g.err == nil {
			g.err = err
		}
		return nil
	}
	return b[:len(b)-len(deflateTail)]
}

func (g *bulkGen) appendFrame(c *bulkConn, fin, rsv1 bool, op byte, p []byte) {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	var m byte
	if c.wdir == 0 {
		m = 0x80
	}
	n := len(p)
	switch {
	case n <= 125:
		c.w = append(c.w, b0, m|byte(n))
	case n <= 0xFFFF:
		c.w = append(c.w, b0, m|126, byte(n>>8), byte(n))
	default:
		c.w = append(c.w, b0, m|127)
		c.w = binary.BigEndian.AppendUint64(c.w, uint64(n))
	}
	g.st.Frames++
	g.st.WirePayloadBytes += uint64(n)
	if c.wdir != 0 {
		c.w = append(c.w, p...)
		return
	}
	g.st.ClientFrames++
	key := uint32(g.rnd.u64())
	c.w = binary.BigEndian.AppendUint32(c.w, key)
	start := len(c.w)
	c.w = append(c.w, p...)
	maskBytes(c.w[start:], key)
}

// maskBytes XORs b with the masking key (RFC 6455 section 5.3), key's
// most significant byte first.
func maskBytes(b []byte, key uint32) {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	k8 := uint64(binary.LittleEndian.Uint32(k[:]))
	k8 |= k8 << 32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&3]
	}
}

var (
	bulkSymbols = []string{"BTC-USD", "ETH-USD", "SOL-USDT", "ETH-EUR", "DOGE-USD", "XRP-EUR", "ADA-USD", "LTC-BTC"}
	bulkVenues  = []string{"Zürich", "São Paulo", "東京", "Kraków", "München", "İstanbul", "Québec", "Αθήνα"}
)

func appendDecimal(b []byte, v uint64, frac int) []byte {
	var d uint64 = 1
	for i := 0; i < frac; i++ {
		d *= 10
	}
	b = strconv.AppendUint(b, v/d, 10)
	b = append(b, '.')
	r := v % d
	for d /= 10; d > 0; d /= 10 {
		b = append(b, byte('0'+r/d))
		r %= d
	}
	return b
}

// clientJSON returns a small JSON request (about 20 to 200 bytes).
func (g *bulkGen) clientJSON() []byte {
	b := g.scratch[:0]
	r := &g.rnd
	switch r.intn(4) {
	case 0, 1:
		b = append(b, `{"op":"ack","seq":`...)
		b = strconv.AppendUint(b, r.u64()>>40, 10)
		b = append(b, '}')
	case 2:
		b = append(b, `{"op":"subscribe","id":`...)
		b = strconv.AppendUint(b, uint64(r.intn(100000)), 10)
		b = append(b, `,"channels":["trades.`...)
		b = append(b, bulkSymbols[r.intn(len(bulkSymbols))]...)
		b = append(b, `","book.`...)
		b = append(b, bulkSymbols[r.intn(len(bulkSymbols))]...)
		b = append(b, `"]}`...)
	default:
		b = append(b, `{"op":"order","id":`...)
		b = strconv.AppendUint(b, uint64(r.intn(1<<30)), 10)
		b = append(b, `,"sym":"`...)
		b = append(b, bulkSymbols[r.intn(len(bulkSymbols))]...)
		b = append(b, `","side":"`...)
		if r.intn(2) == 0 {
			b = append(b, "buy"...)
		} else {
			b = append(b, "sell"...)
		}
		b = append(b, `","px":"`...)
		b = appendDecimal(b, uint64(r.between(100, 9000000)), 2)
		b = append(b, `","qty":"`...)
		b = appendDecimal(b, uint64(r.between(1, 5000000)), 4)
		b = append(b, `","tif":"gtc","client_ref":"`...)
		b = strconv.AppendUint(b, r.u64(), 36)
		b = append(b, `"}`...)
	}
	g.scratch = b
	return b
}

// serverJSON returns a JSON update of 1 to 8 items (about 130 to 900
// bytes), some naming a venue in non-ASCII letters.
func (g *bulkGen) serverJSON() []byte {
	b := g.scratch[:0]
	r := &g.rnd
	b = append(b, `{"type":"update","seq":`...)
	b = strconv.AppendUint(b, r.u64()>>36, 10)
	b = append(b, `,"data":[`...)
	items := r.between(1, 8)
	for i := 0; i < items; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sym":"`...)
		b = append(b, bulkSymbols[r.intn(len(bulkSymbols))]...)
		b = append(b, `","px":"`...)
		b = appendDecimal(b, uint64(r.between(100, 9000000)), 2)
		b = append(b, `","qty":"`...)
		b = appendDecimal(b, uint64(r.between(1, 5000000)), 4)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, g.clock/1000, 10)
		if r.chance(150) {
			b = append(b, `,"venue":"`...)
			b = append(b, bulkVenues[r.intn(len(bulkVenues))]...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	g.scratch = b
	return b
}

// bulkSegHeader is the length of the headers before the payload of a
// segment without options: pcap record, Ethernet, IPv4 and TCP; and the
// length of the pcap file header.
const (
	bulkSegHeader  = 16 + 14 + 20 + 20
	bulkFileHeader = 24
)

// segment writes, drops or delays the next segment of the current write of
// c, and writes after it the segment delayed before it, if any. next says
// that the connection's next packet is another segment of this write.
func (g *bulkGen) segment(c *bulkConn, flags uint8, p []byte, next bool) {
	dir := c.wdir
	lossy := c.wkind == wrMessage || c.wkind == wrPing || c.wkind == wrPong
	switch {
	case lossy && g.opt.LossEvery > 0 && c.loss[dir].hit(&g.lrnd, g.opt.LossEvery):
		g.header(c, dir, flags, len(p))
		g.st.DroppedSegments++
		g.st.DroppedBytes += uint64(len(p))
		if h := c.held; len(h) > 0 { // in its own place after all, late
			copy(h[:8], g.hdr[:8])
			g.write(h)
			g.st.Packets++
			g.st.TCPBytes += uint64(len(h) - bulkSegHeader)
			c.held = h[:0]
		}
		return
	case lossy && next && g.opt.ReorderEvery > 0 && len(c.held) == 0 && c.reorder[dir].hit(&g.lrnd, g.opt.ReorderEvery):
		h := g.header(c, dir, flags, len(p))
		c.held = append(append(c.held[:0], h...), p...)
		return
	}
	g.packet(c, dir, flags, p)
	if h := c.held; len(h) > 0 {
		copy(h[:8], g.hdr[:8]) // the time stamp of the segment just written
		g.write(h)
		g.st.Packets++
		g.st.TCPBytes += uint64(len(h) - bulkSegHeader)
		g.st.ReorderedSegments++
		c.held = h[:0]
	}
}

// packet writes one segment of c from side dir with the given flags and
// payload.
func (g *bulkGen) packet(c *bulkConn, dir int, flags uint8, payload []byte) {
	g.write(g.header(c, dir, flags, len(payload)))
	g.write(payload)
	g.st.Packets++
	g.st.TCPBytes += uint64(len(payload))
}

// header returns, in g.hdr, the headers of the next segment of c from side
// dir with the given flags and n bytes of payload, from the pcap record
// header to the TCP header; SYN segments carry the MSS option. It moves
// the clock on and counts the segment's bytes in g.gen.
func (g *bulkGen) header(c *bulkConn, dir int, flags uint8, n int) []byte {
	if g.gen > bulkFileHeader { // not the first packet
		g.clock += int64(g.rnd.between(1, 40))
	}
	h := g.hdr[:]
	tcpLen := 20
	if flags&SYN != 0 {
		tcpLen = 24
	}
	ipLen := 20 + tcpLen + n
	frameLen := 14 + ipLen
	le, be := binary.LittleEndian, binary.BigEndian

	// pcap record header
	le.PutUint32(h[0:], uint32(g.clock/1e6))
	le.PutUint32(h[4:], uint32(g.clock%1e6))
	le.PutUint32(h[8:], uint32(frameLen))
	le.PutUint32(h[12:], uint32(frameLen))

	// Ethernet: locally administered addresses made of the IPv4 address.
	src, dst := c.ip[dir], c.ip[1-dir]
	e := h[16:]
	e[0], e[1] = 0x02, 0
	be.PutUint32(e[2:], dst)
	e[6], e[7] = 0x02, 0
	be.PutUint32(e[8:], src)
	be.PutUint16(e[12:], 0x0800)

	ip := h[30:]
	ip[0], ip[1] = 0x45, 0
	be.PutUint16(ip[2:], uint16(ipLen))
	be.PutUint16(ip[4:], c.ipid[dir])
	c.ipid[dir]++
	be.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8], ip[9] = 64, 6
	ip[10], ip[11] = 0, 0
	be.PutUint32(ip[12:], src)
	be.PutUint32(ip[16:], dst)
	be.PutUint16(ip[10:], ipv4Checksum(ip[:20]))

	t := h[50:]
	be.PutUint16(t[0:], c.port[dir])
	be.PutUint16(t[2:], c.port[1-dir])
	be.PutUint32(t[4:], c.seq[dir])
	var ack uint32
	if flags&ACK != 0 {
		ack = c.seq[1-dir]
	}
	be.PutUint32(t[8:], ack)
	t[12] = byte(tcpLen/4) << 4
	t[13] = flags
	be.PutUint16(t[14:], bulkWindow)
	be.PutUint32(t[16:], 0) // checksum and urgent pointer
	if tcpLen == 24 {
		t[20], t[21] = 2, 4
		be.PutUint16(t[22:], uint16(g.opt.MSS))
	}
	g.gen += int64(50 + tcpLen + n)
	return h[:50+tcpLen]
}

// ipv4Checksum returns the Internet checksum (RFC 1071) of an IPv4 header
// whose checksum field is zero.
func ipv4Checksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s > 0xFFFF {
		s = s>>16 + s&0xFFFF
	}
	return ^uint16(s)
}

// WriteBulkFile writes the capture of WriteBulk to the file path (created
// or truncated) through a 1 MiB buffer.
func WriteBulkFile(path string, opt BulkOptions) (BulkStats, error) {
	f, err := os.Create(path)
	if err != nil {
		return BulkStats{}, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := WriteBulk(bw, opt)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BulkStats{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return st, nil
}
