package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
)

// loopSource yields the packets of conns WebSocket connections without
// end: each connection's SYN, SYN+ACK and upgrade first, then, round
// robin, a client segment carrying one masked text frame and a server
// segment carrying one binary frame of a full segment. The packet buffer
// is reused, as a capture file reader's is. After warm packets it calls
// onWarm (to start the benchmark's clock), and it ends after warm+n.
type loopSource struct {
	conns   []loopConn
	buf     []byte
	t       time.Time
	i, next int // packets given; next connection
	warm, n int
	onWarm  func()
	text    []byte
	bin     []byte
}

type loopConn struct {
	port     uint16
	seq      [2]uint32 // next sequence number of the client (0) and the server (1)
	step     int       // handshake steps done
	turnSide int
}

func newLoopSource(conns, warm, n int, onWarm func()) *loopSource {
	s := &loopSource{warm: warm, n: n, onWarm: onWarm, t: pcaptest.DefaultStart, buf: make([]byte, 0, 2048)}
	for i := 0; i < conns; i++ {
		s.conns = append(s.conns, loopConn{port: uint16(20000 + i), seq: [2]uint32{1000, 5000}})
	}
	s.text = pcaptest.ClientFrame(pcaptest.OpText, []byte(`{"op":"update","id":12345,"values":[1,2,3,4,5],"ok":true,"note":"steady state"}`), [4]byte{1, 2, 3, 4})
	bin := make([]byte, 1448-4)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	s.bin = pcaptest.ServerFrame(pcaptest.OpBinary, bin)
	return s
}

func (s *loopSource) Next() (capture.Packet, error) {
	if s.i == s.warm && s.onWarm != nil {
		s.onWarm()
	}
	if s.i >= s.warm+s.n {
		return capture.Packet{}, errors.New("end of loop")
	}
	s.i++
	s.t = s.t.Add(time.Microsecond)
	c := &s.conns[s.next]
	var side int
	var flags uint8
	var payload []byte
	const syn, ack, psh = 0x02, 0x10, 0x08
	switch c.step {
	case 0:
		side, flags = 0, syn
	case 1:
		side, flags = 1, syn|ack
	case 2:
		side, flags, payload = 0, ack|psh, pcaptest.UpgradeRequest("192.0.2.1:80", "/", pcaptest.DemoKey)
	case 3:
		side, flags, payload = 1, ack|psh, pcaptest.UpgradeResponse(pcaptest.DemoKey)
	default:
		side, flags = c.turnSide, ack|psh
		payload = s.text
		if side == 1 {
			payload = s.bin
		}
		c.turnSide ^= 1
	}
	if c.step < 4 {
		c.step++
	}
	if side == 1 || c.step < 4 {
		s.next = (s.next + 1) % len(s.conns)
	}
	s.buf = appendLoopPacket(s.buf[:0], c, side, flags, payload)
	c.seq[side] += uint32(len(payload))
	if flags&syn != 0 {
		c.seq[side]++
	}
	return capture.Packet{Data: s.buf, Timestamp: s.t, CaptureLength: len(s.buf), Length: len(s.buf), LinkType: capture.LinkTypeEthernet}, nil
}

func (s *loopSource) Close() error { return nil }

// appendLoopPacket appends an Ethernet/IPv4/TCP packet of connection c
// sent by side.
func appendLoopPacket(b []byte, c *loopConn, side int, flags uint8, payload []byte) []byte {
	client := [4]byte{10, 0, byte(c.port >> 8), byte(c.port)}
	server := [4]byte{192, 0, 2, 1}
	src, dst := client, server
	sport, dport := c.port, uint16(80)
	if side == 1 {
		src, dst, sport, dport = server, client, 80, c.port
	}
	b = append(b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(40+len(payload)))
	b = append(b, 0, 0, 0x40, 0, 64, 6, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint32(b, c.seq[side])
	ackn := uint32(0)
	if flags&0x10 != 0 {
		ackn = c.seq[1-side]
	}
	b = binary.BigEndian.AppendUint32(b, ackn)
	b = append(b, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0)
	return append(b, payload...)
}

// countSink counts the messages and violations it is given.
type countSink struct {
	discardSink
	messages, violations uint64
}

func (s *countSink) Message(*dissect.ConvRef, *dissect.Message)     { s.messages++ }
func (s *countSink) Violation(*dissect.ConvRef, *dissect.Violation) { s.violations++ }

// BenchmarkPerPacket measures the cost of one packet on the whole path —
// link-layer decoding, TCP reassembly, frame decoding, unmasking, UTF-8
// checks, message assembly and digests — once the connections are open
// (64 of them, interleaved). An op is one packet, half of them carrying a
// masked 85-byte text frame, half a 1444-byte binary frame: allocs/op
// shows the path allocates nothing per packet.
func BenchmarkPerPacket(b *testing.B) {
	for _, dissectors := range []int{0, 1} {
		name := "one_goroutine"
		if dissectors > 0 {
			name = "staged"
		}
		b.Run(name, func(b *testing.B) {
			const conns = 64
			warm := 4*conns + 20000
			src := newLoopSource(conns, warm, b.N, func() {
				b.ReportAllocs()
				b.ResetTimer()
			})
			sink := &countSink{}
			cfg := Config{Dissect: dissect.DefaultConfig(), Dissectors: dissectors}
			st, err := Run(context.Background(), src, cfg, sink)
			b.StopTimer()
			if err == nil || err.Error() != "end of loop" {
				b.Fatalf("run ended with %v", err)
			}
			if want := uint64(warm+b.N-4*conns) - 1; st.Messages < want || sink.violations > 0 {
				b.Fatalf("%d messages, %d violations; want about %d messages, no violation", st.Messages, sink.violations, want)
			}
			b.SetBytes(int64(len(src.text)+len(src.bin)+2*54) / 2)
		})
	}
}
