package pcaptest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/capture"
)

func writeBulk(t *testing.T, opt BulkOptions) ([]byte, BulkStats) {
	t.Helper()
	var b bytes.Buffer
	st, err := WriteBulk(&b, opt)
	if err != nil {
		t.Fatalf("WriteBulk(%+v): %v", opt, err)
	}
	if st.Bytes != int64(b.Len()) {
		t.Fatalf("BulkStats.Bytes = %d; %d bytes written", st.Bytes, b.Len())
	}
	return b.Bytes(), st
}

func TestWriteBulkDeterministic(t *testing.T) {
	opt := BulkOptions{Size: 300 << 10, Conns: 15, Seed: 7}
	a, sa := writeBulk(t, opt)
	b, sb := writeBulk(t, opt)
	if !bytes.Equal(a, b) || sa != sb {
		t.Fatalf("two runs with the same options differ (%d and %d bytes)", len(a), len(b))
	}
	opt.Seed = 8
	c, _ := writeBulk(t, opt)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 7 and 8 wrote the same capture")
	}
	// Compression, loss and reordering too; the compressors of closed
	// connections are reused by later ones.
	opt = BulkOptions{Size: 2 << 20, Conns: 15, Seed: 7, MessagesPerConn: 20, Deflate: 60, LossEvery: 9, ReorderEvery: 4}
	a, sa = writeBulk(t, opt)
	b, sb = writeBulk(t, opt)
	if !bytes.Equal(a, b) || sa != sb {
		t.Fatalf("two runs with %+v differ (%d and %d bytes)", opt, len(a), len(b))
	}
	if sa.DeflateConns <= 15 || sa.DroppedSegments == 0 || sa.ReorderedSegments == 0 {
		t.Errorf("the capture lacks what the options ask for: %+v", sa)
	}
}

// TestWriteBulkDeflateCap checks that no more than bulkMaxDeflateOpen
// connections with permessage-deflate are open at once, and that the
// share is made up when they close.
func TestWriteBulkDeflateCap(t *testing.T) {
	opt := BulkOptions{Size: 1 << 20, Conns: bulkMaxDeflateOpen + 40, Seed: 2, MessagesPerConn: 3, Deflate: 100}
	data, st := writeBulk(t, opt)
	ps := readBulk(t, data)
	_, streams := bulkStreams(ps)
	deflate := map[uint64]bool{}
	for k, s := range streams {
		deflate[k] = bytes.Contains(s[0], []byte("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"))
	}
	lastPacket := map[uint64]int{}
	for i, p := range ps {
		lastPacket[p.conn] = i
	}
	// A connection holds its compressors from before its SYN to after its
	// last packet, so the file shows fewer open at once than the generator
	// has, but never more.
	open, maxOpen, n := map[uint64]bool{}, 0, uint64(0)
	for i, p := range ps {
		if p.flags == SYN && deflate[p.conn] {
			open[p.conn] = true
			maxOpen = max(maxOpen, len(open))
			n++
		}
		if lastPacket[p.conn] == i {
			delete(open, p.conn)
		}
	}
	if maxOpen > bulkMaxDeflateOpen || maxOpen < bulkMaxDeflateOpen-8 || n != st.DeflateConns {
		t.Errorf("%d of %d connections with permessage-deflate, at most %d open at once; stats say %d, cap %d",
			n, st.Conns, maxOpen, st.DeflateConns, bulkMaxDeflateOpen)
	}
	// Those refused at first are made up later: all but the ones still
	// owed when the size was reached.
	if st.DeflateConns <= uint64(bulkMaxDeflateOpen) || st.Conns-st.DeflateConns > uint64(opt.Conns) {
		t.Errorf("%d of %d connections with permessage-deflate", st.DeflateConns, st.Conns)
	}
}

func TestWriteBulkOptionErrors(t *testing.T) {
	for _, o := range []BulkOptions{
		{Size: -1},
		{Conns: -1},
		{Conns: bulkMaxConns + 1},
		{MSS: 10},
		{MSS: 9001},
		{MaxBinary: 100},
		{MessagesPerConn: -5},
		{Deflate: -1},
		{Deflate: 101},
		{LossEvery: -1},
		{LossEvery: 1},
		{ReorderEvery: -3},
		{ReorderEvery: 1},
	} {
		if _, err := WriteBulk(io.Discard, o); err == nil {
			t.Errorf("WriteBulk(%+v) accepted the options", o)
		}
	}
}

// failWriter fails once more than n bytes were written.
type failWriter struct{ n int }

var errFull = errors.New("disk full")

func (w *failWriter) Write(b []byte) (int, error) {
	if len(b) > w.n {
		return 0, errFull
	}
	w.n -= len(b)
	return len(b), nil
}

func TestWriteBulkWriteError(t *testing.T) {
	_, err := WriteBulk(&failWriter{n: 3 << 20}, BulkOptions{Size: 16 << 20, Conns: 5})
	if !errors.Is(err, errFull) {
		t.Fatalf("error %v; want %v", err, errFull)
	}
}

// TestWriteBulkPackets reads a generated capture back with wsdump's reader
// and decoder and checks every packet: lengths, IPv4 checksum, MSS, time
// order, and that Conns connections were open at once.
func TestWriteBulkPackets(t *testing.T) {
	opt := BulkOptions{Size: 2 << 20, Conns: 40, Seed: 3, MSS: 1000, MessagesPerConn: 20, MaxBinary: 40 << 10}
	data, st := writeBulk(t, opt)
	// Beyond Size: per open connection at most the largest message, its
	// segments' headers (70 bytes each, with an ACK every second one) and
	// the close (2 frames and 5 packets, under 1 KiB).
	perConn := (opt.MaxBinary+100)*(opt.MSS+105)/opt.MSS + 1<<10
	if st.Bytes < opt.Size || st.Bytes > opt.Size+int64(opt.Conns*perConn) {
		t.Errorf("capture of %d bytes for Size %d", st.Bytes, opt.Size)
	}
	src, err := capture.OpenReader(bytes.NewReader(data), "bulk")
	if err != nil {
		t.Fatal(err)
	}
	dec := capture.NewDecoder()
	type key struct{ a, b string }
	open := map[key]int{} // FINs seen per connection
	var packets, payload, syns, fullSegs uint64
	maxOpen := 0
	var first, last int64
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets++
		if p.CaptureLength != p.Length || p.LinkType != capture.LinkTypeEthernet {
			t.Fatalf("packet %d: caplen %d len %d link %v", packets, p.CaptureLength, p.Length, p.LinkType)
		}
		if packets == 1 {
			first = p.Timestamp.UnixNano()
		}
		if ns := p.Timestamp.UnixNano(); ns <= last {
			t.Fatalf("packet %d: time %v not after the previous packet", packets, p.Timestamp)
		} else {
			last = ns
		}
		if got := ipv4Checksum(p.Data[14:34]); got != 0 {
			t.Fatalf("packet %d: IPv4 header does not sum to 0xffff (% x)", packets, p.Data[14:34])
		}
		if n := int(binary.BigEndian.Uint16(p.Data[16:])); n != len(p.Data)-14 {
			t.Fatalf("packet %d: IPv4 total length %d; %d bytes follow Ethernet", packets, n, len(p.Data)-14)
		}
		seg, ok := dec.Decode(p)
		if !ok {
			t.Fatalf("packet %d not decoded: %+v", packets, dec.Stats().Skipped)
		}
		tcp := seg.TCP
		n := len(tcp.Payload)
		payload += uint64(n)
		if n > opt.MSS {
			t.Fatalf("packet %d: %d payload bytes; MSS %d", packets, n, opt.MSS)
		}
		if n == opt.MSS {
			fullSegs++
		}
		s, d := seg.NetFlow.Endpoints()
		k := key{s.String() + ":" + tcp.SrcPort.String(), d.String() + ":" + tcp.DstPort.String()}
		if tcp.DstPort != bulkPort {
			k.a, k.b = k.b, k.a
		}
		switch {
		case tcp.SYN && !tcp.ACK:
			syns++
			if _, dup := open[k]; dup {
				t.Fatalf("packet %d: second SYN of %v", packets, k)
			}
			open[k] = 0
			maxOpen = max(maxOpen, len(open))
		case tcp.FIN:
			if open[k]++; open[k] == 2 {
				delete(open, k)
			}
		}
	}
	if packets != st.Packets || payload != st.TCPBytes || syns != st.Conns {
		t.Errorf("read %d packets, %d payload bytes, %d SYNs; stats say %d, %d, %d",
			packets, payload, syns, st.Packets, st.TCPBytes, st.Conns)
	}
	if len(open) != 0 {
		t.Errorf("%d connections did not end with two FINs", len(open))
	}
	if maxOpen != opt.Conns {
		t.Errorf("at most %d connections open at once; want %d", maxOpen, opt.Conns)
	}
	if st.Conns <= uint64(opt.Conns) {
		t.Errorf("%d connections in all: none was replaced", st.Conns)
	}
	if fullSegs == 0 {
		t.Error("no segment of MSS bytes")
	}
	if first != DefaultStart.UnixNano() || first != st.Start.UnixNano() || last != st.End.UnixNano() {
		t.Errorf("packets from %d to %d; stats say %v to %v, first packet wanted at %v", first, last, st.Start, st.End, DefaultStart)
	}
	if st.Messages != st.Text+st.Binary+st.Pings+st.Pongs+st.Closes || st.Closes != 2*st.Conns || st.Pings != st.Pongs {
		t.Errorf("inconsistent message counts: %+v", st)
	}
	if st.Fragmented == 0 || st.Pings == 0 || st.MaxMessageLen <= 0xFFFF && opt.MaxBinary > 0xFFFF {
		t.Errorf("missing kinds of messages: %+v", st)
	}
}

// TestWriteBulkTshark checks a small generated capture with tshark:
// packet count, every WebSocket frame by opcode and mask bit, and no
// expert warning or error (TCP analysis, HTTP, WebSocket).
func TestWriteBulkTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; the bulk capture is not checked against it")
	}
	opt := BulkOptions{Size: 1 << 20, Conns: 20, Seed: 1}
	data, st := writeBulk(t, opt)
	path := filepath.Join(t.TempDir(), "bulk.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-E", "occurrence=a",
		"-e", "websocket.opcode", "-e", "websocket.mask", "-e", "_ws.expert.severity").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if uint64(len(lines)) != st.Packets {
		t.Errorf("tshark read %d packets; WriteBulk wrote %d", len(lines), st.Packets)
	}
	ops := map[int]uint64{}
	var frames, masked uint64
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("tshark line %d: %q", i+1, l)
		}
		for _, o := range splitList(f[0]) {
			n, err := strconv.Atoi(o)
			if err != nil {
				t.Fatalf("tshark line %d: opcode %q", i+1, o)
			}
			ops[n]++
			frames++
		}
		for _, m := range splitList(f[1]) {
			if m == "1" || m == "True" {
				masked++
			}
		}
		for _, s := range splitList(f[2]) {
			// Severities: chat 0x200000, note 0x400000, warning 0x600000, error 0x800000.
			if v, _ := strconv.Atoi(s); v >= 0x600000 {
				t.Errorf("packet %d: tshark expert severity %#x", i+1, v)
			}
		}
	}
	conts := st.Frames - st.Messages
	want := map[int]uint64{OpCont: conts, OpText: st.Text, OpBinary: st.Binary, OpClose: st.Closes, OpPing: st.Pings, OpPong: st.Pongs}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("tshark saw %d frames of opcode %d; WriteBulk wrote %d", ops[op], op, n)
		}
	}
	if frames != st.Frames || masked != st.ClientFrames {
		t.Errorf("tshark saw %d frames, %d masked; WriteBulk wrote %d, %d masked", frames, masked, st.Frames, st.ClientFrames)
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func TestIPv4Checksum(t *testing.T) {
	// The example header of the Wikipedia article on the IPv4 header checksum.
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if got := ipv4Checksum(h); got != 0xb861 {
		t.Fatalf("checksum %#04x; want 0xb861", got)
	}
	binary.BigEndian.PutUint16(h[10:], 0xb861)
	if got := ipv4Checksum(h); got != 0 {
		t.Fatalf("checksum over a header with its checksum %#04x; want 0", got)
	}
}

func TestMaskBytes(t *testing.T) {
	for n := 0; n < 40; n++ {
		p := pattern(n)
		got := bytes.Clone(p)
		maskBytes(got, 0x37fa213d)
		want := Frame{Masked: true, Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Payload: p}.Bytes()[6:]
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: % x; want % x", n, got, want)
		}
	}
}

// BenchmarkWriteBulk measures the generator alone, writing 64 MiB with the
// default options to io.Discard.
func BenchmarkWriteBulk(b *testing.B) {
	b.ReportAllocs()
	var st BulkStats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = WriteBulk(io.Discard, BulkOptions{Size: 64 << 20, Seed: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
}

// bulkPacket is one packet of a bulk capture, read back by readBulk.
type bulkPacket struct {
	ts      int64  // µs
	data    []byte // Ethernet frame
	conn    uint64 // client IPv4 address and port
	dir     int    // 0: from the client, 1: from the server
	seq     uint32
	flags   uint8
	payload []byte
}

// readBulk splits a capture of WriteBulk into packets. It knows only the
// layout WriteBulk writes: pcap with microseconds, Ethernet, IPv4 without
// options, TCP.
func readBulk(t *testing.T, data []byte) []bulkPacket {
	t.Helper()
	le, be := binary.LittleEndian, binary.BigEndian
	if len(data) < 24 || le.Uint32(data) != 0xA1B2C3D4 {
		t.Fatal("not a little-endian pcap file")
	}
	var ps []bulkPacket
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			t.Fatalf("record header cut at %d", off)
		}
		n := int(le.Uint32(data[off+8:]))
		if n < 54 || len(data)-off-16 < n {
			t.Fatalf("record of %d bytes at %d", n, off)
		}
		p := bulkPacket{ts: int64(le.Uint32(data[off:]))*1e6 + int64(le.Uint32(data[off+4:])), data: data[off+16 : off+16+n]}
		off += 16 + n
		ip, tcp := p.data[14:34], p.data[34:]
		hl := int(tcp[12]>>4) * 4
		p.seq = be.Uint32(tcp[4:])
		p.flags = tcp[13]
		p.payload = tcp[hl:]
		if be.Uint16(tcp[0:]) == bulkPort {
			p.dir = 1
			p.conn = uint64(be.Uint32(ip[16:]))<<16 | uint64(be.Uint16(tcp[2:]))
		} else {
			p.conn = uint64(be.Uint32(ip[12:]))<<16 | uint64(be.Uint16(tcp[0:]))
		}
		ps = append(ps, p)
	}
	return ps
}

// bulkMsg is a data message or control frame parsed from a stream.
type bulkMsg struct {
	op      byte
	rsv1    bool   // on the first frame
	rsvLate bool   // RSV bits on a later frame, or RSV2/RSV3 anywhere
	frames  int    // frames of the message
	payload []byte // unmasked, as on the wire (concatenated frames)
}

// parseStream parses the bytes one side sent: the HTTP header block, then
// frames.
func parseStream(t *testing.T, b []byte) (header string, msgs []bulkMsg) {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no end of the HTTP header in %q", b[:min(len(b), 200)])
	}
	header, b = string(b[:i+4]), b[i+4:]
	var cur *bulkMsg
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("frame header cut: % x", b)
		}
		b0, b1 := b[0], b[1]
		n, h := uint64(b1&0x7F), 2
		switch n {
		case 126:
			n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		var key []byte
		if b1&0x80 != 0 {
			key, h = b[h:h+4], h+4
		}
		if uint64(len(b)-h) < n {
			t.Fatalf("frame of %d bytes with %d left", n, len(b)-h)
		}
		p := bytes.Clone(b[h : h+int(n)])
		if key != nil {
			for j := range p {
				p[j] ^= key[j&3]
			}
		}
		b = b[h+int(n):]
		op, fin := b0&0x0F, b0&0x80 != 0
		if op >= 8 {
			msgs = append(msgs, bulkMsg{op: op, rsv1: b0&0x40 != 0, rsvLate: b0&0x30 != 0, frames: 1, payload: p})
			continue
		}
		if op != OpCont {
			msgs = append(msgs, bulkMsg{op: op, rsv1: b0&0x40 != 0, rsvLate: b0&0x30 != 0})
			cur = &msgs[len(msgs)-1]
		} else if b0&0x70 != 0 {
			cur.rsvLate = true
		}
		cur.frames++
		cur.payload = append(cur.payload, p...)
		if fin {
			cur = nil
		}
	}
	return header, msgs
}

// bulkStreams gathers the payload of each side of each connection, in
// file order (right for a capture without loss or reordering).
func bulkStreams(ps []bulkPacket) (order []uint64, streams map[uint64]*[2][]byte) {
	streams = map[uint64]*[2][]byte{}
	for _, p := range ps {
		s := streams[p.conn]
		if s == nil {
			s = new([2][]byte)
			streams[p.conn] = s
			order = append(order, p.conn)
		}
		s[p.dir] = append(s[p.dir], p.payload...)
	}
	return order, streams
}

// inflater inflates the messages of one direction of permessage-deflate
// with context takeover: each message is inflated on its own, with the
// last 32 KiB of what came before as the dictionary.
type inflater struct{ hist []byte }

func (f *inflater) inflate(p []byte) ([]byte, error) {
	// The removed 00 00 ff ff, then an empty final stored block.
	in := append(bytes.Clone(p), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
	out, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(in), f.hist))
	if err != nil {
		return nil, err
	}
	f.hist = append(f.hist, out...)
	if len(f.hist) > 32<<10 {
		f.hist = append(f.hist[:0], f.hist[len(f.hist)-32<<10:]...)
	}
	return out, nil
}

// TestWriteBulkDeflate parses every connection of a capture with a share of
// permessage-deflate connections and inflates their messages.
func TestWriteBulkDeflate(t *testing.T) {
	opt := BulkOptions{Size: 3 << 20, Conns: 30, Seed: 4, MessagesPerConn: 40, MaxBinary: 40 << 10, Deflate: 25}
	data, st := writeBulk(t, opt)
	order, streams := bulkStreams(readBulk(t, data))
	if uint64(len(order)) != st.Conns {
		t.Fatalf("%d connections in the file; stats say %d", len(order), st.Conns)
	}
	// Connection n uses deflate when ⌊(n+1)·25/100⌋ grows: the 4th, 8th...
	if want := st.Conns * 25 / 100; st.DeflateConns != want || want < 8 {
		t.Errorf("%d of %d connections with permessage-deflate; want %d", st.DeflateConns, st.Conns, want)
	}
	var deflateConns, compressed, frames, messages, text, rsv1, payload, wire, standaloneFail uint64
	for _, k := range order {
		s := streams[k]
		// Connection n is 10.0.0.2 + n/20000, port 30000 + n%20000.
		n := int(k>>16-0x0A000002)*20000 + int(k&0xFFFF) - 30000
		req, cmsgs := parseStream(t, s[0])
		resp, smsgs := parseStream(t, s[1])
		offer := strings.Contains(req, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n")
		accept := strings.Contains(resp, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n")
		if offer != accept {
			t.Fatalf("connection %d: offer %v, accept %v", n, offer, accept)
		}
		if want := (n+1)%4 == 0; offer != want {
			t.Errorf("connection %d: permessage-deflate %v; want %v", n, offer, want)
		}
		if offer {
			deflateConns++
		}
		for dir, msgs := range [][]bulkMsg{cmsgs, smsgs} {
			var inf inflater
			for i, m := range msgs {
				messages++
				frames += uint64(m.frames)
				wire += uint64(len(m.payload))
				if m.rsvLate {
					t.Fatalf("connection %d dir %d message %d: RSV bits on a continuation frame or RSV2/RSV3", n, dir, i)
				}
				p := m.payload
				if m.op >= 8 || !offer {
					if m.rsv1 {
						t.Fatalf("connection %d dir %d message %d: RSV1 on opcode %d (deflate %v)", n, dir, i, m.op, offer)
					}
				} else {
					if !m.rsv1 {
						t.Fatalf("connection %d dir %d message %d: data message without RSV1", n, dir, i)
					}
					rsv1++
					compressed++
					if i > 0 {
						if _, err := io.ReadAll(flate.NewReader(bytes.NewReader(append(bytes.Clone(p), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)))); err != nil {
							standaloneFail++
						}
					}
					var err error
					if p, err = inf.inflate(p); err != nil {
						t.Fatalf("connection %d dir %d message %d: inflate: %v", n, dir, i, err)
					}
				}
				payload += uint64(len(p))
				if m.op == OpText {
					text++
					if !json.Valid(p) {
						t.Fatalf("connection %d dir %d message %d: not JSON: %q", n, dir, i, p)
					}
				}
			}
		}
	}
	eq := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: parsed %d; stats say %d", what, got, want)
		}
	}
	eq("deflate connections", deflateConns, st.DeflateConns)
	eq("compressed messages", compressed, st.CompressedMessages)
	eq("frames with RSV1", rsv1, st.CompressedMessages)
	eq("frames", frames, st.Frames)
	eq("messages", messages, st.Messages)
	eq("text messages", text, st.Text)
	eq("payload bytes (inflated)", payload, st.PayloadBytes)
	eq("payload bytes on the wire", wire, st.WirePayloadBytes)
	if st.Fragmented == 0 || st.CompressedMessages == 0 {
		t.Errorf("missing kinds of messages: %+v", st)
	}
	// With context takeover later messages refer to earlier ones: many
	// cannot be inflated alone.
	if standaloneFail < st.CompressedMessages/10 {
		t.Errorf("only %d of %d compressed messages need the earlier ones", standaloneFail, st.CompressedMessages)
	}
	t.Logf("%d compressed messages, %d of them not inflatable alone; payload %d bytes, on the wire %d",
		st.CompressedMessages, standaloneFail, st.PayloadBytes, st.WirePayloadBytes)
}

// TestWriteBulkLossReorder compares a capture with loss and reordering to
// the same capture without: the same packets, less the dropped ones, with
// the delayed ones each right after the next packet of its direction.
func TestWriteBulkLossReorder(t *testing.T) {
	base := BulkOptions{Size: 2 << 20, Conns: 25, Seed: 6, MessagesPerConn: 30, MaxBinary: 40 << 10, Deflate: 20}
	for _, tc := range []struct{ loss, reorder int }{{7, 0}, {0, 5}, {10, 3}, {2, 2}} {
		t.Run(fmt.Sprintf("loss%d_reorder%d", tc.loss, tc.reorder), func(t *testing.T) {
			opt := base
			opt.LossEvery, opt.ReorderEvery = tc.loss, tc.reorder
			clean, cst := writeBulk(t, base)
			lossy, lst := writeBulk(t, opt)
			cps, lps := readBulk(t, clean), readBulk(t, lossy)

			// The traffic is the same; only what reached the file differs.
			same := lst
			same.Bytes, same.Packets, same.TCPBytes = cst.Bytes, cst.Packets, cst.TCPBytes
			same.DroppedSegments, same.DroppedBytes, same.ReorderedSegments = 0, 0, 0
			if same != cst {
				t.Fatalf("traffic differs:\n%+v\n%+v", lst, cst)
			}
			index := make(map[string]int, len(cps))
			nextOfConn := make([]int, len(cps)) // the connection's next packet
			lastOfConn := map[uint64]int{}
			for i, p := range cps {
				index[string(p.data)] = i
				nextOfConn[i] = -1
				if j, ok := lastOfConn[p.conn]; ok {
					nextOfConn[j] = i
				}
				lastOfConn[p.conn] = i
			}
			// Segments that carry messages, per direction of each connection.
			type side struct {
				conn uint64
				dir  int
			}
			eligible := map[side]int{}
			for _, p := range cps {
				if len(p.payload) > 0 {
					eligible[side{p.conn, p.dir}]++
				}
			}
			for s := range eligible {
				eligible[s] -= 2 // the handshake and the close, each one segment
			}
			lossySet := make(map[string]bool, len(lps))
			for _, p := range lps {
				lossySet[string(p.data)] = true
			}
			seen := make([]bool, len(cps))
			dropped := map[side]int{}
			var reordered, droppedBytes uint64
			last := -1
			for i, p := range lps {
				j, ok := index[string(p.data)]
				if !ok {
					t.Fatalf("packet %d is not in the capture without loss", i)
				}
				if seen[j] {
					t.Fatalf("packet %d written twice", j)
				}
				seen[j] = true
				if i > 0 && p.ts < lps[i-1].ts {
					t.Fatalf("packet %d: time goes back", i)
				}
				if j > last {
					// Delayed behind a dropped packet and nothing else.
					if n := nextOfConn[j]; n >= 0 && !lossySet[string(cps[n].data)] && p.ts == cps[n].ts {
						last = j
						continue
					}
					if p.ts != cps[j].ts {
						t.Fatalf("packet %d: time %d; %d without loss", i, p.ts, cps[j].ts)
					}
					last = j
					continue
				}
				// Delayed: right after the connection's next packet, a
				// segment of the same direction, or in the place of that
				// packet if it was dropped, with its time stamp.
				n := nextOfConn[j]
				if len(p.payload) == 0 || n < 0 || cps[n].dir != p.dir || len(cps[n].payload) == 0 {
					t.Fatalf("packet %d (clean %d) comes late; the connection's next packet is not a segment of its direction", i, j)
				}
				if prev := lps[i-1]; index[string(prev.data)] == n {
					reordered++
				} else if lossySet[string(cps[n].data)] {
					t.Fatalf("packet %d (clean %d) comes late but not right after clean packet %d", i, j, n)
				}
				if p.ts != cps[n].ts {
					t.Fatalf("packet %d: time %d; the packet it was swapped with has %d", i, p.ts, cps[n].ts)
				}
			}
			for j, ok := range seen {
				if ok {
					continue
				}
				p := cps[j]
				if len(p.payload) == 0 || p.flags&(SYN|FIN) != 0 {
					t.Fatalf("packet %d dropped: flags %#x, %d bytes", j, p.flags, len(p.payload))
				}
				dropped[side{p.conn, p.dir}]++
				droppedBytes += uint64(len(p.payload))
			}
			var nd uint64
			for s, k := range eligible {
				d := dropped[s]
				nd += uint64(d)
				if tc.loss > 0 && (d < k/tc.loss || d > (k+tc.loss-1)/tc.loss) {
					t.Errorf("%v: %d of %d segments dropped; want one in %d", s, d, k, tc.loss)
				}
				if tc.loss == 0 && d > 0 {
					t.Errorf("%v: %d segments dropped without loss", s, d)
				}
			}
			if nd != lst.DroppedSegments || droppedBytes != lst.DroppedBytes || reordered != lst.ReorderedSegments {
				t.Errorf("dropped %d segments of %d bytes, reordered %d; stats say %d, %d, %d",
					nd, droppedBytes, reordered, lst.DroppedSegments, lst.DroppedBytes, lst.ReorderedSegments)
			}
			if uint64(len(lps)) != lst.Packets || int64(len(lossy)) != lst.Bytes || cst.TCPBytes-droppedBytes != lst.TCPBytes {
				t.Errorf("stats of the file: %+v", lst)
			}
			if tc.reorder > 0 && reordered == 0 || tc.reorder == 0 && reordered > 0 {
				t.Errorf("%d segments reordered with ReorderEvery %d", reordered, tc.reorder)
			}
			if tc.loss > 0 && nd == 0 {
				t.Error("no segment dropped")
			}
			t.Logf("%d packets; %d dropped (%d bytes), %d reordered", len(lps), nd, droppedBytes, reordered)
		})
	}
}

// TestWriteBulkDeflateTshark lets tshark inflate a capture with
// permessage-deflate: every text message must come out as JSON, RSV1 must
// be on exactly the compressed messages, and no frame may fail to inflate
// or raise an expert warning.
func TestWriteBulkDeflateTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; compressed messages are not checked against it")
	}
	opt := BulkOptions{Size: 1 << 20, Conns: 20, Seed: 1, Deflate: 50}
	data, st := writeBulk(t, opt)
	path := filepath.Join(t.TempDir(), "bulk.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	const agg = "\x1f" // JSON has commas; no text here has this byte
	out, err := exec.Command(tshark, "-n", "-r", path, "-o", "websocket.decompress:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator="+agg,
		"-e", "websocket.opcode", "-e", "websocket.rsv", "-e", "websocket.payload.text",
		"-e", "websocket.decompression.failed.expert", "-e", "_ws.expert.severity").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var frames, rsv1, texts, failed uint64
	for i, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			t.Fatalf("tshark line %d: %q", i+1, l)
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, agg)
		}
		frames += uint64(len(split(f[0])))
		for _, r := range split(f[1]) {
			switch r {
			case "0x04":
				rsv1++
			case "0x00":
			default:
				t.Errorf("packet %d: RSV bits %s", i+1, r)
			}
		}
		for _, s := range split(f[2]) {
			texts++
			if !json.Valid([]byte(s)) {
				t.Errorf("packet %d: tshark's text is not JSON: %q", i+1, s)
			}
		}
		failed += uint64(len(split(f[3])))
		for _, s := range split(f[4]) {
			if v, _ := strconv.Atoi(s); v >= 0x600000 {
				t.Errorf("packet %d: tshark expert severity %#x", i+1, v)
			}
		}
	}
	if frames != st.Frames || rsv1 != st.CompressedMessages || texts != st.Text || failed != 0 {
		t.Errorf("tshark saw %d frames, %d with RSV1, %d texts, %d that failed to inflate; WriteBulk wrote %d frames, %d compressed messages, %d texts",
			frames, rsv1, texts, failed, st.Frames, st.CompressedMessages, st.Text)
	}
	if st.DeflateConns != st.Conns/2 || st.CompressedMessages == 0 {
		t.Errorf("%d of %d connections compressed, %d messages", st.DeflateConns, st.Conns, st.CompressedMessages)
	}
}
