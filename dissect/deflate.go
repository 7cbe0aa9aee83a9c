package dissect

import (
	"errors"
	"strconv"
)

// This file inflates compressed WebSocket payloads: permessage-deflate
// (RFC 7692), where RSV1 on the first frame marks a compressed message, and
// the older per-frame drafts "x-webkit-deflate-frame" and "deflate-frame",
// where RSV1 marks each compressed frame.
//
// A compressed unit (a message, or a frame of the per-frame drafts) is
// inflated as its bytes arrive by the decoder of inflate.go, then ended
// with the 4 bytes 00 00 FF FF that the sender removed (RFC 7692 §7.2.2),
// after which the decoder must be at a block boundary. With context
// takeover the decoder, which holds the window, stays with the direction
// from unit to unit; without it a decoder is taken from a pool for each
// unit. Problems found while inflating are reported at the end of the unit,
// so events come in the same order however the bytes were split.

// syncTail ends every complete compressed unit: the empty stored block
// that the sender removed (RFC 7692 §7.2.1).
var syncTail = [...]byte{0x00, 0x00, 0xff, 0xff}

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
	errUnitEnd     = errors.New("compressed data ends inside a deflate block")
)

// deflateInflater inflates the compressed messages of one direction. It
// implements messageInflater, and inflateSink for its decoder.
type deflateInflater struct {
	cfg       *Config
	frameMode bool   // per-frame drafts: RSV1 marks compressed frames
	takeover  bool   // the sender keeps its LZ77 window across units
	window    int    // the negotiated window
	ref       string // the specification, for violations

	// Context.
	st           *inflateStream // the decoder; kept between units with takeover
	lost         bool           // the context is gone: compressed units cannot be inflated
	lostReported bool

	// Message in progress.
	anyUnit   bool   // a compressed unit was inflated (or tried) in this message
	raw       bool   // compressed bytes pass through uncompressed (context lost)
	cut       bool   // a limit stopped inflating; the rest of the message is dropped
	cutDetail string // why, reported at the end of the unit
	err       error  // first problem of the message
	inN       uint64 // compressed bytes of the message
	outN      uint64 // inflated bytes handed out
	out       inflateOutput

	// Unit in progress.
	unit  bool // the current frame (per-frame) or message is compressed
	unitN int  // compressed bytes of the unit
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

func (z *deflateInflater) perFrame() bool { return z.frameMode }

func (z *deflateInflater) begin(compressed bool) bool {
	z.anyUnit, z.raw, z.cut, z.err = false, false, false, nil
	z.cutDetail = ""
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

// release implements messageInflater.
func (z *deflateInflater) release() {
	if z.st != nil {
		putInflateStream(z.st)
		z.st = nil
	}
}

// beginUnit starts a compressed unit.
func (z *deflateInflater) beginUnit() {
	z.unit = true
	z.anyUnit = true
	z.unitN = 0
	if z.lost {
		z.raw = true
		if z.err == nil {
			z.err = errContextLost
		}
		return
	}
	if z.cut {
		return
	}
	if z.st == nil {
		z.st = getInflateStream(z.window)
		return
	}
	z.st.beginUnit(z.takeover)
}

// inflated implements inflateSink: output of the decoder, checked against
// the limits.
func (z *deflateInflater) inflated(p []byte) bool {
	limit := z.maxInflate()
	if room := limit - z.outN; uint64(len(p)) > room {
		p = p[:room]
		z.cut = true
		z.cutDetail = "inflated size exceeds the limit of " + strconv.FormatUint(limit, 10) + " bytes; message cut there"
	}
	z.outN += uint64(len(p))
	z.out.writePayload(p)
	if ratio := uint64(max(z.cfg.MaxInflateRatio, 0)); !z.cut && ratio > 0 && z.outN > ratioFloor && z.outN > ratio*z.inN {
		z.cut = true
		z.cutDetail = "inflated size exceeds " + strconv.FormatUint(ratio, 10) + " times the compressed size; message cut at " + strconv.FormatUint(z.outN, 10) + " bytes"
	}
	return !z.cut
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
	z.unitN += len(p)
	z.out = out
	z.st.feed(p, z)
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
	z.out = nil
	return inflateResult{inflated: z.anyUnit && !z.raw, cut: z.cut, err: z.err}
}

// endUnit completes the unit in progress. complete is false for a message
// cut short: what arrived is all there is.
func (z *deflateInflater) endUnit(out inflateOutput, complete bool) {
	if z.raw {
		return
	}
	z.out = out
	st := z.st
	if !z.cut {
		if complete && z.unitN == 0 {
			// No bytes at all: an empty message to a streaming decoder.
			return
		}
		if complete {
			st.feed(syncTail[:], z)
		}
		st.flush(z)
	}
	if z.cut {
		// A limit stopped this message, now or in an earlier unit (which
		// reported it already).
		if z.cutDetail != "" {
			if z.err == nil {
				z.err = errors.New(z.cutDetail)
			}
			out.inflateViolation("ws.inflate_limit", SeverityWarning, z.ref, z.cutDetail)
			z.cutDetail = ""
		}
		// With takeover the window is unknown from here on.
		z.loseContext()
		z.dropStream()
		return
	}
	var uerr error
	switch {
	case st.err != nil:
		uerr = st.err
	case !complete:
		z.loseContext()
	case !st.atBoundary():
		uerr = errUnitEnd
	}
	if uerr != nil {
		if z.err == nil {
			z.err = uerr
		}
		out.inflateViolation("ws.inflate_failed", SeverityError, z.ref, "compressed payload does not inflate: "+uerr.Error())
		z.loseContext()
	}
	if !z.takeover || z.lost {
		z.dropStream()
	}
}

// dropStream gives the decoder back to the pool.
func (z *deflateInflater) dropStream() {
	if z.st != nil {
		putInflateStream(z.st)
		z.st = nil
	}
}

// loseContext marks the window unknown when the sender keeps it.
func (z *deflateInflater) loseContext() {
	if z.takeover {
		z.lost = true
	}
}
