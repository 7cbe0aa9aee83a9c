package reassembly

import (
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

type countHandler struct{ n uint64 }

func (h *countHandler) Data(_ Side, d []byte, _ time.Time) { h.n += uint64(len(d)) }
func (h *countHandler) Gap(Side, uint64, time.Time)        {}
func (h *countHandler) End(time.Time)                      {}

// BenchmarkInOrder feeds one long connection: side A sends MSS-sized
// segments, each acknowledged by a pure ACK of side B, and B answers with a
// 200-byte segment every 10 segments of A. Bytes are payload bytes.
func BenchmarkInOrder(b *testing.B) { benchStream(b, false) }

// BenchmarkReordered is BenchmarkInOrder with every two segments of A
// swapped, so that half of them are buffered.
func BenchmarkReordered(b *testing.B) { benchStream(b, true) }

func benchStream(b *testing.B, swap bool) {
	const mss, round = 1460, 1000
	ipA, ipB := net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4()
	fAB := gopacket.NewFlow(layers.EndpointIPv4, ipA, ipB)
	fBA := fAB.Reverse()
	payA, payB := make([]byte, mss), make([]byte, 200)
	type seg struct {
		flow gopacket.Flow
		tcp  *layers.TCP
	}
	var segs []seg
	var seqA, seqB uint32 = 0xF0000000, 7 // A wraps during the run
	var roundBytes [2]uint32
	var payloadPerRound int64
	for i := 0; i < round; i++ {
		a := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: seqA, Ack: seqB, ACK: true}
		a.Payload = payA
		a.SetInternalPortsForTesting()
		seqA += mss
		roundBytes[0] += mss
		payloadPerRound += mss
		segs = append(segs, seg{fAB, a})
		ack := &layers.TCP{SrcPort: 80, DstPort: 40000, Seq: seqB, Ack: seqA, ACK: true}
		ack.SetInternalPortsForTesting()
		if i%10 == 9 {
			ack.Payload = payB
			seqB += uint32(len(payB))
			roundBytes[1] += uint32(len(payB))
			payloadPerRound += int64(len(payB))
		}
		segs = append(segs, seg{fBA, ack})
	}
	if swap {
		for i := 4; i+2 < len(segs); i += 4 { // the first segment starts the stream
			segs[i], segs[i+2] = segs[i+2], segs[i]
		}
	}
	h := &countHandler{}
	r := New(Config{}, func(*Conn) Handler { return h })
	ts := t0
	b.SetBytes(payloadPerRound)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range segs {
			ts = ts.Add(time.Microsecond)
			r.Add(s.flow, s.tcp, ts)
		}
		b.StopTimer()
		for _, s := range segs {
			if s.flow == fAB {
				s.tcp.Seq += roundBytes[0]
				s.tcp.Ack += roundBytes[1]
			} else {
				s.tcp.Seq += roundBytes[1]
				s.tcp.Ack += roundBytes[0]
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	r.Close()
	if h.n != uint64(b.N)*uint64(payloadPerRound) {
		b.Fatalf("delivered %d bytes, want %d", h.n, uint64(b.N)*uint64(payloadPerRound))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(segs)), "ns/packet")
}
