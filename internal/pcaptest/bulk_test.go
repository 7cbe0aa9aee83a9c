package pcaptest

import (
	"bytes"
	"encoding/binary"
	"errors"
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
