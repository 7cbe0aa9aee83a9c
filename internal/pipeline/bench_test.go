package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/reassembly"
)

// writeBulkFile writes a capture made by pcaptest.WriteBulk to path.
func writeBulkFile(tb testing.TB, path string, opt pcaptest.BulkOptions) pcaptest.BulkStats {
	tb.Helper()
	st, err := pcaptest.WriteBulkFile(path, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// checkSink checks every event of a bulk capture as it comes and counts
// what it saw. Bulk captures follow the protocol, so anything unexpected is
// recorded in bad.
type checkSink struct {
	handshakes            uint64
	frames, clientFrames  uint64
	ops                   map[dissect.Opcode]uint64
	fragmented            uint64
	payload               uint64
	compressed, inflated  uint64
	rtts                  uint64
	ends, cleanFIN        uint64
	violations, gaps, bad []string
}

func (s *checkSink) badf(format string, args ...any) {
	if len(s.bad) < 20 {
		s.bad = append(s.bad, fmt.Sprintf(format, args...))
	}
}

func (s *checkSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	if h.Response == nil {
		return // the request alone; the event comes again with the response
	}
	s.handshakes++
	if !h.Upgraded || !h.AcceptValid || h.Protocol != dissect.ProtoRFC6455 {
		s.badf("conv %d: handshake upgraded=%v accept valid=%v protocol=%s", c.ID, h.Upgraded, h.AcceptValid, h.Protocol)
	}
}

func (s *checkSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	s.frames++
	if f.Masked != (f.Dir == dissect.FromClient) {
		s.badf("conv %d: %s frame %d masked=%v", c.ID, f.Dir, f.Index, f.Masked)
	}
	if f.Masked {
		s.clientFrames++
	}
}

func (s *checkSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	s.ops[m.Opcode]++
	s.payload += m.Length
	if m.Frames > 1 {
		s.fragmented++
	}
	if m.HasRTT {
		s.rtts++
	}
	if m.Compressed {
		s.compressed++
		if m.Inflated && m.InflateErr == "" {
			s.inflated++
		}
	}
	if m.Incomplete || m.Truncated && m.Length <= 64<<10 || m.Opcode == dissect.OpText && !m.ValidUTF8 {
		s.badf("conv %d: %s message %d %s incomplete=%v truncated=%v utf8=%v", c.ID, m.Dir, m.Index, m.Opcode, m.Incomplete, m.Truncated, m.ValidUTF8)
	}
}

func (s *checkSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf("conv %d: %s", c.ID, v))
	}
}

func (s *checkSink) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	if len(s.gaps) < 20 {
		s.gaps = append(s.gaps, fmt.Sprintf("conv %d: %s gap of %d bytes at %d", c.ID, g.Dir, g.Length, g.Offset))
	}
}

func (s *checkSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	s.ends++
	if sum.IsWebSocket && sum.EndReason == dissect.EndFIN && sum.Close.Clean {
		s.cleanFIN++
	} else {
		s.badf("conv %d: end websocket=%v reason=%s close=%+v", c.ID, sum.IsWebSocket, sum.EndReason, sum.Close)
	}
}

// TestBulkCaptureThroughPipeline decodes a capture of pcaptest.WriteBulk
// (a quarter of its connections with permessage-deflate and context
// takeover) with the whole pipeline, in one goroutine and staged, and
// compares every count with what the generator says it wrote.
func TestBulkCaptureThroughPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bulk.pcap")
	bs := writeBulkFile(t, path, pcaptest.BulkOptions{Size: 6 << 20, Conns: 60, Seed: 11, MessagesPerConn: 60, Deflate: 25})
	for _, dissectors := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("dissectors=%d", dissectors), func(t *testing.T) { checkBulkRun(t, path, bs, dissectors) })
	}
}

func checkBulkRun(t *testing.T, path string, bs pcaptest.BulkStats, dissectors int) {
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &checkSink{ops: map[dissect.Opcode]uint64{}}
	st, err := Run(context.Background(), src, Config{Dissect: dissect.DefaultConfig(), Dissectors: dissectors}, sink)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range sink.bad {
		t.Error(l)
	}
	if len(sink.violations) > 0 || st.Violations > 0 {
		t.Errorf("%d violations in a capture that follows RFC 6455: %q", st.Violations, sink.violations)
	}
	if len(sink.gaps) > 0 || st.Gaps > 0 || st.Reassembly.Gaps > 0 {
		t.Errorf("gaps in a capture with no loss: %q", sink.gaps)
	}
	eq := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: wsdump %d; generator %d", what, got, want)
		}
	}
	eq("packets decoded", st.Capture.Decoded, bs.Packets)
	eq("TCP payload bytes delivered", st.Reassembly.Delivered, bs.TCPBytes)
	eq("conversations", st.Conversations, bs.Conns)
	eq("websockets", st.WebSockets, bs.Conns)
	eq("clean ends by FIN", sink.cleanFIN, bs.Conns)
	eq("handshakes with a response", sink.handshakes, bs.Conns)
	eq("frames", st.Frames, bs.Frames)
	eq("client frames", sink.clientFrames, bs.ClientFrames)
	eq("messages", st.Messages, bs.Messages)
	eq("text messages", sink.ops[dissect.OpText], bs.Text)
	eq("binary messages", sink.ops[dissect.OpBinary], bs.Binary)
	eq("fragmented messages", sink.fragmented, bs.Fragmented)
	eq("pings", sink.ops[dissect.OpPing], bs.Pings)
	eq("pongs", sink.ops[dissect.OpPong], bs.Pongs)
	eq("pongs with a round-trip time", sink.rtts, bs.Pongs)
	eq("closes", sink.ops[dissect.OpClose], bs.Closes)
	eq("message payload bytes", sink.payload, bs.PayloadBytes)
	eq("compressed messages", sink.compressed, bs.CompressedMessages)
	eq("compressed messages inflated", sink.inflated, bs.CompressedMessages)
	if bs.Fragmented == 0 || bs.Pings == 0 || bs.MaxMessageLen <= 64<<10 || bs.CompressedMessages == 0 {
		t.Errorf("the capture lacks kinds of messages the test means to cover: %+v", bs)
	}
}

// discardSink drops every event.
type discardSink struct{}

func (discardSink) Handshake(*dissect.ConvRef, *dissect.Handshake) {}
func (discardSink) Frame(*dissect.ConvRef, *dissect.Frame)         {}
func (discardSink) Message(*dissect.ConvRef, *dissect.Message)     {}
func (discardSink) Violation(*dissect.ConvRef, *dissect.Violation) {}
func (discardSink) Gap(*dissect.ConvRef, *dissect.Gap)             {}
func (discardSink) End(*dissect.ConvRef, *dissect.Summary)         {}

// byteCounter is a reassembly.Handler that only counts bytes.
type byteCounter struct{ n *uint64 }

func (h byteCounter) Data(_ reassembly.Side, d []byte, _ time.Time) { *h.n += uint64(len(d)) }
func (h byteCounter) Gap(reassembly.Side, uint64, time.Time)        {}
func (h byteCounter) End(time.Time)                                 {}

// benchMB is the size of the benchmark capture in MB (1<<20 bytes), from
// WSDUMP_BENCH_MB, 128 by default.
func benchMB(b *testing.B) int64 {
	v := os.Getenv("WSDUMP_BENCH_MB")
	if v == "" {
		return 128
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > 1<<20 {
		b.Fatalf("WSDUMP_BENCH_MB=%q: want a whole number of megabytes", v)
	}
	return n
}

// BenchmarkPacketPath measures the packet path on a capture of
// pcaptest.WriteBulk (200 interleaved connections, a quarter compressed,
// WSDUMP_BENCH_MB megabytes, generated once, not timed):
//
//	read_decode_reassemble: read, link-layer decode and TCP reassembly
//	                        into handlers that only count bytes
//	pipeline:               the whole pipeline (Run) into a sink that drops
//	                        events
//
// Bytes per second count file bytes. Extra metrics: packets/s, and the
// allocations of a pass (from runtime.MemStats, so the reader's buffers
// count too) per packet and per connection, and bytes allocated per packet.
func BenchmarkPacketPath(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.pcap")
	bs := writeBulkFile(b, path, pcaptest.BulkOptions{Size: benchMB(b) << 20, Seed: 1, Deflate: 25})
	b.Logf("capture: %.1f MB, %d packets, %d connections, %d messages", float64(bs.Bytes)/(1<<20), bs.Packets, bs.Conns, bs.Messages)

	b.Run("read_decode_reassemble", func(b *testing.B) {
		benchFile(b, path, bs, func() error {
			src, err := capture.OpenFile(path)
			if err != nil {
				return err
			}
			defer src.Close()
			var n uint64
			dec := capture.NewDecoder()
			r := reassembly.New(reassembly.Config{}, func(*reassembly.Conn) reassembly.Handler { return byteCounter{&n} })
			for {
				p, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if seg, ok := dec.Decode(p); ok {
					r.Add(seg.NetFlow, seg.TCP, seg.Timestamp)
				}
			}
			r.Close()
			if n != bs.TCPBytes {
				return fmt.Errorf("%d bytes delivered; the capture holds %d", n, bs.TCPBytes)
			}
			return nil
		})
	})

	b.Run("pipeline", func(b *testing.B) {
		benchFile(b, path, bs, func() error {
			src, err := capture.OpenFile(path)
			if err != nil {
				return err
			}
			defer src.Close()
			st, err := Run(context.Background(), src, Config{Dissect: dissect.DefaultConfig()}, discardSink{})
			if err != nil {
				return err
			}
			if st.Messages != bs.Messages || st.Violations != 0 {
				return fmt.Errorf("%d messages, %d violations; the capture holds %d messages, no violation", st.Messages, st.Violations, bs.Messages)
			}
			return nil
		})
	})
}

// benchFile runs one pass over the capture b.N times and reports the
// metrics.
func benchFile(b *testing.B, path string, bs pcaptest.BulkStats, pass func() error) {
	b.SetBytes(bs.Bytes)
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pass(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	packets := float64(bs.Packets) * float64(b.N)
	b.ReportMetric(packets/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/packets, "allocs/packet")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/(float64(bs.Conns)*float64(b.N)), "allocs/conn")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/packets, "B/packet")
}
