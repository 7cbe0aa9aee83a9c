package pcaptest

import (
	"bytes"
	"net/netip"
)

// DemoKey is the Sec-WebSocket-Key of the demo conversation: the sample
// nonce of RFC 6455 section 1.3, whose accept value is
// s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
const DemoKey = "dGhlIHNhbXBsZSBub25jZQ=="

// DemoMask is the masking key of the demo's client frames (the one of RFC
// 6455 section 5.7's examples).
var DemoMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// WriteDemo writes a complete RFC 6455 conversation on k: TCP handshake,
// upgrade request and 101 response, then
//
//	client text "Hello, server" (masked)
//	server text "Hello, client"
//	server binary of 300 bytes (16-bit length)
//	client ping "are you there?" (masked), server pong with the same payload
//	client text "fragmented message" in two frames: text FIN=0 "fragmented "
//	  and continuation FIN=1 "message" (both masked, one segment each)
//	client binary of 2000 bytes (masked), split in two TCP segments by the MSS
//	client close 1000 "bye", server close 1000 "bye"
//
// and the TCP close (FIN both ways, last ACK). The server acknowledges each
// client message with a pure ACK.
func WriteDemo(k *Conn) {
	k.Handshake()
	k.Send(true, UpgradeRequest(k.Server.hostPort(), "/chat", DemoKey, "Origin: http://example.com"))
	k.Send(false, UpgradeResponse(DemoKey))
	k.Send(true, ClientFrame(OpText, []byte("Hello, server"), DemoMask))
	k.Send(false, ServerFrame(OpText, []byte("Hello, client")))
	k.Send(false, ServerFrame(OpBinary, pattern(300)))
	k.Ack(true)
	k.Send(true, ClientFrame(OpPing, []byte("are you there?"), DemoMask))
	k.Send(false, ServerFrame(OpPong, []byte("are you there?")))
	k.Send(true, Frame{Opcode: OpText, Masked: true, Mask: DemoMask, Payload: []byte("fragmented ")}.Bytes())
	k.Send(true, Frame{Fin: true, Opcode: OpCont, Masked: true, Mask: DemoMask, Payload: []byte("message")}.Bytes())
	k.Ack(false)
	k.Send(true, ClientFrame(OpBinary, pattern(2000), DemoMask))
	k.Ack(false)
	k.Send(true, ClientFrame(OpClose, ClosePayload(1000, "bye"), DemoMask))
	k.Send(false, ServerFrame(OpClose, ClosePayload(1000, "bye")))
	k.Close()
}

func (e Endpoint) hostPort() string {
	return netip.AddrPortFrom(e.IP, e.Port).String()
}

// pattern returns n bytes 0, 1, 2, ... 255, 0, 1, ...
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// GeneratedFile is one capture made by Generate.
type GeneratedFile struct {
	Name string
	Data []byte
}

func ep(ip string, port uint16) Endpoint { return Endpoint{netip.MustParseAddr(ip), port} }

// Generate makes the captures of testdata/pcaps (see the README there),
// byte for byte the same on every run.
func Generate() ([]GeneratedFile, error) {
	var out []GeneratedFile
	write := func(name string, f func(*bytes.Buffer) error, gz bool) error {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			return err
		}
		data := b.Bytes()
		if gz {
			data = Gzip(data)
		}
		out = append(out, GeneratedFile{name, data})
		return nil
	}
	v4c, v4s := ep("192.0.2.10", 50000), ep("198.51.100.20", 80)
	v6c, v6s := ep("2001:db8::10", 50001), ep("2001:db8::20", 8080)

	k := NewConn(v4c, v4s)
	WriteDemo(k)
	if err := write("ws-ethernet-ipv4.pcap", func(b *bytes.Buffer) error {
		return k.Capture().WritePcap(b, LinkEthernet, false)
	}, false); err != nil {
		return nil, err
	}

	k = NewConn(v6c, v6s)
	WriteDemo(k)
	if err := write("ws-sll2-ipv6.pcapng", func(b *bytes.Buffer) error {
		return k.Capture().WritePcapng(b, LinkLinuxSLL2)
	}, false); err != nil {
		return nil, err
	}

	// 802.1ad outer tag 100, 802.1Q inner tag 200; big-endian, nanoseconds;
	// sequence numbers that wrap around 2^32 during the conversation.
	k = NewConn(v4c, v4s, WithISN(0xFFFFFC00, 0xFFFFFF00))
	k.Capture().VLANs = []uint16{100, 200}
	WriteDemo(k)
	if err := write("ws-qinq-ipv4-nsec-be.pcap", func(b *bytes.Buffer) error {
		return k.Capture().WritePcapOptions(b, PcapOptions{Link: LinkEthernet, Nanosecond: true, BigEndian: true})
	}, false); err != nil {
		return nil, err
	}

	k = NewConn(v4c, v4s)
	WriteDemo(k)
	if err := write("ws-raw-ipv4.pcap.gz", func(b *bytes.Buffer) error {
		return k.Capture().WritePcap(b, LinkRaw, false)
	}, true); err != nil {
		return nil, err
	}

	k = NewConn(ep("::1", 50002), ep("::1", 9000))
	WriteDemo(k)
	if err := write("ws-null-ipv6.pcap", func(b *bytes.Buffer) error {
		return k.Capture().WritePcap(b, LinkNull, false)
	}, false); err != nil {
		return nil, err
	}

	// Two interfaces of different link types in one pcapng: Ethernet
	// (interface 0, microseconds) and Linux SLL (interface 1, nanoseconds),
	// one conversation on each, written one after the other.
	c := NewCapture()
	WriteDemo(NewConn(v4c, v4s, WithCapture(c)))
	WriteDemo(NewConn(ep("10.0.0.1", 40000), ep("10.0.0.2", 8080), WithCapture(c), WithInterface(1)))
	if err := write("ws-mixed-ethernet-sll.pcapng", func(b *bytes.Buffer) error {
		return c.WritePcapngInterfaces(b, []LinkType{LinkEthernet, LinkLinuxSLL})
	}, false); err != nil {
		return nil, err
	}
	return out, nil
}
