package capture_test

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/internal/pcaptest"
)

func ep(ip string, port uint16) pcaptest.Endpoint {
	return pcaptest.Endpoint{IP: netip.MustParseAddr(ip), Port: port}
}

// readAll reads a source to its end and returns copies of the packets.
func readAll(t *testing.T, s capture.Source) ([]capture.Packet, error) {
	t.Helper()
	var ps []capture.Packet
	for {
		p, err := s.Next()
		if err == io.EOF {
			return ps, nil
		}
		if err != nil {
			return ps, err
		}
		p.Data = append([]byte(nil), p.Data...)
		ps = append(ps, p)
	}
}

func TestSharedCaptures(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "pcaps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared captures not present at %s", dir)
	}
	// Packet counts as capinfos reports them (shared/pcaps/README.md).
	want := map[string]int{
		"zeek/jupyter-websocket.pcap": 20, "zeek/broker-websocket.pcap": 22, "zeek/wstunnel-http.pcap": 13,
		"zeek/wstunnel-https.pcap": 124, "zeek/wstunnel-ssh.pcap": 258, "zeek/message-too-big-status.pcap": 14,
		"zeek/two-binary-fragments.pcap": 18, "zeek/fragmented-http-reply.pcap": 18, "zeek/reply-ping-separate.pcap": 18,
		"zeek/reply-ping-coalesced.pcap": 16, "zeek/wrong-accept-header.pcap": 12, "zeek/oversized-close-frame.pcapng": 8,
		"zeek/http-websocket.pcap": 27, "suricata-verify/websocket/basic_websockets.pcap": 21,
		"suricata-verify/websocket-ping/input.pcap": 19, "suricata-verify/websocket-compressed/example_websocket.pcap": 27,
		"suricata-verify/websocket-control-frag/input.pcap": 15, "suricata-verify/http-request-header-multi/input.pcap": 5,
		"wireshark/websocket.pcapng.gz": 18, "wireshark/websocket-fragmented.pcapng.gz": 22,
		"wireshark/websocket-compressed.pcapng.gz": 14, "wireshark/websocket-compressed-fragmented.pcapng.gz": 22,
		"wireshark/websocket-compressed-server-only.pcap": 32, "arkime/websocket.pcap": 19, "pcap2har/websocket.pcap": 19,
		"pcap2har/ipv4-websocket-segmented.pcap": 23, "ndn-tools/ipv6-websocket-segmented.pcap": 13,
	}
	// A server port of each, to check that decoding reaches TCP.
	ports := map[string]layers.TCPPort{
		"zeek/jupyter-websocket.pcap": 51185, "suricata-verify/websocket-ping/input.pcap": 10301,
		"wireshark/websocket.pcapng.gz": 8080, "ndn-tools/ipv6-websocket-segmented.pcap": 9696,
		"zeek/oversized-close-frame.pcapng": 80,
	}
	for name, n := range want {
		t.Run(name, func(t *testing.T) {
			s, err := capture.OpenFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			d := capture.NewDecoder()
			got, seen := 0, false
			for {
				p, err := s.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d packets: %v", got, err)
				}
				got++
				if seg, ok := d.Decode(p); ok && (seg.TCP.SrcPort == ports[name] || seg.TCP.DstPort == ports[name]) {
					seen = true
				}
			}
			if got != n {
				t.Errorf("read %d packets; capinfos says %d", got, n)
			}
			// Every packet of these captures is TCP (tshark -Y tcp agrees).
			if st := d.Stats(); st.Decoded != uint64(n) || len(st.Skipped) != 0 {
				t.Errorf("stats %+v; want all %d decoded", st, n)
			}
			if p, ok := ports[name]; ok && !seen {
				t.Errorf("no segment with port %d", p)
			}
		})
	}
}

// decodeAll decodes every packet of a capture file's bytes.
func decodeAll(t *testing.T, data []byte) ([]string, capture.DecodeStats) {
	t.Helper()
	s, err := capture.OpenReader(bytes.NewReader(data), "test")
	if err != nil {
		t.Fatal(err)
	}
	d := capture.NewDecoder()
	var segs []string
	for {
		p, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seg, ok := d.Decode(p); ok {
			segs = append(segs, fmt.Sprintf("%v:%d->%d seq=%d len=%d", seg.NetFlow, seg.TCP.SrcPort, seg.TCP.DstPort, seg.TCP.Seq, len(seg.TCP.Payload)))
		}
	}
	return segs, d.Stats()
}

func wantSegs(c *pcaptest.Capture) []string {
	var w []string
	for _, p := range c.Packets {
		w = append(w, fmt.Sprintf("%v->%v:%d->%d seq=%d len=%d", p.Src.IP, p.Dst.IP, p.Src.Port, p.Dst.Port, p.Seq, len(p.Payload)))
	}
	return w
}

func TestLinkTypesDecodeToTCP(t *testing.T) {
	type tc struct {
		name string
		link pcaptest.LinkType
		v6   bool
		vlan []uint16
		af6  uint32
		ng   bool
	}
	var cases []tc
	for _, l := range []pcaptest.LinkType{pcaptest.LinkEthernet, pcaptest.LinkLinuxSLL, pcaptest.LinkLinuxSLL2,
		pcaptest.LinkRaw, pcaptest.LinkIPv4, pcaptest.LinkIPv6, pcaptest.LinkNull, pcaptest.LinkLoop} {
		for _, v6 := range []bool{false, true} {
			if (l == pcaptest.LinkIPv4 && v6) || (l == pcaptest.LinkIPv6 && !v6) {
				continue
			}
			cases = append(cases, tc{name: fmt.Sprintf("%d-v6=%v", l, v6), link: l, v6: v6, ng: v6})
		}
	}
	cases = append(cases,
		tc{name: "vlan", link: pcaptest.LinkEthernet, vlan: []uint16{5}},
		tc{name: "qinq-v6", link: pcaptest.LinkEthernet, v6: true, vlan: []uint16{5, 6}},
		tc{name: "triple-tag", link: pcaptest.LinkEthernet, vlan: []uint16{5, 6, 7}},
		tc{name: "null-af24", link: pcaptest.LinkNull, v6: true, af6: 24},
		tc{name: "null-af28", link: pcaptest.LinkNull, v6: true, af6: 28},
		tc{name: "loop-af24", link: pcaptest.LinkLoop, v6: true, af6: 24},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, sv := ep("192.0.2.1", 40001), ep("192.0.2.2", 8080)
			if c.v6 {
				cl, sv = ep("2001:db8::1", 40001), ep("2001:db8::2", 8080)
			}
			k := pcaptest.NewConn(cl, sv)
			cp := k.Capture()
			cp.VLANs = c.vlan
			if c.af6 != 0 {
				cp.LoopbackAF6 = c.af6
			}
			pcaptest.WriteDemo(k)
			var b bytes.Buffer
			var err error
			if c.ng {
				err = cp.WritePcapng(&b, c.link)
			} else {
				err = cp.WritePcap(&b, c.link, false)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, st := decodeAll(t, b.Bytes())
			want := wantSegs(cp)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("segments:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if st.Packets != uint64(len(want)) || st.Decoded != st.Packets || st.Truncated != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestGeneratedTestdata(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pcaps")
	wantPorts := map[string][2]layers.TCPPort{
		"ws-ethernet-ipv4.pcap": {50000, 80}, "ws-sll2-ipv6.pcapng": {50001, 8080},
		"ws-qinq-ipv4-nsec-be.pcap": {50000, 80}, "ws-raw-ipv4.pcap.gz": {50000, 80},
		"ws-null-ipv6.pcap": {50002, 9000}, "ws-mixed-ethernet-sll.pcapng": {50000, 80},
	}
	for name, pp := range wantPorts {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		segs, st := decodeAll(t, data)
		n := 22
		if strings.Contains(name, "mixed") {
			n = 44
		}
		if len(segs) != n || st.Decoded != uint64(n) {
			t.Errorf("%s: %d segments, stats %+v; want %d", name, len(segs), st, n)
			continue
		}
		if want := fmt.Sprintf(":%d->%d seq=", pp[0], pp[1]); !strings.Contains(segs[0], want) {
			t.Errorf("%s: first segment %q; want ports %s", name, segs[0], want)
		}
	}
}
