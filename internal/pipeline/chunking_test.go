package pipeline

import (
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
	"github.com/wsdump/wsdump/reassembly"
)

// streamCall is one call a reassembler made to a handler.
type streamCall struct {
	kind byte // 'd' data, 'g' gap
	side int
	data []byte
	gap  uint64
	t    time.Time
}

type recordedConn struct {
	conn  *reassembly.Conn
	calls []streamCall
	endT  time.Time
}

type callRecorder struct{ conns []*recordedConn }

func (r *callRecorder) factory(c *reassembly.Conn) reassembly.Handler {
	rc := &recordedConn{conn: c}
	r.conns = append(r.conns, rc)
	return rc
}

func (c *recordedConn) Data(s reassembly.Side, b []byte, t time.Time) {
	c.calls = append(c.calls, streamCall{kind: 'd', side: int(s), data: slices.Clone(b), t: t})
}
func (c *recordedConn) Gap(s reassembly.Side, n uint64, t time.Time) {
	c.calls = append(c.calls, streamCall{kind: 'g', side: int(s), gap: n, t: t})
}
func (c *recordedConn) End(t time.Time) { c.endT = t }

// recordStreams reassembles a capture and keeps every handler call.
func recordStreams(t *testing.T, path string) []*recordedConn {
	t.Helper()
	rec := &callRecorder{}
	reassembleWith(t, path, rec.factory)
	return rec.conns
}

// replay feeds recorded calls to a fresh conversation, cutting every Data
// call into pieces chosen by split, and returns the event log.
func replay(rc *recordedConn, split func(n int) []int) []string {
	cfg := dissect.DefaultConfig()
	cfg.MaxPayload = 100 // small, so that the cap is exercised too
	sink := newRecSink()
	ref := &dissect.ConvRef{ID: rc.conn.ID, Client: rc.conn.A.String(), Server: rc.conn.B.String()}
	c := dissect.NewConversation(&cfg, ref, sink, dissect.ConvOptions{RolesKnown: rc.conn.RolesFromSYN})
	for _, call := range rc.calls {
		if call.kind == 'g' {
			c.Gap(call.side, call.gap, call.t)
			continue
		}
		off := 0
		for _, n := range split(len(call.data)) {
			c.Feed(call.side, call.data[off:off+n], call.t)
			off += n
		}
	}
	sum := c.End(dissect.EndFIN, rc.endT)
	sink.End(ref, sum)
	var log []string
	for _, conv := range sink.convs {
		log = append(log, conv.log...)
	}
	return log
}

func whole(n int) []int { return []int{n} }

func bytewise(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func randomSplits(rng *rand.Rand) func(int) []int {
	return func(n int) []int {
		var out []int
		for n > 0 {
			k := 1 + rng.Intn(min(n, 1+rng.Intn(64)))
			if rng.Intn(8) == 0 {
				k = n
			}
			out = append(out, k)
			n -= k
		}
		return out
	}
}

// TestChunkingInvariance feeds the reassembled streams of every capture
// (shared corpus and testdata) to the dissector whole, one byte at a time
// and in random splits: the events must be identical.
func TestChunkingInvariance(t *testing.T) {
	files := testutil.SharedCaptures(t)
	own, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	files = append(files, own...)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			conns := recordStreams(t, path)
			rng := rand.New(rand.NewSource(int64(len(path))))
			for _, rc := range conns {
				want := replay(rc, whole)
				if len(want) == 0 {
					t.Fatalf("conversation %d: no events at all", rc.conn.ID)
				}
				for name, split := range map[string]func(int) []int{
					"bytewise": bytewise,
					"random1":  randomSplits(rng),
					"random2":  randomSplits(rng),
				} {
					got := replay(rc, split)
					if !slices.Equal(got, want) {
						t.Errorf("conversation %d fed %s:\n%s\nfed whole:\n%s", rc.conn.ID, name, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				}
			}
		})
	}
}
