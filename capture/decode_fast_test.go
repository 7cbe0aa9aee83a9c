package capture

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket/layers"
)

// segmentView is what later stages read of a decoded segment.
type segmentView struct {
	ok                 bool
	net, transport     string
	sport, dport       layers.TCPPort
	seq, ack           uint32
	syn, ackF, fin     bool
	rst, psh           bool
	window, dataOffset uint16
	payload            []byte
	truncated          bool
	ipShort            bool
}

func viewOf(d *Decoder, seg *Segment, ok bool) segmentView {
	if !ok {
		return segmentView{}
	}
	t := seg.TCP
	return segmentView{
		ok: true, net: seg.NetFlow.String(), transport: t.TransportFlow().String(),
		sport: t.SrcPort, dport: t.DstPort, seq: t.Seq, ack: t.Ack,
		syn: t.SYN, ackF: t.ACK, fin: t.FIN, rst: t.RST, psh: t.PSH,
		window: t.Window, dataOffset: uint16(t.DataOffset),
		payload: bytes.Clone(t.Payload), truncated: seg.Truncated, ipShort: d.ipShort(),
	}
}

// TestFastPathMatchesParser decodes every packet of the shared captures
// and of generated ones with Decode (which takes the fast path where it
// applies) and with the layer parser alone: the segments must be the same,
// and the fast path must have been taken.
func TestFastPathMatchesParser(t *testing.T) {
	var files []string
	shared := filepath.Join("..", "..", "shared", "pcaps")
	if _, err := os.Stat(shared); err == nil {
		filepath.Walk(shared, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && (filepath.Ext(p) == ".pcap" || filepath.Ext(p) == ".pcapng" || filepath.Ext(p) == ".gz") {
				files = append(files, p)
			}
			return nil
		})
	} else {
		t.Logf("shared captures not present at %s: generated ones only", shared)
	}
	local, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap*"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*", "*.pcap*"))
	local = append(local, more...)
	files = append(files, local...)
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	fast := 0
	for _, name := range files {
		s, err := OpenFile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d1, d2 := NewDecoder(), NewDecoder()
		for i := 0; ; i++ {
			p, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				break // a damaged capture: what came before is compared
			}
			if p.LinkType == LinkTypeEthernet && d1.fastTCP(p) {
				fast++
				d1.packets++
				got := viewOf(d1, &d1.seg, true)
				seg, ok := d2.decodeLayers(p)
				want := viewOf(d2, seg, ok)
				if got.net != want.net || got.transport != want.transport || !bytes.Equal(got.payload, want.payload) ||
					got.ok != want.ok || got.sport != want.sport || got.dport != want.dport || got.seq != want.seq ||
					got.ack != want.ack || got.syn != want.syn || got.ackF != want.ackF || got.fin != want.fin ||
					got.rst != want.rst || got.psh != want.psh || got.window != want.window ||
					got.dataOffset != want.dataOffset || got.truncated != want.truncated || got.ipShort != want.ipShort {
					t.Fatalf("%s packet %d: fast path %+v\nparser %+v", name, i, got, want)
				}
			}
		}
		s.Close()
	}
	if fast == 0 {
		t.Fatal("the fast path was never taken")
	}
	t.Logf("%d captures, %d packets through the fast path", len(files), fast)
}
