package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"time"

	"github.com/wsdump/wsdump/capture"
)

// packetWriter writes packets to a capture file as -w asks: classic pcap
// with nanosecond timestamps, or pcapng with one interface.
type packetWriter struct {
	w   *bufio.Writer
	ng  bool
	hdr [28]byte
	err error
}

// newPacketWriter writes the file header(s) for packets of one interface.
func newPacketWriter(w io.Writer, ng bool, iface string, link capture.LinkType, snaplen int, app string) *packetWriter {
	pw := &packetWriter{w: bufio.NewWriterSize(w, 256<<10), ng: ng}
	le := binary.LittleEndian
	if !ng {
		var h [24]byte
		le.PutUint32(h[0:], 0xA1B23C4D) // nanosecond timestamps
		le.PutUint16(h[4:], 2)
		le.PutUint16(h[6:], 4)
		le.PutUint32(h[16:], uint32(snaplen))
		le.PutUint32(h[20:], uint32(link))
		pw.write(h[:])
		return pw
	}
	// Section header block, with the application's name.
	shbOpts := ngOption(nil, 4, []byte(app)) // shb_userappl
	shbOpts = ngOption(shbOpts, 0, nil)      // opt_endofopt
	shb := make([]byte, 24, 28+len(shbOpts))
	le.PutUint32(shb[0:], 0x0A0D0D0A)
	le.PutUint32(shb[8:], 0x1A2B3C4D)
	le.PutUint16(shb[12:], 1)
	le.PutUint16(shb[14:], 0)
	le.PutUint64(shb[16:], ^uint64(0)) // section length unknown
	pw.block(shb, shbOpts)
	// Interface description block: name and nanosecond resolution.
	idbOpts := ngOption(nil, 2, []byte(iface)) // if_name
	idbOpts = ngOption(idbOpts, 9, []byte{9})  // if_tsresol: 10^-9
	idbOpts = ngOption(idbOpts, 0, nil)
	idb := make([]byte, 16, 20+len(idbOpts))
	le.PutUint32(idb[0:], 1)
	le.PutUint16(idb[8:], uint16(link))
	le.PutUint32(idb[12:], uint32(snaplen))
	pw.block(idb, idbOpts)
	return pw
}

// ngOption appends one pcapng option, padded to 32 bits.
func ngOption(dst []byte, code uint16, val []byte) []byte {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[0:], code)
	binary.LittleEndian.PutUint16(h[2:], uint16(len(val)))
	dst = append(dst, h[:]...)
	dst = append(dst, val...)
	for len(dst)%4 != 0 {
		dst = append(dst, 0)
	}
	return dst
}

// block writes a pcapng block: head (type at 0, the length field at 4 is
// filled in here), body, and the trailing length.
func (pw *packetWriter) block(head, body []byte) {
	n := len(head) + len(body) + 4
	binary.LittleEndian.PutUint32(head[4:], uint32(n))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], uint32(n))
	pw.write(head)
	pw.write(body)
	pw.write(tail[:])
}

func (pw *packetWriter) write(b []byte) {
	if pw.err == nil {
		_, pw.err = pw.w.Write(b)
	}
}

// WritePacket writes one packet.
func (pw *packetWriter) WritePacket(ts time.Time, data []byte, length int) error {
	le := binary.LittleEndian
	if !pw.ng {
		h := pw.hdr[:16]
		le.PutUint32(h[0:], uint32(ts.Unix()))
		le.PutUint32(h[4:], uint32(ts.Nanosecond()))
		le.PutUint32(h[8:], uint32(len(data)))
		le.PutUint32(h[12:], uint32(length))
		pw.write(h)
		pw.write(data)
		return pw.err
	}
	// Enhanced packet block.
	pad := (4 - len(data)%4) % 4
	n := 28 + len(data) + pad + 4
	ns := uint64(ts.UnixNano())
	h := pw.hdr[:28]
	le.PutUint32(h[0:], 6)
	le.PutUint32(h[4:], uint32(n))
	le.PutUint32(h[8:], 0) // interface 0
	le.PutUint32(h[12:], uint32(ns>>32))
	le.PutUint32(h[16:], uint32(ns))
	le.PutUint32(h[20:], uint32(len(data)))
	le.PutUint32(h[24:], uint32(length))
	pw.write(h)
	pw.write(data)
	var tail [8]byte
	le.PutUint32(tail[pad:], uint32(n))
	pw.write(tail[:pad+4])
	return pw.err
}

// Flush writes what is buffered.
func (pw *packetWriter) Flush() error {
	if pw.err == nil {
		pw.err = pw.w.Flush()
	}
	return pw.err
}
