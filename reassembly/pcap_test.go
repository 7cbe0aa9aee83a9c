package reassembly

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pcapsDir is the folder of captures shared by the project, next to the
// repository.
var pcapsDir = filepath.Join("..", "..", "shared", "pcaps")

// readCapture feeds every TCP segment of a capture to fn. editcap first
// rewrites it as a plain pcap file (it reads pcapng and gzip), which a few
// lines here can read.
func readCapture(t *testing.T, path string, fn func(gopacket.Flow, *layers.TCP, time.Time)) {
	tmp := filepath.Join(t.TempDir(), "c.pcap")
	if out, err := exec.Command("editcap", "-F", "pcap", path, tmp).CombinedOutput(); err != nil {
		t.Fatalf("editcap -F pcap %s: %v\n%s", path, err, out)
	}
	raw, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 24 {
		t.Fatalf("%s: short pcap", tmp)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	nano := false
	switch binary.LittleEndian.Uint32(raw) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		nano = true
	default:
		bo = binary.BigEndian
		nano = binary.BigEndian.Uint32(raw) == 0xa1b23c4d
	}
	link := layers.LinkType(bo.Uint32(raw[20:]))
	for rest := raw[24:]; len(rest) >= 16; {
		sec, frac, incl := bo.Uint32(rest), bo.Uint32(rest[4:]), bo.Uint32(rest[8:])
		if int(incl) > len(rest)-16 {
			t.Fatalf("%s: truncated record", tmp)
		}
		data := rest[16 : 16+incl]
		rest = rest[16+incl:]
		ts := time.Unix(int64(sec), int64(frac)*1000)
		if nano {
			ts = time.Unix(int64(sec), int64(frac))
		}
		p := gopacket.NewPacket(data, link, gopacket.Default)
		nl, tl := p.NetworkLayer(), p.Layer(layers.LayerTypeTCP)
		if nl == nil || tl == nil {
			continue
		}
		fn(nl.NetworkFlow(), tl.(*layers.TCP), ts)
	}
}

type streamBytes struct {
	c    *Conn
	data [2][]byte
	gaps int
}

func (s *streamBytes) Data(side Side, d []byte, _ time.Time) {
	s.data[side] = append(s.data[side], d...)
}
func (s *streamBytes) Gap(Side, uint64, time.Time) { s.gaps++ }
func (s *streamBytes) End(time.Time)               {}

// tsharkFollow returns, for streams 0..n-1 of the capture, the bytes of each
// node as tshark's "follow,tcp,raw" prints them, keyed by "node0 node1".
func tsharkFollow(t *testing.T, path string, n int) map[string][2][]byte {
	args := []string{"-n", "-r", path, "-q"}
	for i := 0; i < n; i++ {
		args = append(args, "-z", fmt.Sprintf("follow,tcp,raw,%d", i))
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	res := map[string][2][]byte{}
	var nodes [2]string
	var data [2][]byte
	flush := func() {
		if nodes[0] != "" {
			res[nodes[0]+" "+nodes[1]] = data
		}
		nodes, data = [2]string{}, [2][]byte{}
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "====="):
			flush()
		case strings.HasPrefix(line, "Node 0: "):
			nodes[0] = strings.TrimPrefix(line, "Node 0: ")
		case strings.HasPrefix(line, "Node 1: "):
			nodes[1] = strings.TrimPrefix(line, "Node 1: ")
		case strings.HasPrefix(line, "Follow:"), strings.HasPrefix(line, "Filter:"), line == "":
		default:
			node := 0
			if strings.HasPrefix(line, "\t") {
				node = 1
			}
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("tshark output line %q: %v", line, err)
			}
			data[node] = append(data[node], b...)
		}
	}
	flush()
	return res
}

// oracleCaptures are compared with tshark by default (tshark takes a second
// or more per file); WSDUMP_TSHARK_ALL=1 compares every capture, -short
// none.
var oracleCaptures = map[string]bool{
	"arkime/websocket.pcap":                     true, // keep-alives
	"ndn-tools/ipv6-websocket-segmented.pcap":   true, // IPv6
	"pcap2har/ipv4-websocket-segmented.pcap":    true, // two connections
	"suricata-verify/websocket-ping/input.pcap": true, // Linux cooked capture
}

// TestCaptures reassembles every shared capture: none has a hole, and for
// the captures of oracleCaptures the bytes of each direction of each
// connection equal what tshark's "follow,tcp,raw" prints.
func TestCaptures(t *testing.T) {
	if _, err := os.Stat(pcapsDir); err != nil {
		t.Skipf("shared captures not found at %s", pcapsDir)
	}
	for _, tool := range []string{"editcap", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	var files []string
	filepath.Walk(pcapsDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		for _, ext := range []string{".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"} {
			if strings.HasSuffix(p, ext) {
				files = append(files, p)
				break
			}
		}
		return nil
	})
	if len(files) == 0 {
		t.Skipf("no captures in %s", pcapsDir)
	}
	all := os.Getenv("WSDUMP_TSHARK_ALL") == "1"
	for _, path := range files {
		path := path
		rel, _ := filepath.Rel(pcapsDir, path)
		rel = filepath.ToSlash(rel)
		oracle := all || oracleCaptures[rel]
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			checkCapture(t, path, oracle)
		})
	}
}

func checkCapture(t *testing.T, path string, oracle bool) {
	var streams []*streamBytes
	r := New(Config{}, func(c *Conn) Handler {
		s := &streamBytes{c: c}
		streams = append(streams, s)
		return s
	})
	readCapture(t, path, r.Add)
	r.Close()
	st := r.Stats()
	t.Logf("%d conns, %d bytes delivered, %d gaps, %d keep-alives, %d retransmitted",
		st.Conns, st.Delivered, st.Gaps, st.KeepAlives, st.Retransmitted)
	if st.Gaps != 0 || st.Conns == 0 || st.Delivered == 0 {
		t.Errorf("stats %+v", st)
	}
	if !oracle || testing.Short() {
		return
	}
	want := tsharkFollow(t, path, len(streams))
	compared := 0
	for _, s := range streams {
		key, swap := s.c.A.String()+" "+s.c.B.String(), false
		w, ok := want[key]
		if !ok {
			key, swap = s.c.B.String()+" "+s.c.A.String(), true
			w, ok = want[key]
		}
		if !ok {
			if len(s.data[0])+len(s.data[1]) > 0 {
				t.Errorf("conn %d %v-%v: not followed by tshark", s.c.ID, s.c.A, s.c.B)
			}
			continue
		}
		if swap {
			w[0], w[1] = w[1], w[0]
		}
		for side := SideA; side <= SideB; side++ {
			if !bytes.Equal(s.data[side], w[side]) {
				t.Errorf("conn %d %v side %v: %d bytes, tshark %d; first difference at %d",
					s.c.ID, key, side, len(s.data[side]), len(w[side]), firstDiff(s.data[side], w[side]))
			}
		}
		compared++
	}
	if compared == 0 {
		t.Errorf("no connection compared")
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) < len(b) {
		return len(a)
	}
	return len(b)
}
