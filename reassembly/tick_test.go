package reassembly

import (
	"testing"
	"time"
)

// TestTick checks that a quiet capture still gives up holes and ends idle
// connections when its clock is moved by Tick instead of by packets.
func TestTick(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.run(cat(handshake(), []step{
		{side: SideA, off: 1, payload: "abc", flags: "A", ack: 1, ms: 10},
		{side: SideA, off: 7, payload: "ghi", flags: "A", ack: 1, ms: 20},
	}))
	const before = `A "abc"`
	h.check(0, "after the packets", before)

	h.r.Tick(t0.Add(time.Second)) // earlier than GapTimeout: keep waiting
	h.check(0, "tick at 1s", before)
	h.r.Tick(t0) // the clock never goes back
	h.r.Tick(time.Time{})
	h.check(0, "ticks in the past", before)

	h.r.Tick(t0.Add(3 * time.Second)) // past GapTimeout
	h.check(0, "tick at 3s", `A "abc"|A gap 3|A "ghi"`)
	if h.recs[0].ended != 0 {
		t.Fatal("ended before IdleTimeout")
	}

	h.r.Tick(t0.Add(testCfg.IdleTimeout + 2*time.Second))
	h.check(0, "tick past IdleTimeout", `A "abc"|A gap 3|A "ghi"|end timeout`)
	if st := h.r.Stats(); st.EndedTimeout != 1 || st.Open != 0 {
		t.Errorf("stats %+v; want one connection ended by timeout, none open", st)
	}

	h.r.Close()
	h.r.Tick(t0.Add(time.Hour)) // after Close: nothing
	if n := h.recs[0].ended; n != 1 {
		t.Errorf("ended %d times", n)
	}
}

// TestTickWithoutPackets checks that ticks before the first packet start
// the clock and nothing else.
func TestTickWithoutPackets(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.r.Tick(t0)
	h.r.Tick(t0.Add(10 * time.Minute))
	if st := h.r.Stats(); st.Packets != 0 || st.Conns != 0 || len(h.recs) != 0 {
		t.Errorf("stats %+v, %d connections", st, len(h.recs))
	}
}
