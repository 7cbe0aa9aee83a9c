package dissect

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strconv"
	"sync"
)

// This file inflates compressed WebSocket payloads: permessage-deflate
// (RFC 7692), where RSV1 on the first frame marks a compressed message, and
// the older per-frame drafts "x-webkit-deflate-frame" and "deflate-frame",
// where RSV1 marks each compressed frame.
//
// A compressed unit (a message, or a frame of the per-frame drafts) is
// buffered whole, then inflated with the 4 bytes 00 00 FF FF appended
// (RFC 7692 §7.2.2). The standard decompressor pulls its input and cannot
// resume once it has run dry, so it only runs on a complete unit; this also
// makes the output independent of how the bytes were split. With context
// takeover the last bytes of output (the LZ77 window) are kept per direction
// and handed to the next unit as the preset dictionary; without it each unit
// starts afresh. Decompressors are pooled: between units a direction holds
// only its window.

// inflateTail ends every compressed unit: the empty stored block that the
// sender removed (RFC 7692 §7.2.1), then an empty final block (fixed
// Huffman, BFINAL set) so that the decompressor reports io.EOF exactly when
// the unit is fully inflated. A unit that ends with its own final block
// stops there and the tail is not read.
var inflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x03, 0x00}

// ratioFloor is the inflated size of a message below which the ratio guard
// (Config.MaxInflateRatio) does not apply.
const ratioFloor = 1 << 20

// inflateOutput is where an inflater sends the payload of a message and the
// violations it finds; the message assembler implements it.
type inflateOutput interface {
	payloadWriter
	inflateViolation(code string, sev Severity, ref, detail string)
}

// inflateResult says what became of one message.
type inflateResult struct {
	// inflated is set when the payload handed out is inflated output
	// (possibly cut short, see cut and err); clear when it is the bytes
	// as on the wire.
	inflated bool
	// cut is set when inflating stopped at a limit: the payload is the
	// first part of the message only.
	cut bool
	err error
}

// Errors reported in Message.InflateErr.
var (
	errContextLost = errors.New("undecodable: missing compression context")
	errIncomplete  = errors.New("compressed message incomplete: inflated what arrived")
)

// flateWorker is a pooled decompressor with its output buffer.
type flateWorker struct {
	r   io.ReadCloser
	buf [16 << 10]byte
}

var flatePool = sync.Pool{New: func() any {
	return &flateWorker{r: flate.NewReader(bytes.NewReader(nil))}
}}

// deflateInflater inflates the compressed messages of one direction. It
// implements messageInflater.
type deflateInflater struct {
	cfg       *Config
	frameMode bool   // per-frame drafts: RSV1 marks compressed frames
	takeover  bool   // the sender keeps its LZ77 window across units
	window    int    // bytes of history kept with takeover
	ref       string // the specification, for violations

	// Context.
	hist         []byte // last output bytes, up to window, with takeover
	lost         bool   // the context is gone: compressed units cannot be inflated
	lostReported bool

	// Message in progress.
	anyUnit bool   // a compressed unit was inflated (or tried) in this message
	raw     bool   // compressed bytes pass through uncompressed (context lost)
	cut     bool   // a limit stopped inflating; the rest of the message is dropped
	err     error  // first problem of the message
	inN     uint64 // compressed bytes of the message
	outN    uint64 // inflated bytes handed out

	// Unit in progress.
	unit     bool // the current frame (per-frame) or message is compressed
	buf      []byte
	overflow bool // buf reached its limit; later bytes of the unit are dropped
	rd       bytes.Reader
}

// newDeflateInflaters returns the inflaters of both directions for what the
// handshake negotiated.
func newDeflateInflaters(cfg *Config, p *DeflateParams) [2]messageInflater {
	var out [2]messageInflater
	for d := range out {
		bits := p.MaxWindowBits[d]
		if bits < 9 || bits > 15 {
			// zlib cannot compress with an 8-bit window and uses 9
			// bits instead; other values are not valid and 15 is the
			// safe reading.
			if bits == 8 {
				bits = 9
			} else {
				bits = 15
			}
		}
		z := &deflateInflater{
			cfg:       cfg,
			frameMode: p.PerFrame,
			takeover:  !p.NoContextTakeover[d],
			window:    1 << bits,
			ref:       "RFC 7692 §7.2.2",
		}
		if p.PerFrame {
			z.ref = "draft-tyoshino-hybi-websocket-perframe-deflate"
		}
		out[d] = z
	}
	return out
}

// maxInflate is the cap on the inflated size of one message.
func (z *deflateInflater) maxInflate() uint64 {
	if z.cfg.MaxInflate <= 0 {
		return uint64(DefaultConfig().MaxInflate)
	}
	return uint64(z.cfg.MaxInflate)
}

// maxCompressed caps the compressed bytes of one unit held for inflating:
// the inflate cap plus room for the overhead of stored blocks and of
// incompressible data.
func (z *deflateInflater) maxCompressed() int {
	m := z.maxInflate()
	return int(m + m/8 + 1024)
}

func (z *deflateInflater) perFrame() bool { return z.frameMode }

func (z *deflateInflater) begin(compressed bool) bool {
	z.anyUnit, z.raw, z.cut, z.err = false, false, false, nil
	z.inN, z.outN = 0, 0
	z.unit = false
	if z.frameMode {
		return true // every frame is looked at: RSV1 is per frame
	}
	if compressed {
		z.beginUnit()
	}
	return compressed
}

func (z *deflateInflater) frame(compressed bool) {
	if !z.frameMode {
		return
	}
	z.unit = false
	if compressed {
		z.beginUnit()
	}
}

// inflateBufPool holds the compressed-message buffers of ended
// conversations: a buffer grown to the size of the messages of one
// conversation serves the next, instead of growing again from nothing.
var inflateBufPool = sync.Pool{New: func() any { return new([]byte) }}

// release implements messageInflater.
func (z *deflateInflater) release() {
	if z.buf != nil && cap(z.buf) <= maxPooledInflateBuf {
		b := z.buf[:0]
		inflateBufPool.Put(&b)
	}
	z.buf = nil
	z.hist = nil
}

// maxPooledInflateBuf is the largest buffer kept for the next message, and
// for the next conversation.
const maxPooledInflateBuf = 256 << 10

// beginUnit starts a compressed unit.
func (z *deflateInflater) beginUnit() {
	z.unit = true
	z.anyUnit = true
	if z.buf == nil {
		z.buf = *inflateBufPool.Get().(*[]byte)
	}
	z.buf = z.buf[:0]
	z.overflow = false
	if z.lost {
		z.raw = true
		if z.err == nil {
			z.err = errContextLost
		}
	}
}

func (z *deflateInflater) write(p []byte, out inflateOutput) {
	if z.cut {
		z.inN += uint64(len(p))
		return // a limit stopped this message
	}
	if !z.unit || z.raw {
		// An uncompressed frame (per-frame drafts), or compressed bytes
		// that cannot be inflated: shown as they are.
		out.writePayload(p)
		return
	}
	z.inN += uint64(len(p))
	if z.overflow {
		return
	}
	if room := z.maxCompressed() - len(z.buf); len(p) > room {
		z.buf = append(z.buf, p[:room]...)
		z.overflow = true
		return
	}
	z.buf = append(z.buf, p...)
}

func (z *deflateInflater) frameEnd(out inflateOutput) {
	if z.frameMode && z.unit {
		z.endUnit(out, true)
		z.unit = false
	}
}

func (z *deflateInflater) end(out inflateOutput, complete bool) inflateResult {
	if z.unit {
		z.endUnit(out, complete)
		z.unit = false
	}
	if !complete && z.err == nil && z.anyUnit && !z.raw {
		z.err = errIncomplete
	}
	if z.lost && z.raw && !z.lostReported {
		z.lostReported = true
		out.inflateViolation("ws.compression_context_lost", SeverityWarning, z.ref,
			"undecodable: missing compression context; compressed messages of this direction are not inflated from here on")
	}
	r := inflateResult{inflated: z.anyUnit && !z.raw, cut: z.cut, err: z.err}
	if cap(z.buf) > maxPooledInflateBuf {
		z.buf = nil // do not hold on to the buffer of one large message
	}
	return r
}

// endUnit inflates the buffered unit. complete is false for a message cut
// short: what arrived is inflated without the tail.
func (z *deflateInflater) endUnit(out inflateOutput, complete bool) {
	if z.raw {
		return
	}
	if z.cut {
		// A limit already stopped this message; with takeover the window
		// is unknown from here on.
		z.loseContext()
		return
	}
	if complete && len(z.buf) == 0 {
		// No bytes at all: not valid DEFLATE once the tail is added, but
		// an empty message to a streaming decoder, which waits for more.
		return
	}
	w := flatePool.Get().(*flateWorker)
	defer flatePool.Put(w)
	in := z.buf
	if complete && !z.overflow {
		in = append(in, inflateTail[:]...)
		z.buf = in
	}
	z.rd.Reset(in)
	var dict []byte
	if z.takeover {
		dict = z.hist[max(0, len(z.hist)-z.window):]
	}
	w.r.(flate.Resetter).Reset(&z.rd, dict)
	limit := z.maxInflate()
	ratio := uint64(max(z.cfg.MaxInflateRatio, 0))
	var rerr error
	for {
		n, err := w.r.Read(w.buf[:])
		p := w.buf[:n]
		if room := limit - z.outN; uint64(len(p)) > room {
			p = p[:room]
			z.cut = true
		}
		z.outN += uint64(len(p))
		out.writePayload(p)
		if z.takeover {
			z.remember(p)
		}
		if ratio > 0 && z.outN > ratioFloor && z.outN > ratio*z.inN {
			z.cut = true
		}
		if z.cut {
			detail := "inflated size exceeds the limit of " + strconv.FormatUint(limit, 10) + " bytes; message cut there"
			if z.outN < limit {
				detail = "inflated size exceeds " + strconv.FormatUint(ratio, 10) + " times the compressed size; message cut at " + strconv.FormatUint(z.outN, 10) + " bytes"
			}
			if z.err == nil {
				z.err = errors.New(detail)
			}
			out.inflateViolation("ws.inflate_limit", SeverityWarning, z.ref, detail)
			z.loseContext()
			return
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	switch {
	case z.overflow:
		detail := "compressed message exceeds the limit of " + strconv.Itoa(z.maxCompressed()) + " bytes; only its first part is inflated"
		if z.err == nil {
			z.err = errors.New(detail)
		}
		z.cut = true
		out.inflateViolation("ws.inflate_limit", SeverityWarning, z.ref, detail)
		z.loseContext()
	case !complete:
		z.loseContext()
	case rerr != nil:
		if errors.Is(rerr, io.ErrUnexpectedEOF) {
			rerr = errors.New("compressed data ends inside a deflate block")
		}
		if z.err == nil {
			z.err = rerr
		}
		out.inflateViolation("ws.inflate_failed", SeverityError, z.ref, "compressed payload does not inflate: "+rerr.Error())
		z.loseContext()
	}
}

// loseContext marks the window unknown when the sender keeps it.
func (z *deflateInflater) loseContext() {
	if z.takeover {
		z.lost = true
		z.hist = nil
	}
}

// remember appends inflated bytes to the window kept for the next unit.
func (z *deflateInflater) remember(p []byte) {
	w := z.window
	if len(p) >= w {
		z.hist = append(z.hist[:0], p[len(p)-w:]...)
		return
	}
	if z.hist == nil {
		z.hist = make([]byte, 0, 2*w)
	}
	if len(z.hist)+len(p) > cap(z.hist) {
		keep := min(w-len(p), len(z.hist))
		n := copy(z.hist, z.hist[len(z.hist)-keep:])
		z.hist = z.hist[:n]
	}
	z.hist = append(z.hist, p...)
}
