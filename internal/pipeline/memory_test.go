package pipeline

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

// heapSink samples the live heap (after a collection) when given
// conversations end.
type heapSink struct {
	discardSink
	ends   int
	at     map[int]bool
	sample map[int]uint64
}

func (s *heapSink) End(*dissect.ConvRef, *dissect.Summary) {
	s.ends++
	if s.at[s.ends] {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.sample[s.ends] = m.HeapAlloc
	}
}

// TestMemoryFlatOverConnections: the memory of a run does not grow with
// the number of connections that have ended. A capture of over 1 300 short
// connections, 20 open at a time, a quarter of them compressed (whose
// inflaters hold a window each): the live heap after 1 200 ends is about
// what it is after 300.
func TestMemoryFlatOverConnections(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("the race detector changes the heap")
	}
	path := filepath.Join(t.TempDir(), "many.pcap")
	st := writeBulkFile(t, path, pcaptest.BulkOptions{Size: 32 << 20, Conns: 20, MessagesPerConn: 10, Deflate: 25, Seed: 9})
	if st.Conns < 1300 || st.DeflateConns < 300 {
		t.Fatalf("the capture has %d connections, %d compressed; the test wants more", st.Conns, st.DeflateConns)
	}
	for _, dissectors := range []int{0, 1} {
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sink := &heapSink{at: map[int]bool{300: true, 1200: true}, sample: map[int]uint64{}}
		cfg := Config{Dissect: dissect.DefaultConfig(), Dissectors: dissectors}
		if _, err := Run(context.Background(), src, cfg, sink); err != nil {
			t.Fatal(err)
		}
		src.Close()
		early, late := sink.sample[300], sink.sample[1200]
		t.Logf("%d dissectors: live heap %.1f MiB after 300 ends, %.1f MiB after 1200", dissectors, float64(early)/(1<<20), float64(late)/(1<<20))
		if late > early+8<<20 {
			t.Errorf("%d dissectors: the live heap grew from %d to %d bytes over 900 ended connections", dissectors, early, late)
		}
	}
}
