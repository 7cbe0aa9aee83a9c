package reassembly

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// recorder is a Handler that writes what it receives as lines; consecutive
// Data of one side are joined so that tests state bytes, not segmentation.
type recorder struct {
	c     *Conn
	evs   []string
	times []time.Time // time of each line (first Data of a joined run)
	ended int
	last  Side
	data  bool // the last line is Data of side last
}

func (r *recorder) Data(side Side, data []byte, t time.Time) {
	if r.ended > 0 {
		r.evs = append(r.evs, "DATA AFTER END")
	}
	if r.data && r.last == side && len(r.evs) > 0 {
		prev := r.evs[len(r.evs)-1]
		r.evs[len(r.evs)-1] = prev[:len(prev)-1] + string(data) + `"`
		return
	}
	r.evs = append(r.evs, fmt.Sprintf("%v %q", side, string(data)))
	r.times = append(r.times, t)
	r.last, r.data = side, true
}

func (r *recorder) Gap(side Side, n uint64, t time.Time) {
	if r.ended > 0 {
		r.evs = append(r.evs, "GAP AFTER END")
	}
	r.evs = append(r.evs, fmt.Sprintf("%v gap %d", side, n))
	r.times = append(r.times, t)
	r.data = false
}

func (r *recorder) End(t time.Time) {
	r.ended++
	r.evs = append(r.evs, "end "+r.c.End.String())
	r.times = append(r.times, t)
	r.data = false
}

// step is one segment of a test: sent by side of connection conn, at seq =
// ISN of that side + off, with flags among "SAFR" (ACK acknowledges ack
// bytes of the peer past its ISN), at t0 + ms milliseconds.
type step struct {
	side    Side
	off     uint32
	payload string
	flags   string
	ms      int
	ack     uint32
	conn    int
}

type harness struct {
	t     *testing.T
	r     *Reassembler
	recs  []*recorder
	isn   [2]uint32
	hosts [2]net.IP
}

func newHarness(t *testing.T, cfg Config, isnA, isnB uint32) *harness {
	h := &harness{t: t, isn: [2]uint32{isnA, isnB},
		hosts: [2]net.IP{net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4()}}
	h.r = New(cfg, func(c *Conn) Handler {
		rec := &recorder{c: c}
		h.recs = append(h.recs, rec)
		return rec
	})
	return h
}

func (h *harness) segment(s step) (gopacket.Flow, *layers.TCP) {
	src, dst := h.hosts[s.side], h.hosts[s.side.Other()]
	sport, dport := layers.TCPPort(40000+s.conn), layers.TCPPort(80)
	if s.side == SideB {
		sport, dport = dport, sport
	}
	tcp := &layers.TCP{
		SrcPort: sport, DstPort: dport,
		Seq:    h.isn[s.side] + s.off,
		Window: 65535,
	}
	tcp.Payload = []byte(s.payload)
	for _, f := range s.flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
			tcp.Ack = h.isn[s.side.Other()] + s.ack
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		default:
			h.t.Fatalf("bad flag %q", f)
		}
	}
	tcp.SetInternalPortsForTesting()
	flow := gopacket.NewFlow(layers.EndpointIPv4, src, dst)
	return flow, tcp
}

func (h *harness) run(steps []step) {
	for _, s := range steps {
		flow, tcp := h.segment(s)
		h.r.Add(flow, tcp, t0.Add(time.Duration(s.ms)*time.Millisecond))
	}
}

// events returns the lines of connection i (0-based), joined by "|".
func (h *harness) events(i int) string {
	if i >= len(h.recs) {
		return "<no connection>"
	}
	return strings.Join(h.recs[i].evs, "|")
}

func (h *harness) check(i int, when, want string) {
	h.t.Helper()
	if got := h.events(i); got != want {
		h.t.Errorf("%s: conn %d events:\n got  %s\n want %s", when, i+1, got, want)
	}
}

// handshake returns SYN, SYN+ACK and ACK.
func handshake() []step {
	return []step{
		{side: SideA, off: 0, flags: "S"},
		{side: SideB, off: 0, flags: "SA", ack: 1},
		{side: SideA, off: 1, flags: "A", ack: 1},
	}
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
