package reassembly

import (
	"testing"
	"time"
)

// orderLog is a Handler factory whose handlers write the ID of their
// connection for every call, in one log for all connections.
type orderLog struct{ ids []uint64 }

type orderHandler struct {
	l *orderLog
	c *Conn
}

func (h orderHandler) Data(Side, []byte, time.Time) { h.l.ids = append(h.l.ids, h.c.ID) }
func (h orderHandler) Gap(Side, uint64, time.Time)  { h.l.ids = append(h.l.ids, h.c.ID) }
func (h orderHandler) End(time.Time)                { h.l.ids = append(h.l.ids, h.c.ID) }

// TestFlushOrder: what flushes hand over (bytes held behind a hole, gaps,
// ends by timeout and at Close) comes connection by connection in the
// order of their IDs, whatever order gopacket keeps its connections in.
func TestFlushOrder(t *testing.T) {
	for _, closeAll := range []bool{true, false} {
		for run := 0; run < 5; run++ {
			log := &orderLog{}
			cfg := testCfg
			cfg.GapTimeout = 100 * time.Millisecond
			cfg.IdleTimeout = 500 * time.Millisecond
			h := newHarness(t, cfg, 1000, 5000)
			h.r = New(cfg, func(c *Conn) Handler { return orderHandler{log, c} })
			var steps []step
			for c := 0; c < 40; c++ {
				steps = append(steps,
					step{side: SideA, off: 1, payload: "a", conn: c},
					step{side: SideA, off: 3, payload: "c", conn: c}) // a hole at 2
			}
			h.run(steps)
			log.ids = nil
			if closeAll {
				h.r.Close()
			} else {
				h.r.Tick(t0.Add(2 * time.Second)) // gaps given up, then ends by timeout
			}
			if len(log.ids) != 40*3 {
				t.Fatalf("close=%v: %d handler calls, want 120 (gap, data, end of each)", closeAll, len(log.ids))
			}
			// At Close, one pass: each connection's gap, data and end. On a
			// tick, two: the gaps and data of all, then the ends by timeout.
			for i := 1; i < len(log.ids); i++ {
				if !closeAll && i == 80 {
					continue
				}
				if log.ids[i] < log.ids[i-1] {
					t.Fatalf("close=%v run %d: connection %d after %d: %v", closeAll, run, log.ids[i], log.ids[i-1], log.ids)
				}
			}
		}
	}
}
