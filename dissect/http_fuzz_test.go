package dissect

import (
	"math/rand"
	"testing"
)

// FuzzHTTPPhase feeds two arbitrary sides, whole and in random pieces, and
// checks that the phase neither panics nor loses bytes, keeps its buffers
// under the cap, and reports the same events for each side however the
// bytes are split.
func FuzzHTTPPhase(f *testing.F) {
	hixieReq, hixieResp := hixie76Example()
	seeds := [][2]string{
		{rfcRequest + clientFrame, rfcResponse + serverFrame},
		{zeekRequest, zeekWrongResponse + serverFrame},
		{hixieReq + "\x00a\xff", hixieResp + "\x00b\xff"},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nabcd\r\n0\r\nT: 1\r\n\r\n" + zeekRequest,
			"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 403 No\r\nContent-Length: 0\r\n\r\n"},
		{"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 101 OK\r\n\r\n"},
		{"\x16\x03\x01\x00\x10", "SSH-2.0-x\r\n"},
		{"GET / HTTP/1.1\r\nSec-WebSocket-Extensions: a;b=\"c\", d\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 101 x\r\nSec-WebSocket-Extensions: d;e\r\n\r\n"},
	}
	for i, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]), int64(i), uint8(i))
	}
	f.Fuzz(func(t *testing.T, c, s []byte, seed int64, order uint8) {
		if len(c)+len(s) > 1<<14 {
			return
		}
		cfg := DefaultConfig()
		cfg.MaxHeaderBlock = 256
		var segs []seg
		switch order % 3 {
		case 0:
			segs = []seg{{0, string(c)}, {1, string(s)}}
		case 1:
			segs = []seg{{1, string(s)}, {0, string(c)}}
		default:
			h := len(c) / 2
			segs = []seg{{0, string(c[:h])}, {1, string(s)}, {0, string(c[h:])}}
		}
		a := play(&cfg, segs, whole)
		checkDriver(t, a, [2]int{len(c), len(s)}, cfg.MaxHeaderBlock)
		b := play(&cfg, segs, randomSplit(rand.New(rand.NewSource(seed))))
		checkDriver(t, b, [2]int{len(c), len(s)}, cfg.MaxHeaderBlock)
		// When both sides break the rules, which one ends the phase first
		// depends on where the caller can offer waiting bytes again; the
		// phase must give up either way.
		if a.p.notHTTP() != b.p.notHTTP() {
			t.Fatalf("notHTTP: whole %v split %v\nwhole %s\nsplit %s", a.p.notHTTP(), b.p.notHTTP(), a.summary(), b.summary())
		}
		if !a.p.notHTTP() && a.sideSummary() != b.sideSummary() {
			t.Fatalf("whole and split differ:\nwhole %s\nsplit %s", a.sideSummary(), b.sideSummary())
		}
	})
}

func checkDriver(t *testing.T, d *phaseDriver, total [2]int, maxHead int) {
	t.Helper()
	for s := 0; s < 2; s++ {
		if got := d.consumed[s] + len(d.frames[s]) + len(d.pend[s]) + d.dropped[s]; got != total[s] {
			t.Fatalf("side %d: %d bytes accounted for; %d fed", s, got, total[s])
		}
		if cap(d.p.side[s].buf) > 2*maxHead+512 {
			t.Fatalf("side %d: header buffer capacity %d over cap %d", s, cap(d.p.side[s].buf), maxHead)
		}
		if len(d.frames[s]) > 0 && !d.p.upgraded(s) {
			t.Fatalf("side %d: frames handed over without an upgrade", s)
		}
	}
	if d.p.upgraded(0) != d.p.upgraded(1) {
		t.Fatalf("one side upgraded alone")
	}
	for _, h := range d.hs {
		if h.Upgraded && h.Response == nil {
			t.Fatalf("upgraded handshake without response")
		}
	}
}
