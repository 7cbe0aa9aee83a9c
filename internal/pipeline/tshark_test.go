package pipeline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/internal/testutil"
	"github.com/wsdump/wsdump/reassembly"
)

// streamBytes is what one TCP conversation carried, per endpoint.
type streamBytes struct {
	a, b     string // endpoints, a being the first one tshark names
	fromA    []byte
	fromB    []byte
	gapBytes [2]uint64
}

// recorder keeps every reassembled byte of every connection.
type recorder struct {
	conns []*recConn
}

type recConn struct {
	c    *reassembly.Conn
	data [2][]byte
	gaps [2]uint64
	end  int
}

func (r *recorder) factory(c *reassembly.Conn) reassembly.Handler {
	rc := &recConn{c: c}
	r.conns = append(r.conns, rc)
	return rc
}

func (c *recConn) Data(s reassembly.Side, b []byte, _ time.Time) {
	c.data[s] = append(c.data[s], b...)
}
func (c *recConn) Gap(s reassembly.Side, n uint64, _ time.Time) { c.gaps[s] += n }
func (c *recConn) End(time.Time)                                { c.end++ }

// reassembleWith runs a capture through capture and reassembly only.
func reassembleWith(t *testing.T, path string, f reassembly.Factory) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	dec := capture.NewDecoder()
	r := reassembly.New(reassembly.Config{}, f)
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if seg, ok := dec.Decode(p); ok {
			r.Add(seg.NetFlow, seg.TCP, seg.Timestamp)
		}
	}
	r.Close()
}

// reassembleFile keeps every byte of every connection of a capture.
func reassembleFile(t *testing.T, path string) *recorder {
	t.Helper()
	rec := &recorder{}
	reassembleWith(t, path, rec.factory)
	for _, c := range rec.conns {
		if c.end != 1 {
			t.Errorf("%s: conversation %d ended %d times; want 1", path, c.c.ID, c.end)
		}
	}
	return rec
}

// tsharkStreams asks tshark for every TCP stream's payload bytes, per
// direction, with "follow,tcp,raw".
func tsharkStreams(t *testing.T, path string) []streamBytes {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "tcp.stream").Output()
	if err != nil {
		t.Fatalf("tshark on %s: %v", path, err)
	}
	ids := map[int]bool{}
	for _, l := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(l)
		if err == nil {
			ids[n] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	args := []string{"-n", "-r", path, "-q"}
	keys := make([]int, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Ints(keys)
	for _, id := range keys {
		args = append(args, "-z", fmt.Sprintf("follow,tcp,raw,%d", id))
	}
	out, err = exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark follow on %s: %v", path, err)
	}
	var streams []streamBytes
	var cur *streamBytes
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Follow: "):
			streams = append(streams, streamBytes{})
			cur = &streams[len(streams)-1]
		case cur == nil || line == "" || strings.HasPrefix(line, "====") || strings.HasPrefix(line, "Filter: "):
		case strings.HasPrefix(line, "Node 0: "):
			cur.a = strings.TrimPrefix(line, "Node 0: ")
		case strings.HasPrefix(line, "Node 1: "):
			cur.b = strings.TrimPrefix(line, "Node 1: ")
		case strings.HasPrefix(line, "\t"):
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("tshark follow line %q: %v", line, err)
			}
			cur.fromB = append(cur.fromB, b...)
		default:
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("tshark follow line %q: %v", line, err)
			}
			cur.fromA = append(cur.fromA, b...)
		}
	}
	return streams
}

// normAddr turns tshark's "[::1]:80" or "1.2.3.4:80" into netip's form.
func normAddr(s string) string { return strings.TrimSpace(s) }

// TestReassemblyMatchesTshark checks, for every capture of the shared corpus,
// that the conversations and the bytes reassembled per direction equal what
// tshark's "follow,tcp,raw" reports.
func TestReassemblyMatchesTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed: the comparison with tshark's TCP reassembly needs it (apt-get install tshark)")
	}
	files := testutil.SharedCaptures(t)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := tsharkStreams(t, path)
			rec := reassembleFile(t, path)
			if len(rec.conns) != len(want) {
				t.Fatalf("%d conversations; tshark has %d", len(rec.conns), len(want))
			}
			byPair := map[string]*recConn{}
			for _, c := range rec.conns {
				byPair[c.c.A.String()+" "+c.c.B.String()] = c
				byPair[c.c.B.String()+" "+c.c.A.String()] = c
			}
			for _, w := range want {
				c := byPair[normAddr(w.a)+" "+normAddr(w.b)]
				if c == nil {
					t.Errorf("no conversation %s <-> %s", w.a, w.b)
					continue
				}
				gotA, gotB := c.data[0], c.data[1]
				if c.c.A.String() != normAddr(w.a) {
					gotA, gotB = gotB, gotA
				}
				if !bytes.Equal(gotA, w.fromA) {
					t.Errorf("%s -> %s: %d bytes, tshark %d; first difference at %d", w.a, w.b, len(gotA), len(w.fromA), firstDiff(gotA, w.fromA))
				}
				if !bytes.Equal(gotB, w.fromB) {
					t.Errorf("%s -> %s: %d bytes, tshark %d; first difference at %d", w.b, w.a, len(gotB), len(w.fromB), firstDiff(gotB, w.fromB))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

var _ = os.Stat
