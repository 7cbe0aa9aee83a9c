package dissect

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand"
	"testing"
)

// collectSink keeps all inflated output.
type collectSink struct {
	out  []byte
	stop int // stop after this many bytes; 0: never
}

func (c *collectSink) inflated(p []byte) bool {
	c.out = append(c.out, p...)
	return c.stop == 0 || len(c.out) < c.stop
}

// streamInflate decodes units with one stream (the window kept across
// them when keep is set), each fed in random pieces followed by the sync
// flush tail, and returns each unit's output, error and whether it ended
// at a block boundary.
func streamInflate(rng *rand.Rand, units [][]byte, keep bool, window int) (outs [][]byte, errs []error, bounds []bool) {
	s := getInflateStream(window)
	defer putInflateStream(s)
	for i, u := range units {
		s.beginUnit(keep && i > 0)
		sink := &collectSink{}
		for len(u) > 0 {
			k := 1 + rng.Intn(len(u))
			if rng.Intn(4) == 0 {
				k = min(len(u), 1+rng.Intn(3))
			}
			s.feed(u[:k], sink)
			u = u[k:]
		}
		s.feed([]byte{0, 0, 0xff, 0xff}, sink)
		s.flush(sink)
		outs = append(outs, sink.out)
		errs = append(errs, s.err)
		bounds = append(bounds, s.atBoundary())
	}
	return
}

// refInflate is the standard library's reading of one unit after history.
func refInflate(hist, unit []byte) ([]byte, error) {
	in := append(append([]byte{}, unit...), 0, 0, 0xff, 0xff, 0x03, 0x00)
	r := flate.NewReaderDict(bytes.NewReader(in), hist)
	return io.ReadAll(r)
}

// TestInflateStreamMatchesFlate: messages compressed by compress/flate at
// every level, with and without context takeover, fed in random pieces,
// come out as they went in.
func TestInflateStreamMatchesFlate(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 6, flate.BestCompression} {
		for _, keep := range []bool{false, true} {
			var sent, units [][]byte
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, level)
			for i := 0; i < 60; i++ {
				var m []byte
				switch rng.Intn(4) {
				case 0:
					m = make([]byte, rng.Intn(3000))
					rng.Read(m)
				case 1:
					m = randomText(rng, rng.Intn(100000))
				case 2:
					m = bytes.Repeat([]byte{byte(rng.Intn(3))}, rng.Intn(70000))
				default:
					m = randomText(rng, rng.Intn(300))
				}
				buf.Reset()
				if !keep {
					w.Reset(&buf)
				}
				w.Write(m)
				w.Flush()
				c := bytes.Clone(buf.Bytes())
				units = append(units, c[:len(c)-4])
				sent = append(sent, m)
			}
			outs, errs, bounds := streamInflate(rng, units, keep, inflateWindow)
			for i := range sent {
				if errs[i] != nil || !bounds[i] || !bytes.Equal(outs[i], sent[i]) {
					t.Fatalf("level %d keep %v message %d: err %v, boundary %v, %d bytes out of %d, equal %v",
						level, keep, i, errs[i], bounds[i], len(outs[i]), len(sent[i]), bytes.Equal(outs[i], sent[i]))
				}
			}
		}
	}
}

// TestInflateStreamErrors: broken input gives an error, the output before
// it, and no panic.
func TestInflateStreamErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"reserved block type", []byte{0xff, 0xff, 0xff}},
		{"stored length complement", []byte{0x00, 0x05, 0x00, 0x00, 0x00}},
		{"distance before the data", []byte{0x63, 0x00, 0x42, 0x00}},
		{"over-subscribed lengths", []byte{0x04, 0xc0, 0xff, 0xff, 0xff}},
	} {
		outs, errs, _ := streamInflate(rng, [][]byte{tc.in}, false, inflateWindow)
		ref, rerr := refInflate(nil, tc.in)
		if errs[0] == nil || rerr == nil {
			t.Errorf("%s: error %v, compress/flate's %v", tc.name, errs[0], rerr)
		}
		if !bytes.Equal(outs[0], ref) {
			t.Errorf("%s: output %q, compress/flate's %q", tc.name, outs[0], ref)
		}
	}
}

// TestInflateStreamWindow: a back-reference within what was output but
// beyond the negotiated window is an error.
func TestInflateStreamWindow(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, 6)
	m := append(randomText(rand.New(rand.NewSource(3)), 2000), []byte("the same words again")...)
	m = append(m, m[:100]...) // 2020 bytes back
	w.Write(m)
	w.Flush()
	unit := buf.Bytes()[:buf.Len()-4]
	rng := rand.New(rand.NewSource(4))
	if _, errs, _ := streamInflate(rng, [][]byte{unit}, false, inflateWindow); errs[0] != nil {
		t.Fatalf("32 KiB window: %v", errs[0])
	}
	_, errs, _ := streamInflate(rng, [][]byte{unit}, false, 512)
	if errs[0] == nil || !bytes.Contains([]byte(errs[0].Error()), []byte("beyond the window of 512 bytes")) {
		t.Fatalf("512-byte window: %v", errs[0])
	}
}

// FuzzInflateStream compares the decoder with compress/flate on any
// input, after history or not: the same output and the same verdict.
func FuzzInflateStream(f *testing.F) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, 6)
	w.Write([]byte("hello hello hello, world"))
	w.Flush()
	f.Add([]byte("hello"), bytes.Clone(buf.Bytes()[:buf.Len()-4]), int64(1))
	f.Add([]byte{}, []byte{0xff, 0xff}, int64(2))
	f.Add([]byte("abc"), []byte{0x4a, 0x04, 0x02, 0x00}, int64(3))
	f.Fuzz(func(t *testing.T, hist, unit []byte, seed int64) {
		if len(hist) > inflateWindow {
			hist = hist[len(hist)-inflateWindow:]
		}
		ref, rerr := refInflate(hist, unit)
		rng := rand.New(rand.NewSource(seed))
		s := getInflateStream(inflateWindow)
		defer putInflateStream(s)
		// The history as the output of an earlier stored block.
		pre := &collectSink{}
		if len(hist) > 0 {
			st := []byte{0x00, byte(len(hist)), byte(len(hist) >> 8), ^byte(len(hist)), ^byte(len(hist) >> 8)}
			s.feed(append(st, hist...), pre)
			s.feed([]byte{0, 0, 0xff, 0xff}, pre)
			s.flush(pre)
			if s.err != nil || !bytes.Equal(pre.out, hist) {
				t.Fatalf("history: %v", s.err)
			}
			s.beginUnit(true)
		}
		sink := &collectSink{}
		u := unit
		for len(u) > 0 {
			k := 1 + rng.Intn(len(u))
			s.feed(u[:k], sink)
			u = u[k:]
		}
		// The same tail as refInflate's: the sync flush, then an empty
		// final block, which must end the data.
		s.feed([]byte{0, 0, 0xff, 0xff, 0x03, 0x00}, sink)
		s.flush(sink)
		ok := s.err == nil && s.state == stFinal
		if ok != (rerr == nil) {
			t.Fatalf("verdict: ours %v (%v, state %d), compress/flate's %v", ok, s.err, s.state, rerr)
		}
		if ok && !bytes.Equal(sink.out, ref) {
			t.Fatalf("output differs: %d bytes, compress/flate %d", len(sink.out), len(ref))
		}
	})
}
