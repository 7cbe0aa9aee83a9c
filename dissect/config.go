package dissect

import (
	"crypto/sha256"

	"github.com/wsdump/wsdump/internal/sha256x"
)

// Config holds the limits and switches of the dissector. The zero value is
// not useful; start from DefaultConfig.
//
// A message of any number of fragments costs the same memory: frames are
// counted, not kept one by one, and the payload kept is capped by
// MaxPayload (compressed messages by MaxInflate), so no limit on the
// fragments of a message is needed.
type Config struct {
	// MaxPayload is how many payload bytes of each frame and message are
	// kept in events. 0 keeps every byte. Lengths and SHA-256 always cover
	// the whole payload.
	MaxPayload int
	// MaxHeaderBlock caps an HTTP header block (request or response line and
	// headers). A longer block is reported and the conversation is not
	// decoded further as HTTP.
	MaxHeaderBlock int
	// MaxInflate caps the inflated size of one compressed message; 0 or
	// less means the default. Inflating stops at the cap: the message is
	// reported with Truncated set, Length equal to the cap, InflateErr
	// saying why, and a ws.inflate_limit violation. Compressed bytes are
	// inflated as they arrive, never held whole.
	MaxInflate int
	// MaxInflateRatio, when positive, also stops inflating a message whose
	// inflated size is over 1 MiB and over MaxInflateRatio times its
	// compressed size (a decompression bomb). DEFLATE cannot exceed about
	// 1032:1, so values at or above that never trigger.
	MaxInflateRatio int
	// Midstream finds frames by their headers where no handshake was
	// captured (a capture started after it), and again after a gap.
	Midstream bool
	// NoDigest leaves Message.SHA256 of data messages zero instead of
	// hashing every payload byte: for runs whose outputs never show the
	// digest. Control frames are always hashed (pongs are matched to
	// pings by it).
	NoDigest bool
	// LateDigest hashes only data messages whose payload is not kept
	// whole: longer than MaxPayload (a fragmented or compressed message
	// from the moment it gets longer). The others are reported with
	// SHA256 zero and their whole payload in Payload; FillDigest computes
	// their digest from it, which lets the owner do it later, on another
	// goroutine, or for many messages at once. Without effect under
	// NoPayload.
	LateDigest bool
	// NoPayload keeps no payload bytes of data frames and messages in
	// events (their Payload is empty; lengths, UTF-8 checks and inflating
	// are unchanged): for runs whose outputs show no payload. Control
	// frames keep theirs.
	NoPayload bool
	// NoFramePayload keeps no payload bytes of data frames in Frame
	// events (their Payload is empty and PayloadTruncated set when the
	// frame had any), while messages keep theirs: for runs whose outputs
	// show messages but no frames. Control frames keep theirs.
	NoFramePayload bool
	// HandOff lets the sink keep the payload of a data message that the
	// dissector copied into a buffer of its own (at least 8 KiB of it),
	// instead of copying it again: such a message comes with
	// PayloadHandedOff set, the dissector never writes to that buffer
	// again, and the sink gives it back with ReleasePayload when done.
	HandOff bool
	// Digests, when not nil, lets the digests of data messages queue the
	// payload bytes they are fed, to hash them later, several messages at
	// a time (sha256x.Hasher.Flush). The caller promises that the bytes
	// it feeds to conversations stay unchanged until it calls
	// Digests.Flush; bytes the dissector holds in buffers of its own
	// (unmasked, inflated, kept from an earlier call) are hashed at once.
	Digests *sha256x.Hasher
}

// DefaultConfig returns the limits used when none are given.
func DefaultConfig() Config {
	return Config{
		MaxPayload:     64 << 10,
		MaxHeaderBlock: 64 << 10,
		MaxInflate:     16 << 20,
		Midstream:      true,
	}
}

// keep returns how many of n payload bytes are kept under the payload cap.
func (c *Config) keep(n uint64) uint64 {
	if c.MaxPayload <= 0 || n <= uint64(c.MaxPayload) {
		return n
	}
	return uint64(c.MaxPayload)
}

// DigestLeft reports whether m was reported without its SHA256, left to
// its owner (see Config.LateDigest): its payload is whole and its digest
// zero.
func DigestLeft(m *Message) bool {
	return m.SHA256 == ([32]byte{}) && uint64(len(m.Payload)) == m.Length
}

// FillDigest sets the SHA256 of a message reported without it (see
// DigestLeft) from its payload. It leaves a message that has its digest,
// or whose payload was cut, as it is.
func FillDigest(m *Message) {
	if DigestLeft(m) {
		m.SHA256 = sha256.Sum256(m.Payload)
	}
}
