package reassembly

import (
	"fmt"
	"math/rand"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// checker verifies, for each side, that every Data holds the original bytes
// at its place and every Gap skips exactly the bytes that are missing.
type checker struct {
	t     *testing.T
	label string
	orig  [2][]byte
	pos   [2]int
	gaps  [2]int
	ended int
}

func (c *checker) Data(side Side, d []byte, _ time.Time) {
	p := c.pos[side]
	if c.ended > 0 || p+len(d) > len(c.orig[side]) || string(d) != string(c.orig[side][p:p+len(d)]) {
		c.t.Fatalf("%s: side %v: wrong Data of %d bytes at %d (ended %d)", c.label, side, len(d), p, c.ended)
	}
	c.pos[side] += len(d)
}

func (c *checker) Gap(side Side, n uint64, _ time.Time) {
	if c.ended > 0 || n == 0 || c.pos[side]+int(n) > len(c.orig[side]) {
		c.t.Fatalf("%s: side %v: bad Gap %d at %d", c.label, side, n, c.pos[side])
	}
	c.pos[side] += int(n)
	c.gaps[side]++
}

func (c *checker) End(time.Time) { c.ended++ }

type rseg struct {
	side Side
	off  int // payload offset in the side's stream
	n    int
	ms   int
}

// TestRandomSegments feeds streams cut in random segments, reordered,
// duplicated, overlapping and partly lost, with sequence numbers that may
// wrap, under small buffer limits, and checks every byte handed over.
func TestRandomSegments(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ipA, ipB := net.IPv4(192, 0, 2, 1).To4(), net.IPv4(192, 0, 2, 2).To4()
	for iter := 0; iter < 200; iter++ {
		label := fmt.Sprintf("iteration %d", iter)
		c := &checker{t: t, label: label}
		var isn [2]uint32
		var segs []rseg
		lost := 0
		for side := SideA; side <= SideB; side++ {
			n := rng.Intn(20000)
			c.orig[side] = make([]byte, n)
			rng.Read(c.orig[side])
			isn[side] = rng.Uint32()
			if rng.Intn(3) == 0 {
				isn[side] = 0xFFFFFFFF - uint32(rng.Intn(3*n+1))
			}
			for off := 0; off < n; {
				l := 1 + rng.Intn(3000)
				if off+l > n {
					l = n - off
				}
				ms := off / 100
				switch k := rng.Intn(20); {
				case k == 0 && off > 0 && off+l < n:
					lost++ // lost in the middle (the last segment is kept)
				case k == 1:
					segs = append(segs, rseg{side, off, l, ms}, rseg{side, off, l, ms})
				case k == 2 && off > 10:
					segs = append(segs, rseg{side, off - 10, l + 10, ms})
				default:
					segs = append(segs, rseg{side, off, l, ms})
				}
				off += l
			}
		}
		// Move some segments later in capture order (keeping their time).
		for i := 0; i < len(segs)/5; i++ {
			a, b := rng.Intn(len(segs)), rng.Intn(len(segs))
			segs[a], segs[b] = segs[b], segs[a]
		}
		cfg := Config{
			MaxBufferedPagesPerConn: 1 + rng.Intn(20),
			MaxBufferedPagesTotal:   1 + rng.Intn(40),
			GapTimeout:              time.Duration(1+rng.Intn(3000)) * time.Millisecond,
			FlushInterval:           100 * time.Millisecond,
			IdleTimeout:             time.Hour,
		}
		r := New(cfg, func(*Conn) Handler { return c })
		flow := [2]gopacket.Flow{gopacket.NewFlow(layers.EndpointIPv4, ipA, ipB)}
		flow[1] = flow[0].Reverse()
		mk := func(side Side, seq uint32, syn bool, payload []byte) *layers.TCP {
			tcp := &layers.TCP{SrcPort: 1234, DstPort: 443, Seq: seq, SYN: syn}
			if side == SideB {
				tcp.SrcPort, tcp.DstPort = 443, 1234
			}
			tcp.Payload = payload
			tcp.SetInternalPortsForTesting()
			return tcp
		}
		r.Add(flow[0], mk(SideA, isn[0], true, nil), t0)
		r.Add(flow[1], mk(SideB, isn[1], true, nil), t0)
		for i, s := range segs {
			ms := s.ms
			if i > 0 && segs[i-1].ms > ms {
				ms = segs[i-1].ms
			}
			tcp := mk(s.side, isn[s.side]+1+uint32(s.off), false, c.orig[s.side][s.off:s.off+s.n])
			r.Add(flow[s.side], tcp, t0.Add(time.Duration(ms)*time.Millisecond))
		}
		r.Close()
		if c.ended != 1 {
			t.Fatalf("%s: End called %d times", label, c.ended)
		}
		for side := SideA; side <= SideB; side++ {
			if c.pos[side] != len(c.orig[side]) {
				t.Fatalf("%s: side %v: stream ends at %d of %d", label, side, c.pos[side], len(c.orig[side]))
			}
		}
		if lost > 0 && c.gaps[0]+c.gaps[1] == 0 {
			t.Fatalf("%s: %d segments lost and no gap", label, lost)
		}
	}
}
