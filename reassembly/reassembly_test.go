package reassembly

import (
	"strings"
	"testing"
	"time"
)

var testCfg = Config{
	GapTimeout:    2 * time.Second,
	FlushInterval: time.Second,
	IdleTimeout:   time.Minute,
}

func TestSteps(t *testing.T) {
	A, B := SideA, SideB
	cases := []struct {
		name       string
		cfg        Config
		isnA, isnB uint32
		steps      []step
		want       string // events before Close
		wantClose  string // events after Close
		stats      Stats  // the limit counters expected, when not zero
	}{
		{
			name: "both directions in order, FIN from both ends at once",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "hello", flags: "A", ack: 1, ms: 1},
				{side: B, off: 1, payload: "world!", flags: "A", ack: 6, ms: 2},
				{side: A, off: 6, flags: "FA", ack: 7, ms: 3},
				{side: B, off: 7, flags: "FA", ack: 7, ms: 4},
				{side: A, off: 7, flags: "A", ack: 8, ms: 5},
			}),
			want:      `A "hello"|B "world!"|end fin`,
			wantClose: `A "hello"|B "world!"|end fin`,
		},
		{
			name: "interleaved directions keep their order",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "a1", flags: "A", ack: 1},
				{side: B, off: 1, payload: "b1", flags: "A", ack: 3},
				{side: A, off: 3, payload: "a2", flags: "A", ack: 3},
				{side: A, off: 5, payload: "a3", flags: "A", ack: 3},
				{side: B, off: 3, payload: "b2", flags: "A", ack: 7},
			}),
			want:      `A "a1"|B "b1"|A "a2a3"|B "b2"`,
			wantClose: `A "a1"|B "b1"|A "a2a3"|B "b2"|end capture_end`,
		},
		{
			name: "reordered segments",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 7, payload: "ghi"},
				{side: A, off: 10, payload: "jk"},
				{side: A, off: 4, payload: "def"},
			}),
			want:      `A "abcdefghijk"`,
			wantClose: `A "abcdefghijk"|end capture_end`,
		},
		{
			name: "retransmission and a segment captured twice",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 4, payload: "def"},
				{side: A, off: 1, payload: "abcdef"},
				{side: A, off: 4, payload: "defghi"},
			}),
			want:      `A "abcdefghi"`,
			wantClose: `A "abcdefghi"|end capture_end`,
		},
		{
			name: "overlap with equal bytes",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abcd"},
				{side: A, off: 3, payload: "cdef"},
			}),
			want:      `A "abcdef"`,
			wantClose: `A "abcdef"|end capture_end`,
		},
		{
			name: "overlap with delivered bytes: first copy wins",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abcd"},
				{side: A, off: 3, payload: "XXef"},
			}),
			want:      `A "abcdef"`,
			wantClose: `A "abcdef"|end capture_end`,
		},
		{
			name: "overlap among buffered bytes: new tail replaces old tail",
			steps: cat(handshake(), []step{
				{side: A, off: 3, payload: "cdef"},
				{side: A, off: 5, payload: "XXgh"},
				{side: A, off: 1, payload: "ab"},
			}),
			want:      `A "abcdXXgh"`,
			wantClose: `A "abcdXXgh"|end capture_end`,
		},
		{
			name: "overlap among buffered bytes: new head replaces old head",
			steps: cat(handshake(), []step{
				{side: A, off: 5, payload: "efgh"},
				{side: A, off: 3, payload: "XXYY"},
				{side: A, off: 1, payload: "ab"},
			}),
			want:      `A "abXXYYgh"`,
			wantClose: `A "abXXYYgh"|end capture_end`,
		},
		{
			name: "overlap among buffered bytes: new inside old replaces it",
			steps: cat(handshake(), []step{
				{side: A, off: 3, payload: "cdefgh"},
				{side: A, off: 5, payload: "XY"},
				{side: A, off: 1, payload: "ab"},
			}),
			want:      `A "abcdXYgh"`,
			wantClose: `A "abcdXYgh"|end capture_end`,
		},
		{
			name: "keep-alive probes carry an old byte and are not delivered",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc", flags: "A", ack: 1},
				{side: A, off: 3, payload: "Z", flags: "A", ack: 1, ms: 100},
				{side: A, off: 3, payload: "", flags: "A", ack: 1, ms: 200},
				{side: B, off: 1, payload: "ok", flags: "A", ack: 4, ms: 300},
				{side: B, off: 2, payload: "\x00", flags: "A", ack: 4, ms: 400},
				{side: A, off: 4, payload: "def", flags: "A", ack: 3, ms: 500},
			}),
			want:      `A "abc"|B "ok"|A "def"`,
			wantClose: `A "abc"|B "ok"|A "def"|end capture_end`,
		},
		{
			name: "keep-alive behind a hole does not overwrite buffered bytes",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc", flags: "A", ack: 1},
				{side: A, off: 7, payload: "ghi", flags: "A", ack: 1, ms: 10},
				{side: A, off: 9, payload: "\x00", flags: "A", ack: 1, ms: 20},
				{side: A, off: 9, payload: "", flags: "A", ack: 1, ms: 30},
			}),
			want:      `A "abc"`,
			wantClose: `A "abc"|A gap 3|A "ghi"|end capture_end`,
		},
		{
			name: "no SYN captured: starts at the first segment of each side",
			steps: []step{
				{side: A, off: 1000, payload: "GET /", flags: "A", ack: 500},
				{side: B, off: 500, payload: "HTTP/1.1", flags: "A", ack: 1005},
				{side: A, off: 1005, payload: " more", flags: "A", ack: 508},
			},
			want:      `A "GET /"|B "HTTP/1.1"|A " more"`,
			wantClose: `A "GET /"|B "HTTP/1.1"|A " more"|end capture_end`,
		},
		{
			name: "no SYN captured: first segment of a side is a keep-alive",
			steps: []step{
				{side: A, off: 1000, payload: "req", flags: "A", ack: 500},
				{side: B, off: 499, payload: "x", flags: "A", ack: 1003},
				{side: B, off: 500, payload: "resp", flags: "A", ack: 1003},
			},
			want:      `A "req"|B "resp"`,
			wantClose: `A "req"|B "resp"|end capture_end`,
		},
		{
			name: "SYN retransmitted",
			steps: []step{
				{side: A, off: 0, flags: "S"},
				{side: A, off: 0, flags: "S", ms: 1000},
				{side: B, off: 0, flags: "SA", ack: 1, ms: 1001},
				{side: B, off: 0, flags: "SA", ack: 1, ms: 1002},
				{side: A, off: 1, payload: "x", flags: "A", ack: 1, ms: 1003},
				{side: B, off: 1, payload: "y", flags: "A", ack: 2, ms: 1004},
			},
			want:      `A "x"|B "y"`,
			wantClose: `A "x"|B "y"|end capture_end`,
		},
		{
			name: "RST mid-stream ends at once, later data dropped",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc", flags: "A", ack: 1},
				{side: B, off: 1, flags: "R"},
				{side: A, off: 4, payload: "def", flags: "A", ack: 1},
				{side: B, off: 1, payload: "late", flags: "A", ack: 7},
			}),
			want:      `A "abc"|end rst`,
			wantClose: `A "abc"|end rst`,
		},
		{
			name: "RST ahead of a hole ends at once, buffered bytes dropped",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 7, payload: "ghi"},
				{side: A, off: 10, flags: "R"},
				{side: A, off: 4, payload: "def"},
			}),
			want:      `A "abc"|end rst`,
			wantClose: `A "abc"|end rst`,
		},
		{
			name: "connection refused: SYN answered by RST",
			steps: []step{
				{side: A, off: 0, flags: "S"},
				{side: B, off: 0, flags: "RA", ack: 1},
				{side: A, off: 0, flags: "S", ms: 1000}, // retried: a new connection
			},
			want:      `end rst`,
			wantClose: `end rst`,
		},
		{
			name: "a lone RST",
			steps: []step{
				{side: A, off: 77, flags: "R"},
			},
			want:      `end rst`,
			wantClose: `end rst`,
		},
		{
			name: "FIN from one side only: ends at Close",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "bye", flags: "FA", ack: 1},
				{side: B, off: 1, payload: "late", flags: "A", ack: 5},
			}),
			want:      `A "bye"|B "late"`,
			wantClose: `A "bye"|B "late"|end capture_end`,
		},
		{
			name: "FIN ahead of a hole waits for the hole",
			steps: cat(handshake(), []step{
				{side: B, off: 1, flags: "FA", ack: 1},
				{side: A, off: 4, payload: "def", flags: "FA", ack: 2},
				{side: A, off: 1, payload: "abc", flags: "A", ack: 2},
			}),
			want:      `A "abcdef"|end fin`,
			wantClose: `A "abcdef"|end fin`,
		},
		{
			name: "lost bytes become a gap after GapTimeout of capture time",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc", ms: 0},
				{side: A, off: 7, payload: "ghi", ms: 100},
				{side: A, off: 10, payload: "jk", ms: 200},
				{side: B, off: 1, payload: "b", ms: 1500}, // flush: nothing old enough
				{side: B, off: 2, payload: "c", ms: 2600}, // flush: gives up on 4-6
				{side: A, off: 12, payload: "lm", ms: 2700},
			}),
			want:      `A "abc"|B "bc"|A gap 3|A "ghijklm"`,
			wantClose: `A "abc"|B "bc"|A gap 3|A "ghijklm"|end capture_end`,
		},
		{
			name: "lost bytes at the end become a gap at Close",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 9, payload: "ij"},
				{side: B, off: 3, payload: "zz"},
			}),
			want:      `A "abc"`,
			wantClose: `A "abc"|B gap 2|B "zz"|A gap 5|A "ij"|end capture_end`,
		},
		{
			name: "sequence numbers wrap at 2^32",
			isnA: 0xFFFFFFF0, isnB: 0xFFFFFFFE,
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "0123456789"},
				{side: A, off: 11, payload: "abcdefghij"}, // crosses 2^32
				{side: B, off: 1, payload: "xy"},          // crosses 2^32
				{side: A, off: 26, payload: "qr"},         // ahead
				{side: A, off: 21, payload: "klmno"},      // fills
				{side: B, off: 3, payload: "z"},
			}),
			want:      `A "0123456789abcdefghij"|B "xy"|A "klmnoqr"|B "z"`,
			wantClose: `A "0123456789abcdefghij"|B "xy"|A "klmnoqr"|B "z"|end capture_end`,
		},
		{
			name: "a hole across 2^32 has its exact length",
			isnA: 0xFFFFFFF0,
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "0123456789"}, // up to 0xFFFFFFFA
				{side: A, off: 20, payload: "tuv"},       // seq 4
			}),
			want:      `A "0123456789"`,
			wantClose: `A "0123456789"|A gap 9|A "tuv"|end capture_end`,
		},
		{
			name: "a one-byte hole right at 2^32 is a gap, not joined",
			isnA: 0xFFFFFFF0,
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "0123456789abcd"}, // last byte at 0xFFFFFFFE
				{side: A, off: 16, payload: "xyz"},           // seq 0
			}),
			want:      `A "0123456789abcd"`,
			wantClose: `A "0123456789abcd"|A gap 1|A "xyz"|end capture_end`,
		},
		{
			name: "per-connection page limit gives up on the hole",
			cfg:  Config{MaxBufferedPagesPerConn: 2, GapTimeout: time.Hour, FlushInterval: time.Second, IdleTimeout: time.Hour},
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "ab"},
				{side: A, off: 5, payload: "ef"},
				{side: A, off: 7, payload: "gh"},
				{side: A, off: 9, payload: "ij"},
				{side: A, off: 3, payload: "cd"}, // too late
			}),
			want:      `A "ab"|A gap 2|A "efghij"`,
			wantClose: `A "ab"|A gap 2|A "efghij"|end capture_end`,
			stats:     Stats{PageLimitGaps: 1},
		},
		{
			name: "keep-alives and acknowledgements keep a connection open",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc", flags: "A", ack: 1},
				{side: A, off: 3, flags: "A", ack: 1, ms: 50000},
				{side: B, off: 1, flags: "A", ack: 4, ms: 100000},
				{side: A, off: 3, payload: "c", flags: "A", ack: 1, ms: 150000},
				{side: B, off: 1, flags: "A", ack: 4, ms: 200000},
				{side: A, off: 4, payload: "d", flags: "A", ack: 1, ms: 250000},
				{side: A, off: 1, payload: "x", conn: 1, flags: "A", ms: 300000},
			}),
			want:      `A "abcd"`,
			wantClose: `A "abcd"|end capture_end`,
		},
		{
			name: "an idle connection with a hole hands over its bytes, then times out",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 7, payload: "ghi"},
				{side: A, off: 1, payload: "x", conn: 1, flags: "A", ms: 61000},
			}),
			want:      `A "abc"|A gap 3|A "ghi"|end timeout`,
			wantClose: `A "abc"|A gap 3|A "ghi"|end timeout`,
		},
		{
			name: "idle connection ends with timeout on the capture clock",
			steps: cat(handshake(), []step{
				{side: A, off: 1, payload: "abc"},
				{side: A, off: 1, payload: "x", conn: 1, flags: "A", ms: 30000},
				{side: A, off: 2, payload: "y", conn: 1, flags: "A", ms: 61000},
			}),
			want:      `A "abc"|end timeout`,
			wantClose: `A "abc"|end timeout`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg == (Config{}) {
				cfg = testCfg
			}
			h := newHarness(t, cfg, tc.isnA, tc.isnB)
			if tc.isnA == 0 && tc.isnB == 0 {
				h.isn = [2]uint32{1000, 5000}
			}
			h.run(tc.steps)
			h.check(0, "before Close", tc.want)
			h.r.Close()
			h.check(0, "after Close", tc.wantClose)
			if tc.stats != (Stats{}) {
				st := h.r.Stats()
				if st.PageLimitGaps != tc.stats.PageLimitGaps || st.TotalPageLimitGaps != tc.stats.TotalPageLimitGaps {
					t.Errorf("page limit gaps %d, of them total %d; want %d, %d", st.PageLimitGaps,
						st.TotalPageLimitGaps, tc.stats.PageLimitGaps, tc.stats.TotalPageLimitGaps)
				}
			}
			for i, rec := range h.recs {
				if rec.ended != 1 {
					t.Errorf("conn %d: End called %d times", i+1, rec.ended)
				}
			}
		})
	}
}

func TestConnFields(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.run(cat(handshake(), []step{
		{side: SideA, off: 1, payload: "abc", flags: "A", ack: 1, ms: 10},
		{side: SideA, off: 1, payload: "abc", flags: "A", ack: 1, ms: 20},
		{side: SideA, off: 7, payload: "ghi", flags: "A", ack: 1, ms: 30},
		{side: SideA, off: 2, payload: "K", flags: "A", ack: 1, ms: 40},
		{side: SideB, off: 1, flags: "R", ms: 50},
	}))
	h.r.Close()
	c := h.recs[0].c
	if c.ID != 1 || c.A.String() != "10.0.0.1:40000" || c.B.String() != "10.0.0.2:80" || !c.RolesFromSYN {
		t.Errorf("conn = id %d A %v B %v fromSYN %v", c.ID, c.A, c.B, c.RolesFromSYN)
	}
	if !c.Start.Equal(t0) || !c.Last.Equal(t0.Add(50*time.Millisecond)) || c.End != EndRST {
		t.Errorf("start %v last %v end %v", c.Start, c.Last, c.End)
	}
	a := c.Stats[SideA]
	want := DirStats{Packets: 6, Bytes: 10, Delivered: 3, OutOfOrder: 3, Retransmitted: 4, SYN: true}
	// "K" at 2 is a retransmission of an already delivered byte
	if a != want {
		t.Errorf("A stats\n got  %+v\n want %+v", a, want)
	}
	b := c.Stats[SideB]
	if b != (DirStats{Packets: 2, SYN: true, RST: true}) {
		t.Errorf("B stats %+v", b)
	}
	st := h.r.Stats()
	if st.Packets != 8 || st.Conns != 1 || st.EndedRST != 1 || st.Delivered != 3 || st.Retransmitted != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestRolesFromSynAck(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	// The client's SYN was not captured; its SYN+ACK answer was.
	h.run([]step{
		{side: SideB, off: 0, flags: "SA", ack: 1},
		{side: SideA, off: 1, payload: "hi", flags: "A", ack: 1},
	})
	h.r.Close()
	c := h.recs[0].c
	if !c.RolesFromSYN || c.A.String() != "10.0.0.1:40000" || c.B.String() != "10.0.0.2:80" {
		t.Errorf("A %v B %v fromSYN %v", c.A, c.B, c.RolesFromSYN)
	}
	h.check(0, "after Close", `A "hi"|end capture_end`)

	h = newHarness(t, testCfg, 1000, 5000)
	h.run([]step{
		{side: SideB, off: 1, payload: "srv", flags: "A", ack: 1},
		{side: SideA, off: 1, payload: "cli", flags: "A", ack: 4},
	})
	h.r.Close()
	c = h.recs[0].c
	// Without SYN, A is the first sender: here the server.
	if c.RolesFromSYN || c.A.String() != "10.0.0.2:80" || c.B.String() != "10.0.0.1:40000" {
		t.Errorf("A %v B %v fromSYN %v", c.A, c.B, c.RolesFromSYN)
	}
	h.check(0, "after Close", `A "srv"|B "cli"|end capture_end`)
}

func TestTupleReuseAndLateAck(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	first := cat(handshake(), []step{
		{side: SideA, off: 1, payload: "one", flags: "A", ack: 1},
		{side: SideA, off: 4, flags: "FA", ack: 1},
		{side: SideB, off: 1, flags: "FA", ack: 5},
		{side: SideA, off: 5, flags: "A", ack: 2}, // last ACK: no new connection
	})
	h.run(first)
	if len(h.recs) != 1 {
		t.Fatalf("%d connections after the first, want 1", len(h.recs))
	}
	h.isn = [2]uint32{90000, 70000}
	h.run(cat(handshake(), []step{{side: SideA, off: 1, payload: "two", flags: "A", ack: 1}}))
	h.r.Close()
	h.check(0, "first", `A "one"|end fin`)
	h.check(1, "second", `A "two"|end capture_end`)
	if h.recs[1].c.ID != 2 {
		t.Errorf("second ID %d", h.recs[1].c.ID)
	}
	if st := h.r.Stats(); st.AfterEnd != 1 || st.Conns != 2 || st.EndedFIN != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTupleReuseWithoutEnd(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.run(cat(handshake(), []step{
		{side: SideA, off: 1, payload: "one", flags: "A", ack: 1},
		{side: SideA, off: 0, flags: "S", ms: 10}, // retransmitted SYN: same connection
		{side: SideB, off: 1, payload: "ack", flags: "A", ack: 4, ms: 20},
	}))
	h.isn = [2]uint32{90000, 70000}
	h.run(cat(handshake(), []step{{side: SideA, off: 1, payload: "two", flags: "A", ack: 1, ms: 30}}))
	h.check(0, "first", `A "one"|B "ack"|end reused`)
	h.r.Close()
	h.check(1, "second", `A "two"|end capture_end`)
	if st := h.r.Stats(); st.EndedReused != 1 || st.Conns != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestTupleReuseAfterRST(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.run(cat(handshake(), []step{
		{side: SideA, off: 1, payload: "one", flags: "A", ack: 1},
		{side: SideB, off: 5, payload: "zz", flags: "A", ack: 4}, // B has a hole
		{side: SideA, off: 4, flags: "R"},
	}))
	h.isn = [2]uint32{90000, 70000}
	h.run(cat(handshake(), []step{{side: SideA, off: 1, payload: "two", flags: "A", ack: 1}}))
	h.r.Close()
	h.check(0, "first", `A "one"|end rst`)
	h.check(1, "second", `A "two"|end capture_end`)
}

func TestMaxConns(t *testing.T) {
	cfg := testCfg
	cfg.MaxConns = 1
	h := newHarness(t, cfg, 1000, 5000)
	h.run([]step{
		{side: SideA, off: 1, payload: "a", conn: 0},
		{side: SideA, off: 1, payload: "b", conn: 1},
		{side: SideA, off: 2, payload: "c", conn: 1},
		{side: SideA, off: 2, payload: "d", conn: 0},
	})
	h.r.Close()
	if len(h.recs) != 1 {
		t.Fatalf("%d connections, want 1", len(h.recs))
	}
	h.check(0, "after Close", `A "ad"|end capture_end`)
	if st := h.r.Stats(); st.ConnLimitDrops != 2 || st.Conns != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTotalPageLimit(t *testing.T) {
	cfg := testCfg
	cfg.GapTimeout = time.Hour
	cfg.MaxBufferedPagesTotal = 3
	h := newHarness(t, cfg, 1000, 5000)
	h.run([]step{
		{side: SideA, off: 1, payload: "a", conn: 0},
		{side: SideA, off: 3, payload: "c", conn: 0},
		{side: SideA, off: 1, payload: "a", conn: 1},
		{side: SideA, off: 3, payload: "c", conn: 1},
		{side: SideA, off: 5, payload: "e", conn: 1}, // third page: limit
	})
	h.check(0, "conn 1", `A "a"`)
	h.check(1, "conn 2", `A "a"|A gap 1|A "c"`)
	if st := h.r.Stats(); st.PageLimitGaps != 1 || st.TotalPageLimitGaps != 1 || st.Gaps != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A segment longer than a page buffered ahead of a hole is kept in several
// pages; a retransmission replaces its first page.
func TestLargeBufferedSegment(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	big := strings.Repeat("0123456789", 500)
	h.run([]step{
		{side: SideA, off: 1, payload: "ab"},
		{side: SideA, off: 11, payload: big, ms: 10},
		{side: SideA, off: 4, payload: "defghij", ms: 20},   // trims the hole
		{side: SideA, off: 11, payload: big[:1900], ms: 30}, // replaces the first page
		{side: SideB, off: 1, payload: "x", ms: 3000},       // flush
	})
	h.r.Close()
	h.check(0, "after Close", `A "ab"|B "x"|A gap 1|A "defghij`+big+`"|end capture_end`)
}

// Data handed over after a hole carries the time of the segment that made it
// available in order.
func TestDataTimes(t *testing.T) {
	h := newHarness(t, testCfg, 1000, 5000)
	h.run([]step{
		{side: SideA, off: 1, payload: "ab", ms: 0},
		{side: SideA, off: 5, payload: "ef", ms: 100},
		{side: SideB, off: 1, payload: "x", ms: 200},
		{side: SideA, off: 3, payload: "cd", ms: 300},
		{side: SideA, off: 9, payload: "ij", ms: 400},
		{side: SideB, off: 2, payload: "y", ms: 3000}, // flush gives up on 7-8
	})
	h.r.Close()
	h.check(0, "after Close", `A "ab"|B "x"|A "cdef"|B "y"|A gap 2|A "ij"|end capture_end`)
	want := []int{0, 200, 300, 3000, 400, 400, 3000}
	for i, ms := range want {
		if i >= len(h.recs[0].times) {
			break
		}
		if got := h.recs[0].times[i]; !got.Equal(t0.Add(time.Duration(ms) * time.Millisecond)) {
			t.Errorf("event %d (%s) at %v, want +%dms", i, h.recs[0].evs[i], got.Sub(t0), ms)
		}
	}
}

// Buffered data stays within MaxBufferedPagesTotal however many connections
// have holes.
func TestBufferedPagesBounded(t *testing.T) {
	cfg := testCfg
	cfg.MaxBufferedPagesTotal = 50
	cfg.MaxBufferedPagesPerConn = 1000
	cfg.GapTimeout = time.Hour
	h := newHarness(t, cfg, 1000, 5000)
	payload := strings.Repeat("x", 1000)
	max := 0
	for conn := 0; conn < 20; conn++ {
		h.run([]step{{side: SideA, off: 1, payload: "a", conn: conn}})
	}
	for i := 0; i < 2000; i++ {
		// Byte 2 of each connection is never captured.
		h.run([]step{{side: SideA, off: uint32(3 + 1000*(i/20)), payload: payload, conn: i % 20, ms: i}})
		if used := h.r.totalPagesUsed(); used > max {
			max = used
		}
	}
	t.Logf("at most %d pages in use", max)
	if max < 0 || max > cfg.MaxBufferedPagesTotal {
		t.Errorf("pages in use reached %d, limit %d", max, cfg.MaxBufferedPagesTotal)
	}
	if st := h.r.Stats(); st.TotalPageLimitGaps == 0 || st.Gaps == 0 {
		t.Errorf("limit never hit: %+v", st)
	}
	h.r.Close()
	for i := range h.recs {
		if h.recs[i].ended != 1 {
			t.Errorf("conn %d not ended once", i+1)
		}
	}
}
