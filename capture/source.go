// Package capture reads packets from capture files and decodes them down to
// TCP segments.
//
// Sources read pcap (microsecond or nanosecond timestamps, either byte order)
// and pcapng files, plain or gzip-compressed, with their own readers: they
// never size a buffer from a length read off the file, never panic on
// damaged input, and do not allocate per packet. A Decoder takes the packets
// of any supported link type (Ethernet with VLAN tags, Linux cooked capture
// v1 and v2, raw IP, BSD loopback) through IPv4 or IPv6 (with extension
// headers) to TCP with gopacket's DecodingLayerParser, reusing its layers
// from packet to packet, and counts every packet it cannot use by reason.
package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// MaxPacketSize is the largest captured length of one packet that a Source
// accepts (the limit libpcap and Wireshark use for ordinary link types). A
// record that claims more is reported as damaged input.
const MaxPacketSize = 256 << 10

// bufferSize is the size of the read buffer. Packets are handed out as
// slices of it, so it holds at least one record of MaxPacketSize.
const bufferSize = 1 << 20

// Packet is one captured packet. Data is valid until the next call to Next.
type Packet struct {
	Data          []byte
	Timestamp     time.Time
	CaptureLength int      // bytes captured
	Length        int      // bytes on the wire
	LinkType      LinkType // LINKTYPE_ value of the packet's interface
	Interface     int      // pcapng interface index, 0 for pcap
}

// Source yields packets. Next returns io.EOF at the clean end of input; any
// other error means damaged input and says where (file offset / packet
// number), and everything returned before it stays valid. Once Next has
// returned an error it returns the same error again.
type Source interface {
	Next() (Packet, error)
	Close() error
}

// Options tune a Source.
type Options struct {
	// Warn, when not nil, receives warnings about the input that do not
	// stop reading, such as a pcapng interface whose link type the Decoder
	// does not support (said once per interface; its packets are still
	// returned by Next and counted as skipped by the Decoder). A nil Warn
	// drops the warnings.
	Warn func(msg string)
}

// Errors a Source reports, to test with errors.Is. The *Error that wraps
// them says which file, packet and offset.
var (
	// ErrNotCapture: the input is neither pcap nor pcapng.
	ErrNotCapture = errors.New("not a pcap or pcapng file")
	// ErrTruncated: the input ends inside a file header, block or record.
	ErrTruncated = errors.New("file truncated")
	// ErrDamaged: a header, block or record holds impossible values.
	ErrDamaged = errors.New("damaged capture")
)

// Error is the error of a Source: what went wrong (Err), in which file, in
// which packet and at which offset.
type Error struct {
	Op     string // "open" or "read"
	Name   string // the name the source was opened with
	Packet int    // 1-based number of the packet being read; 0 in the file header
	Offset int64  // offset of the damaged record or block; -1 when unknown
	// Gzip is true when Offset counts bytes of the uncompressed stream.
	Gzip   bool
	Detail string // what exactly was found
	Err    error  // ErrNotCapture, ErrTruncated, ErrDamaged, or an I/O error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("capture: %s %q: %v", e.Op, e.Name, e.Err)
	if e.Packet > 0 {
		s += fmt.Sprintf(" at packet %d", e.Packet)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (offset %d", e.Offset)
		if e.Gzip {
			s += " of the uncompressed data"
		}
		s += ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// OpenFile opens a pcap (micro- or nanosecond, either byte order) or pcapng
// file, plain or gzip-compressed (detected by magic bytes, never by the
// name). The name "-" reads standard input.
func OpenFile(name string) (Source, error) { return OpenFileWith(name, Options{}) }

// OpenFileWith is OpenFile with options.
func OpenFileWith(name string, o Options) (Source, error) {
	if name == "-" {
		return OpenReaderWith(os.Stdin, name, o)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, &Error{Op: "open", Name: name, Offset: -1, Err: err}
	}
	s, err := openReader(f, name, o, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// OpenReader reads a capture from r, as OpenFile does from a file; name is
// used in errors only. Close does not close r.
func OpenReader(r io.Reader, name string) (Source, error) {
	return OpenReaderWith(r, name, Options{})
}

// OpenReaderWith is OpenReader with options.
func OpenReaderWith(r io.Reader, name string, o Options) (Source, error) {
	return openReader(r, name, o, nil)
}

const (
	magicPcapMicro = 0xA1B2C3D4
	magicPcapNano  = 0xA1B23C4D
	magicPcapng    = 0x0A0D0D0A
)

func openReader(r io.Reader, name string, o Options, owned io.Closer) (Source, error) {
	br := bufio.NewReaderSize(r, bufferSize)
	in := &input{name: name, br: br, owned: owned, warn: o.Warn}
	m, err := br.Peek(4)
	if len(m) >= 2 && m[0] == 0x1f && m[1] == 0x8b {
		gz, gerr := gzip.NewReader(br)
		if gerr != nil {
			return nil, &Error{Op: "open", Name: name, Offset: -1, Err: gerr, Detail: "bad gzip stream"}
		}
		gz.Multistream(true)
		in.gz = gz
		in.br = bufio.NewReaderSize(gz, bufferSize)
		m, err = in.br.Peek(4)
	}
	if len(m) < 4 {
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, in.fail("open", 0, -1, err, "")
		}
		return nil, in.fail("open", 0, -1, ErrNotCapture, fmt.Sprintf("only %d bytes", len(m)))
	}
	le := binary.LittleEndian.Uint32(m)
	be := binary.BigEndian.Uint32(m)
	switch {
	case le == magicPcapMicro || be == magicPcapMicro || le == magicPcapNano || be == magicPcapNano:
		return newPcapReader(in)
	case le == magicPcapng:
		return newPcapngReader(in)
	}
	e := in.fail("open", 0, -1, ErrNotCapture, "")
	e.Err = fmt.Errorf("%w (magic 0x%08x)", ErrNotCapture, be)
	return nil, e
}

// input is the part shared by the pcap and pcapng readers: the buffered
// stream, the position in it and the sticky error.
type input struct {
	name    string
	br      *bufio.Reader
	gz      *gzip.Reader
	owned   io.Closer
	warn    func(string)
	off     int64 // offset of the next unread byte
	packets int   // packets returned so far
	err     error // sticky
}

// errShort is returned by peek when the input ends before n bytes.
var errShort = errors.New("short")

// peek returns the next n bytes without consuming them. At the end of input
// it returns what is left and errShort; other read errors are returned as
// they are.
func (in *input) peek(n int) ([]byte, error) {
	b, err := in.br.Peek(n)
	if len(b) == n {
		return b, nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return b, errShort
	}
	return b, err
}

// discard consumes n bytes; n may exceed the buffer.
func (in *input) discard(n int) error {
	d, err := in.br.Discard(n)
	in.off += int64(d)
	if d == n {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return errShort
	}
	return err
}

func (in *input) fail(op string, packet int, off int64, err error, detail string) *Error {
	return &Error{Op: op, Name: in.name, Packet: packet, Offset: off, Gzip: in.gz != nil, Detail: detail, Err: err}
}

// readErr makes the sticky error of a failed read of the record at off.
func (in *input) readErr(off int64, err error, detail string) error {
	if err == errShort {
		err = ErrTruncated
	}
	in.err = in.fail("read", in.packets+1, off, err, detail)
	return in.err
}

func (in *input) warnf(format string, args ...any) {
	if in.warn != nil {
		in.warn(fmt.Sprintf(format, args...))
	}
}

func (in *input) Close() error {
	if in.err == nil {
		in.err = errClosed
	}
	var err error
	if in.gz != nil {
		err = in.gz.Close()
	}
	if in.owned != nil {
		if cerr := in.owned.Close(); err == nil {
			err = cerr
		}
		in.owned = nil
	}
	return err
}

var errClosed = errors.New("capture: source closed")

func u16(big bool, b []byte) uint16 {
	if big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func u32(big bool, b []byte) uint32 {
	if big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}
