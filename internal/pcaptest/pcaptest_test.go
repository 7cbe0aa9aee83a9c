package pcaptest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcceptKeyRFC6455Sample(t *testing.T) {
	// RFC 6455 section 1.3.
	if got, want := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("AcceptKey = %q; want %q", got, want)
	}
}

func TestFrameBytesRFC6455Examples(t *testing.T) {
	// RFC 6455 section 5.7.
	big := make([]byte, 65536)
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"unmasked Hello", ServerFrame(OpText, []byte("Hello")), []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}},
		{"masked Hello", ClientFrame(OpText, []byte("Hello"), [4]byte{0x37, 0xfa, 0x21, 0x3d}),
			[]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{"fragment 1", Frame{Opcode: OpText, Payload: []byte("Hel")}.Bytes(), []byte{0x01, 0x03, 'H', 'e', 'l'}},
		{"fragment 2", Frame{Fin: true, Opcode: OpCont, Payload: []byte("lo")}.Bytes(), []byte{0x80, 0x02, 'l', 'o'}},
		{"ping", ServerFrame(OpPing, []byte("Hello")), []byte{0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}},
		{"256 bytes", ServerFrame(OpBinary, make([]byte, 256))[:4], []byte{0x82, 0x7E, 0x01, 0x00}},
		{"64 KiB", ServerFrame(OpBinary, big)[:10], []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"forced 64-bit length", Frame{Fin: true, Opcode: OpText, LengthBits: 64, Payload: []byte("a")}.Bytes(),
			[]byte{0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 1, 'a'}},
		{"rsv1", Frame{Fin: true, Rsv: 4, Opcode: OpText}.Bytes(), []byte{0xC1, 0x00}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: got % x; want % x", tt.name, tt.got, tt.want)
		}
	}
}

func TestConnSequenceNumbers(t *testing.T) {
	k := NewConn(ep("192.0.2.1", 1234), ep("192.0.2.2", 80), WithISN(0xFFFFFFF0, 7), WithMSS(10))
	k.Handshake()
	idx := k.Send(true, []byte("0123456789abcdefghijklmnopqrstuvwxyz"))
	if len(idx) != 4 {
		t.Fatalf("Send of 36 bytes with MSS 10 wrote %d segments; want 4", len(idx))
	}
	c := k.Capture()
	wantSeq := []uint32{0xFFFFFFF1, 0xFFFFFFFB, 0x00000005, 0x0000000F}
	for i, j := range idx {
		p := c.Packets[j]
		if p.Seq != wantSeq[i] || p.Ack != 8 {
			t.Errorf("segment %d: seq %#x ack %d; want %#x, 8", i, p.Seq, p.Ack, wantSeq[i])
		}
		if last := i == len(idx)-1; (p.Flags&PSH != 0) != last {
			t.Errorf("segment %d: PSH %v; want %v", i, p.Flags&PSH != 0, last)
		}
	}
	if got := string(c.Packets[idx[3]].Payload); got != "uvwxyz" {
		t.Errorf("last payload %q; want %q", got, "uvwxyz")
	}
	// A keep-alive probe with one old byte does not move the offset.
	probe := k.Segment(true, k.Offset(true)-1, []byte("z"), ACK)
	if got := c.Packets[probe].Seq; got != 0x0000000F+5 {
		t.Errorf("probe seq %#x; want %#x", got, 0x0000000F+5)
	}
	if k.Offset(true) != 36 {
		t.Errorf("offset after probe %d; want 36", k.Offset(true))
	}
	// The server's reply acknowledges every byte.
	r := c.Packets[k.Ack(false)]
	if r.Ack != 0x0000000F+6 || r.Seq != 8 {
		t.Errorf("server ACK seq %d ack %#x; want 8, %#x", r.Seq, r.Ack, 0x0000000F+6)
	}
	if c.Packets[1].Time.Sub(c.Packets[0].Time) != c.Step {
		t.Errorf("timestamps do not advance by Step")
	}
}

// TestWritersAgainstTshark writes conversations over every link type, IPv4
// and IPv6, and checks that tshark reads back the TCP segments written. To
// keep tshark runs few, one pcapng holds an interface per link type, and two
// pcap files cover the pcap variants.
func TestWritersAgainstTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; the writers are not checked against it")
	}
	dir := t.TempDir()
	check := func(t *testing.T, name string, c *Capture, pcapng bool, write func(io.Writer) error) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.interface_id",
			"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.len",
			"-e", "frame.time_epoch").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		var want []string
		for _, p := range c.Packets {
			ifc := "" // pcap has no interface id
			if pcapng {
				ifc = fmt.Sprint(p.Interface)
			}
			want = append(want, fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d.%09d", ifc, p.Src.Port, p.Dst.Port,
				p.Seq, len(p.Payload), p.Time.Unix(), p.Time.Nanosecond()))
		}
		got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(got) != len(want) {
			t.Fatalf("%s: tshark read %d packets; want %d:\n%s", name, len(got), len(want), out)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s packet %d: tshark %q; want %q", name, i+1, got[i], want[i])
			}
		}
	}

	links := []LinkType{LinkEthernet, LinkLinuxSLL, LinkLinuxSLL2, LinkRaw, LinkIPv4, LinkIPv6, LinkNull, LinkLoop}
	c := NewCapture()
	c.VLANs = []uint16{10, 20}
	port := uint16(40000)
	for i, l := range links {
		for _, v6 := range []bool{false, true} {
			if (l == LinkIPv4 && v6) || (l == LinkIPv6 && !v6) {
				continue
			}
			cl, sv := ep("192.0.2.1", port), ep("192.0.2.2", 8080)
			if v6 {
				cl, sv = ep("2001:db8::1", port), ep("2001:db8::2", 8080)
			}
			port++
			WriteDemo(NewConn(cl, sv, WithCapture(c), WithInterface(i), WithMSS(700)))
		}
	}
	t.Run("pcapng", func(t *testing.T) {
		t.Parallel()
		check(t, "all.pcapng", c, true, func(w io.Writer) error { return c.WritePcapngInterfaces(w, links) })
	})

	c2 := NewCapture()
	WriteDemo(NewConn(ep("2001:db8::1", 1234), ep("2001:db8::2", 80), WithCapture(c2)))
	t.Run("pcap-nsec-be", func(t *testing.T) {
		t.Parallel()
		check(t, "eth-v6-nsec-be.pcap", c2, false, func(w io.Writer) error {
			return c2.WritePcapOptions(w, PcapOptions{Link: LinkEthernet, Nanosecond: true, BigEndian: true})
		})
	})

	c3 := NewCapture()
	c3.LoopbackAF6 = 24
	c3.Step = 1500 * time.Microsecond
	WriteDemo(NewConn(ep("::1", 1234), ep("::1", 80), WithCapture(c3)))
	t.Run("pcap-null-af24", func(t *testing.T) {
		t.Parallel()
		check(t, "null-v6-af24.pcap", c3, false, func(w io.Writer) error { return c3.WritePcap(w, LinkNull, false) })
	})
}

func TestGenerateIsDeterministicAndMatchesTestdata(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("runs made %d and %d files", len(a), len(b))
	}
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
		disk, err := os.ReadFile(filepath.Join(dir, a[i].Name))
		if err != nil {
			t.Errorf("%v (regenerate with go run ./internal/pcaptest/cmd/gencaps)", err)
			continue
		}
		got, want := disk, a[i].Data
		if strings.HasSuffix(a[i].Name, ".gz") {
			// Compressed bytes may change with the Go version; the content may not.
			got, want = gunzip(t, disk), gunzip(t, want)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/pcaps/%s is not what Generate makes now (regenerate with go run ./internal/pcaptest/cmd/gencaps)", a[i].Name)
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
