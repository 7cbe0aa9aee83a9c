package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/internal/pcaptest"
)

func demo(t testing.TB) *pcaptest.Capture {
	k := pcaptest.NewConn(ep("192.0.2.1", 40001), ep("192.0.2.2", 80))
	pcaptest.WriteDemo(k)
	return k.Capture()
}

// recordEnds walks a pcap or pcapng file independently of the readers and
// returns the offset just past each packet record.
func recordEnds(t *testing.T, b []byte, ng bool) []int {
	var ends []int
	if !ng {
		for off := 24; off < len(b); {
			off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
			ends = append(ends, off)
		}
		return ends
	}
	for off := 0; off < len(b); {
		typ := binary.LittleEndian.Uint32(b[off:])
		off += int(binary.LittleEndian.Uint32(b[off+4:]))
		if typ == 6 {
			ends = append(ends, off)
		}
	}
	return ends
}

func TestTruncatedFiles(t *testing.T) {
	c := demo(t)
	for _, ng := range []bool{false, true} {
		var b bytes.Buffer
		if ng {
			c.WritePcapng(&b, pcaptest.LinkEthernet)
		} else {
			c.WritePcap(&b, pcaptest.LinkEthernet, false)
		}
		full := b.Bytes()
		ends := recordEnds(t, full, ng)
		if len(ends) != len(c.Packets) || ends[len(ends)-1] != len(full) {
			t.Fatalf("walk found %d records ending at %d; want %d ending at %d", len(ends), ends[len(ends)-1], len(c.Packets), len(full))
		}
		hdr := 24 // pcap file header; pcapng: section header and interface block
		if ng {
			hdr = 28 + 20
		}
		for cut := hdr; cut <= len(full); cut += 7 {
			complete, boundary := 0, false
			for _, e := range ends {
				if e <= cut {
					complete++
				}
				boundary = boundary || e == cut
			}
			boundary = boundary || cut == hdr
			s, err := capture.OpenReader(bytes.NewReader(full[:cut]), "cut")
			if err != nil {
				t.Fatalf("ng=%v cut %d: open: %v", ng, cut, err)
			}
			ps, err := readAll(t, s)
			if len(ps) != complete {
				t.Errorf("ng=%v cut %d: %d packets before the error; want %d", ng, cut, len(ps), complete)
			}
			if boundary {
				if err != nil {
					t.Errorf("ng=%v cut %d at a record boundary: %v", ng, cut, err)
				}
				continue
			}
			if !errors.Is(err, capture.ErrTruncated) {
				t.Fatalf("ng=%v cut %d: error %v; want ErrTruncated", ng, cut, err)
			}
			if want := fmt.Sprintf(`capture: read "cut": file truncated at packet %d (offset `, complete+1); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("ng=%v cut %d: error %q; want prefix %q", ng, cut, err, want)
			}
			var ce *capture.Error
			if errors.As(err, &ce) {
				start := hdr
				if complete > 0 {
					start = ends[complete-1]
				}
				if ce.Offset != int64(start) {
					t.Errorf("ng=%v cut %d: offset %d; want %d (start of the cut record)", ng, cut, ce.Offset, start)
				}
			}
			// The error sticks.
			if _, err2 := s.Next(); err2 != err {
				t.Errorf("second Next: %v; want the same error", err2)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := capture.OpenReader(strings.NewReader("module github.com/x\n"), "x")
	if !errors.Is(err, capture.ErrNotCapture) || err.Error() != `capture: open "x": not a pcap or pcapng file (magic 0x6d6f6475)` {
		t.Errorf("text file: %v", err)
	}
	_, err = capture.OpenReader(strings.NewReader(""), "empty")
	if !errors.Is(err, capture.ErrNotCapture) {
		t.Errorf("empty file: %v", err)
	}
	_, err = capture.OpenReader(bytes.NewReader([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0}), "short")
	if !errors.Is(err, capture.ErrTruncated) {
		t.Errorf("cut pcap header: %v", err)
	}
	_, err = capture.OpenFile("/nonexistent/x.pcap")
	if err == nil || !strings.Contains(err.Error(), `capture: open "/nonexistent/x.pcap"`) {
		t.Errorf("missing file: %v", err)
	}
	// A gzip stream that does not hold a capture.
	_, err = capture.OpenReader(bytes.NewReader(pcaptest.Gzip([]byte("hello world"))), "z")
	if !errors.Is(err, capture.ErrNotCapture) {
		t.Errorf("gzip of text: %v", err)
	}
}

func TestDamagedRecords(t *testing.T) {
	var b bytes.Buffer
	demo(t).WritePcap(&b, pcaptest.LinkEthernet, false)
	data := append([]byte(nil), b.Bytes()...)
	// The first record claims 4 GiB: reported, never allocated.
	binary.LittleEndian.PutUint32(data[24+8:], 0xFFFFFFF0)
	s, _ := capture.OpenReader(bytes.NewReader(data), "big")
	if _, err := s.Next(); !errors.Is(err, capture.ErrDamaged) || !strings.Contains(err.Error(), "at packet 1 (offset 24)") {
		t.Errorf("huge record: %v", err)
	}

	b.Reset()
	demo(t).WritePcapng(&b, pcaptest.LinkEthernet)
	data = append([]byte(nil), b.Bytes()...)
	// The first packet block names interface 3 of 1.
	binary.LittleEndian.PutUint32(data[48+8:], 3)
	s, _ = capture.OpenReader(bytes.NewReader(data), "ifc")
	if _, err := s.Next(); !errors.Is(err, capture.ErrDamaged) || !strings.Contains(err.Error(), "interface 3") {
		t.Errorf("bad interface: %v", err)
	}
	data = append([]byte(nil), b.Bytes()...)
	binary.LittleEndian.PutUint32(data[48+4:], 13) // block length not a multiple of 4
	s, _ = capture.OpenReader(bytes.NewReader(data), "len")
	if _, err := s.Next(); !errors.Is(err, capture.ErrDamaged) {
		t.Errorf("bad block length: %v", err)
	}
}

func TestGzipAndStdinReader(t *testing.T) {
	c := demo(t)
	var plain bytes.Buffer
	c.WritePcapng(&plain, pcaptest.LinkEthernet)
	want, _ := readAll(t, must(capture.OpenReader(bytes.NewReader(plain.Bytes()), "plain")))
	// A gzip stream through a plain io.Reader, as standard input would be.
	s := must(capture.OpenReader(io.MultiReader(bytes.NewReader(pcaptest.Gzip(plain.Bytes()))), "-"))
	got, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(c.Packets) || len(got) != len(want) {
		t.Fatalf("gzip: %d packets; want %d", len(got), len(c.Packets))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i].Data) || !got[i].Timestamp.Equal(c.Packets[i].Time) {
			t.Errorf("packet %d differs", i+1)
		}
	}
	// A cut gzip stream is a truncated file, not a clean end.
	gz := pcaptest.Gzip(plain.Bytes())
	s = must(capture.OpenReader(bytes.NewReader(gz[:len(gz)/2]), "cutgz"))
	if _, err := readAll(t, s); !errors.Is(err, capture.ErrTruncated) || !strings.Contains(err.Error(), "uncompressed") {
		t.Errorf("cut gzip: %v", err)
	}
}

func must(s capture.Source, err error) capture.Source {
	if err != nil {
		panic(err)
	}
	return s
}

func TestTimestampsAndByteOrders(t *testing.T) {
	c := demo(t)
	c.Step = 1234567 // ns: sub-microsecond digits survive only in nanosecond files
	c.Packets = nil
	c.Clock = pcaptest.DefaultStart
	k := pcaptest.NewConn(ep("192.0.2.1", 1), ep("192.0.2.2", 2), pcaptest.WithCapture(c))
	k.Handshake()
	for _, o := range []pcaptest.PcapOptions{{}, {Nanosecond: true}, {BigEndian: true}, {Nanosecond: true, BigEndian: true}} {
		o.Link = pcaptest.LinkRaw
		var b bytes.Buffer
		c.WritePcapOptions(&b, o)
		ps, err := readAll(t, must(capture.OpenReader(&b, "t")))
		if err != nil || len(ps) != 3 {
			t.Fatalf("%+v: %d packets, %v", o, len(ps), err)
		}
		for i, p := range ps {
			want := c.Packets[i].Time
			if !o.Nanosecond {
				want = want.Truncate(1000)
			}
			if !p.Timestamp.Equal(want) || p.LinkType != capture.LinkTypeRaw || p.CaptureLength != len(p.Data) {
				t.Errorf("%+v packet %d: time %v link %v; want %v raw", o, i, p.Timestamp, p.LinkType, want)
			}
		}
	}
	// pcapng interface 1 declares nanoseconds.
	k2 := pcaptest.NewConn(ep("192.0.2.1", 1), ep("192.0.2.2", 2), pcaptest.WithCapture(c), pcaptest.WithInterface(1))
	k2.Handshake()
	var b bytes.Buffer
	c.WritePcapngInterfaces(&b, []pcaptest.LinkType{pcaptest.LinkRaw, pcaptest.LinkLinuxSLL2})
	ps, err := readAll(t, must(capture.OpenReader(&b, "t")))
	if err != nil || len(ps) != 6 {
		t.Fatalf("pcapng: %d packets, %v", len(ps), err)
	}
	for i, p := range ps {
		want := c.Packets[i].Time
		if i < 3 {
			want = want.Truncate(1000)
		}
		if !p.Timestamp.Equal(want) || p.Interface != c.Packets[i].Interface {
			t.Errorf("pcapng packet %d: time %v interface %d; want %v %d", i, p.Timestamp, p.Interface, want, c.Packets[i].Interface)
		}
	}
	if ps[5].LinkType != capture.LinkTypeLinuxSLL2 {
		t.Errorf("link type %v; want linux_sll2", ps[5].LinkType)
	}
}
