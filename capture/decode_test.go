package capture_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"reflect"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

// tcpHeader returns a 20-byte TCP header (ACK) and payload; checksums are
// not verified by the Decoder, so they stay zero.
func tcpHeader(sport, dport uint16, payload string) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	h[12] = 5 << 4
	h[13] = 0x10
	return append(h, payload...)
}

func ipv4(proto byte, flagsFrag uint16, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[6:], flagsFrag)
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	return append(h, payload...)
}

func ipv6(next byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	h[23], h[39] = 1, 2 // 2001:db8::1 -> ::2 style addresses, enough here
	return append(h, payload...)
}

func TestDecoderSkipReasons(t *testing.T) {
	tcp := tcpHeader(1111, 80, "hello")
	eth := func(etype uint16, p []byte) []byte {
		h := make([]byte, 14)
		binary.BigEndian.PutUint16(h[12:], etype)
		return append(h, p...)
	}
	// IPv6 with hop-by-hop, routing, destination options and an atomic
	// fragment header before TCP.
	ext := []byte{
		43, 0, 1, 4, 0, 0, 0, 0, // hop-by-hop -> routing, PadN
		60, 0, 0, 0, 0, 0, 0, 0, // routing -> destination options
		44, 0, 1, 4, 0, 0, 0, 0, // destination options -> fragment, PadN
		6, 0, 0, 0, 0, 0, 0, 9, // fragment -> TCP, offset 0, M=0 (atomic)
	}
	v6ext := ipv6(0, append(ext, tcp...))
	v6frag := ipv6(44, append([]byte{6, 0, 0, 1, 0, 0, 0, 9}, tcp...)) // M=1
	raw := capture.LinkTypeRaw
	tests := []struct {
		name   string
		link   capture.LinkType
		data   []byte
		caplen int // Length when the packet was cut; 0: not cut
		ok     bool
		trunc  bool
		reason string
	}{
		{name: "ipv4 tcp", link: raw, data: ipv4(6, 0, tcp), ok: true},
		{name: "ipv6 extension headers", link: raw, data: v6ext, ok: true},
		{name: "ipv6 extension headers in sll2", link: capture.LinkTypeLinuxSLL2,
			data: append([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0}, v6ext...), ok: true},
		{name: "udp", link: raw, data: ipv4(17, 0, make([]byte, 8)), reason: "not_tcp"},
		{name: "ipv4 more fragments", link: raw, data: ipv4(6, 0x2000, tcp), reason: "ip_fragment"},
		{name: "ipv4 later fragment", link: raw, data: ipv4(6, 0x0010, tcp), reason: "ip_fragment"},
		{name: "ipv6 fragment", link: raw, data: v6frag, reason: "ip_fragment"},
		{name: "arp", link: capture.LinkTypeEthernet, data: eth(0x0806, make([]byte, 28)), reason: "not_ip"},
		{name: "raw not ip", link: raw, data: []byte{0x10, 0, 0, 0}, reason: "not_ip"},
		{name: "loopback af 23", link: capture.LinkTypeNull, data: append([]byte{23, 0, 0, 0}, ipv4(6, 0, tcp)...), reason: "not_ip"},
		{name: "bad ihl", link: raw, data: append([]byte{0x43}, ipv4(6, 0, tcp)[1:]...), reason: "malformed"},
		{name: "ip length below tcp header", link: raw, data: ipv4(6, 0, tcp)[:30], reason: "malformed"},
		{name: "snaplen cuts payload", link: raw, data: ipv4(6, 0, tcp)[:42], caplen: 45, ok: true, trunc: true},
		{name: "snaplen cuts tcp header", link: raw, data: ipv4(6, 0, tcp)[:30], caplen: 45, reason: "truncated_header"},
		{name: "snaplen cuts ipv6 ext", link: raw, data: v6ext[:50], caplen: len(v6ext), reason: "truncated_header"},
		{name: "empty", link: capture.LinkTypeEthernet, data: nil, reason: "malformed"},
		{name: "802.11", link: capture.LinkTypeIEEE80211, data: []byte{1, 2, 3}, reason: "unsupported_link_type:ieee802_11"},
		{name: "sll bad address length", link: capture.LinkTypeLinuxSLL, data: []byte{0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0}, reason: "malformed"},
	}
	for _, tt := range tests {
		d := capture.NewDecoder()
		length := len(tt.data)
		if tt.caplen > 0 {
			length = tt.caplen
		}
		// The cases that fix the IP length to the cut packet keep it: a
		// packet whose IP length is below the TCP header is malformed.
		if tt.name == "ip length below tcp header" {
			binary.BigEndian.PutUint16(tt.data[2:], 30)
		}
		seg, ok := d.Decode(capture.Packet{Data: tt.data, CaptureLength: len(tt.data), Length: length, LinkType: tt.link})
		st := d.Stats()
		if ok != tt.ok {
			t.Errorf("%s: ok %v; want %v (stats %+v)", tt.name, ok, tt.ok, st)
			continue
		}
		if ok {
			if seg.TCP.SrcPort != 1111 || seg.TCP.DstPort != 80 || seg.Truncated != tt.trunc {
				t.Errorf("%s: ports %d->%d truncated %v", tt.name, seg.TCP.SrcPort, seg.TCP.DstPort, seg.Truncated)
			}
			wantPayload := "hello"
			if tt.trunc {
				wantPayload = "he"
			}
			if string(seg.TCP.Payload) != wantPayload {
				t.Errorf("%s: payload %q; want %q", tt.name, seg.TCP.Payload, wantPayload)
			}
			if tt.trunc && st.Truncated != 1 {
				t.Errorf("%s: Truncated count %d", tt.name, st.Truncated)
			}
			continue
		}
		if want := map[string]uint64{tt.reason: 1}; !reflect.DeepEqual(st.Skipped, want) || st.Packets != 1 {
			t.Errorf("%s: stats %+v; want skipped %v", tt.name, st, want)
		}
	}
}

func TestMixedLinkTypesWarnOnceAndCount(t *testing.T) {
	c := pcaptest.NewCapture()
	pcaptest.WriteDemo(pcaptest.NewConn(ep("192.0.2.1", 1), ep("192.0.2.2", 80), pcaptest.WithCapture(c)))
	pcaptest.WriteDemo(pcaptest.NewConn(ep("192.0.2.3", 2), ep("192.0.2.4", 80), pcaptest.WithCapture(c), pcaptest.WithInterface(1)))
	var b bytes.Buffer
	c.WritePcapngInterfaces(&b, []pcaptest.LinkType{pcaptest.LinkEthernet, pcaptest.LinkRaw})
	data := b.Bytes()
	// Relabel interface 1 (the second interface block, at 28+20) as 802.11.
	binary.LittleEndian.PutUint16(data[48+8:], 105)
	var warnings []string
	s, err := capture.OpenReaderWith(bytes.NewReader(data), "mixed", capture.Options{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	d := capture.NewDecoder()
	n := 0
	for {
		p, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		d.Decode(p)
	}
	want := []string{"pcapng interface 1 has unsupported link type ieee802_11 (105); its packets are skipped"}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings %q; want %q", warnings, want)
	}
	st := d.Stats()
	if n != 44 || st.Decoded != 22 || st.Skipped["unsupported_link_type:ieee802_11"] != 22 {
		t.Errorf("%d packets, stats %+v; want 44, 22 decoded, 22 unsupported", n, st)
	}
}

func benchFile(tb testing.TB, conns int, ng bool) []byte {
	c := pcaptest.NewCapture()
	for i := 0; i < conns; i++ {
		k := pcaptest.NewConn(ep("192.0.2.1", uint16(10000+i)), ep("192.0.2.2", 80), pcaptest.WithCapture(c))
		pcaptest.WriteDemo(k)
		k.Send(false, make([]byte, 64<<10)) // bulk data in MSS-sized segments
	}
	var b bytes.Buffer
	var err error
	if ng {
		err = c.WritePcapng(&b, pcaptest.LinkEthernet)
	} else {
		err = c.WritePcap(&b, pcaptest.LinkEthernet, false)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func TestReadAndDecodeDoNotAllocate(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; .ci/run runs this test in a normal build")
	}
	for _, ng := range []bool{false, true} {
		data := benchFile(t, 3, ng)
		s, err := capture.OpenReader(bytes.NewReader(data), "a")
		if err != nil {
			t.Fatal(err)
		}
		d := capture.NewDecoder()
		// Warm up: the first packets size the reused TCP option slices.
		for i := 0; i < 5; i++ {
			p, _ := s.Next()
			d.Decode(p)
		}
		allocs := testing.AllocsPerRun(50, func() {
			for i := 0; i < 2; i++ {
				p, err := s.Next()
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := d.Decode(p); !ok {
					t.Fatal("not decoded")
				}
			}
		})
		if allocs != 0 {
			t.Errorf("pcapng=%v: %v allocations per two packets read and decoded; want 0", ng, allocs)
		}
	}
	// Decode alone, over the layers the table test uses.
	d := capture.NewDecoder()
	v6 := ipv6(0, append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, tcpHeader(1, 2, "x")...))
	ps := []capture.Packet{
		{Data: ipv4(6, 0, tcpHeader(1, 2, "x")), LinkType: capture.LinkTypeRaw},
		{Data: v6, LinkType: capture.LinkTypeIPv6},
		{Data: ipv4(17, 0, make([]byte, 8)), LinkType: capture.LinkTypeRaw},
		{Data: ipv4(6, 0x2000, tcpHeader(1, 2, "x")), LinkType: capture.LinkTypeRaw},
		{Data: []byte{1}, LinkType: capture.LinkTypeIEEE80211},
	}
	for _, p := range ps {
		d.Decode(p)
	}
	if a := testing.AllocsPerRun(100, func() {
		for _, p := range ps {
			d.Decode(p)
		}
	}); a != 0 {
		t.Errorf("Decode: %v allocations per run; want 0", a)
	}
}

func benchmarkReadDecode(b *testing.B, ng bool) {
	data := benchFile(b, 40, ng)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	d := capture.NewDecoder()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := capture.OpenReader(bytes.NewReader(data), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for {
			p, err := s.Next()
			if err != nil {
				break
			}
			d.Decode(p)
		}
	}
}

func BenchmarkReadDecodePcap(b *testing.B)   { benchmarkReadDecode(b, false) }
func BenchmarkReadDecodePcapng(b *testing.B) { benchmarkReadDecode(b, true) }
