// Package dissect decodes WebSocket conversations from the two reassembled
// byte streams of a TCP connection.
//
// The package is pure: it imports no packet library and does no I/O. A
// Conversation is fed the bytes of each direction in whatever pieces the
// reassembler hands over and reports what it finds to a Sink as events:
// handshakes, frames, messages, violations, gaps and the end of the
// conversation. Feeding a stream whole, one byte at a time or in random
// splits yields the same events.
//
// Events are passed by pointer and, with the byte slices they hold, are valid
// only during the Sink call: a sink that keeps anything copies it. This keeps
// the decoding path free of allocations.
package dissect

import (
	"fmt"
	"time"
)

// Direction says which endpoint sent the bytes of a frame or message.
type Direction uint8

const (
	// FromClient is the direction from the endpoint that opened the
	// WebSocket (sent the upgrade request) to the other one.
	FromClient Direction = iota
	// FromServer is the opposite direction.
	FromServer
)

// String returns "client" or "server", the JSON token of the direction.
func (d Direction) String() string {
	if d == FromClient {
		return "client"
	}
	return "server"
}

// Opposite returns the other direction.
func (d Direction) Opposite() Direction { return 1 - d }

// Opcode is the 4-bit frame type of RFC 6455 section 5.2.
type Opcode uint8

// Opcodes defined by RFC 6455 section 11.8. The others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (0x8 to 0xF), RFC 6455 §5.5.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o has no meaning in RFC 6455 (0x3-0x7, 0xB-0xF).
func (o Opcode) IsReserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

var opcodeNames = [16]string{
	"cont", "text", "binary", "0x3", "0x4", "0x5", "0x6", "0x7",
	"close", "ping", "pong", "0xb", "0xc", "0xd", "0xe", "0xf",
}

// String returns the stable token of the opcode: "text", "binary", "close",
// "ping", "pong", "cont", or "0x3".."0xf" for reserved ones.
func (o Opcode) String() string { return opcodeNames[o&0xF] }

// Protocol names the WebSocket dialect of a conversation.
type Protocol string

// Dialects wsdump decodes.
const (
	ProtoRFC6455 Protocol = "rfc6455"
	ProtoHixie76 Protocol = "hixie-76"
	ProtoHixie75 Protocol = "hixie-75"
)

// Header is one HTTP header line as it was on the wire (name in its original
// case, value with surrounding white space trimmed).
type Header struct {
	Name  string
	Value string
}

// Extension is one entry of a Sec-WebSocket-Extensions list.
type Extension struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is one parameter of an extension; HasValue is false for a
// bare token such as "client_max_window_bits".
type ExtensionParam struct {
	Name     string
	Value    string
	HasValue bool
}

// Request is a parsed HTTP/1.x request header block.
type Request struct {
	Method  string
	URI     string
	Version string // "HTTP/1.1"
	Headers []Header
	Time    time.Time // when the first byte of the request was seen
}

// Response is a parsed HTTP/1.x response header block.
type Response struct {
	Version    string
	StatusCode int
	Reason     string
	Headers    []Header
	Time       time.Time
}

// Get returns the value of the first header named name (case-insensitive).
func GetHeader(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Handshake is the opening handshake of a conversation: the upgrade request,
// and the response when one was captured.
type Handshake struct {
	Protocol Protocol
	Request  Request
	Response *Response // nil while (or if) no response was seen

	// Upgraded is true when the response accepted the upgrade (101) and
	// frames follow; false for a refused or unanswered upgrade.
	Upgraded bool

	Host      string
	Origin    string
	UserAgent string

	Key     string // Sec-WebSocket-Key
	Accept  string // Sec-WebSocket-Accept
	Version string // Sec-WebSocket-Version
	// AcceptValid reports whether Accept equals the value computed from Key
	// (RFC 6455 §4.2.2); ExpectedAccept is that value.
	AcceptValid    bool
	ExpectedAccept string

	OfferedSubprotocols []string
	Subprotocol         string // selected by the server, "" if none

	OfferedExtensions  []Extension // from every Sec-WebSocket-Extensions request header, in order
	AcceptedExtensions []Extension // from the response

	// Hixie-76 challenge: Key1, Key2 and the 8-byte key3 of the request, the
	// 16-byte answer of the response, and whether it matched.
	Key1, Key2       string
	Key3             []byte
	ChallengeAnswer  []byte
	ChallengeValid   bool
	ExpectedResponse []byte

	// Deflate describes what was negotiated for permessage-deflate (or a
	// per-frame deflate extension); nil when no compression was agreed.
	Deflate *DeflateParams
}

// DeflateParams is the outcome of compression negotiation (RFC 7692 §7).
type DeflateParams struct {
	Extension string // "permessage-deflate", "x-webkit-deflate-frame", "deflate-frame"
	PerFrame  bool   // deflate-frame style: each frame compressed on its own
	// Indexed by Direction: what the sender of that direction compresses with.
	NoContextTakeover [2]bool
	MaxWindowBits     [2]int // 8..15; 15 when not limited
}

// Frame is one WebSocket frame (RFC 6455 §5.2), or one hixie frame.
type Frame struct {
	Dir   Direction
	Index uint64    // 0-based, per direction
	Time  time.Time // capture time of the segment that completed the frame
	Start time.Time // capture time of the segment holding the first header byte

	Fin    bool
	Rsv    uint8 // RSV1 is 0x4, RSV2 0x2, RSV3 0x1
	Opcode Opcode
	Masked bool
	Mask   [4]byte

	Length    uint64 // payload length announced in the header
	HeaderLen int    // bytes of header on the wire (2 to 14; hixie: type and length bytes)

	// HixieType is the frame type byte of a hixie-75/76 frame: 0x00 for
	// text, 0xFF for the closing handshake (0xFF 0x00), others as sent.
	// Zero for RFC 6455 frames.
	HixieType uint8

	// Payload holds the first bytes of the payload, unmasked, up to the
	// payload cap; PayloadTruncated says it holds fewer than Length bytes.
	Payload          []byte
	PayloadTruncated bool
}

// Message is a complete data message (one or more frames) or a control frame.
type Message struct {
	Dir    Direction
	Index  uint64 // 0-based, per direction, counting data messages and control frames
	Opcode Opcode // OpText, OpBinary, a control opcode, or a reserved one
	Frames int    // frames that made up the message
	Start  time.Time
	End    time.Time

	WireLength uint64 // header and payload bytes on the wire, all frames
	// WirePayload is the payload bytes on the wire, all frames: what
	// Length was before inflating.
	WirePayload uint64
	Length      uint64 // payload bytes after unmasking and inflating
	// Payload holds the first bytes of the payload after unmasking and
	// inflating, up to the payload cap; Truncated says some were cut.
	Payload   []byte
	Truncated bool
	// PayloadHandedOff (only under Config.HandOff) says that Payload stays
	// valid after the call: the sink owns its buffer and gives it back
	// with ReleasePayload.
	PayloadHandedOff bool
	SHA256           [32]byte // over the whole payload, also the bytes beyond the cap

	Compressed bool   // RSV1 set (permessage-deflate) or per-frame compression
	Inflated   bool   // Payload is inflated output
	InflateErr string // why inflating failed, "" if it did not
	ValidUTF8  bool   // the whole payload is valid UTF-8 (of a close frame: the reason)
	// Incomplete is set on a data message whose final frame never came: the
	// connection ended or lost bytes first, or a new data message began.
	// Frames counts its complete frames; Length and WireLength the bytes seen.
	Incomplete bool

	// Close frames (Opcode == OpClose).
	HasCloseCode bool
	CloseCode    uint16
	CloseReason  string

	// Pong frames: the round-trip time to the ping with the same payload.
	HasRTT      bool
	RTT         time.Duration
	Unsolicited bool // a pong that answers no ping seen
}

// CloseInfo summarises the closing handshake of a conversation.
type CloseInfo struct {
	// Initiator is the direction that sent the first close frame; meaningful
	// only when Sent[Initiator] is true.
	Initiator Direction
	Sent      [2]bool // indexed by Direction: a close frame was seen from that side
	Code      [2]uint16
	HasCode   [2]bool
	Reason    [2]string
	// Clean is true when both sides sent a close frame. A connection that ended
	// (FIN or RST) without one is abnormal: code 1006 semantics.
	Clean bool
}

// Severity ranks violations.
type Severity uint8

// Severities, from least to most serious.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	}
	return "error"
}

// Violation is traffic that breaks the protocol. It is data, not an error:
// decoding goes on after it.
type Violation struct {
	Code     string // stable snake_case token, for example "ws.client_frame_unmasked"
	Severity Severity
	Dir      Direction
	HasFrame bool
	Frame    uint64 // frame index in Dir, when HasFrame
	Time     time.Time
	Detail   string // short human text
	Ref      string // the specification section, for example "RFC 6455 §5.1"
}

func (v *Violation) String() string {
	return fmt.Sprintf("%s (%s): %s", v.Code, v.Ref, v.Detail)
}

// Gap says that bytes of a direction were not captured.
type Gap struct {
	Dir    Direction
	Time   time.Time
	Offset uint64 // stream offset of the first lost byte, in bytes from the start of the direction
	Length uint64 // bytes lost
	// InFrame is true when the gap fell inside a frame (or the handshake)
	// and the direction could not be decoded on.
	InFrame bool
}

// Sink receives the events of conversations. The pointers and the slices in
// them are valid only during the call.
type Sink interface {
	Handshake(c *ConvRef, h *Handshake)
	Frame(c *ConvRef, f *Frame)
	Message(c *ConvRef, m *Message)
	Violation(c *ConvRef, v *Violation)
	Gap(c *ConvRef, g *Gap)
	// End is called once, after every other event of the conversation.
	End(c *ConvRef, s *Summary)
}

// ConvRef identifies the conversation an event belongs to. It is owned by
// the caller that created the conversation and stays valid (and the same
// pointer) for the conversation's life, so sinks may use it as a map key.
type ConvRef struct {
	ID uint64
	// Client and Server are the endpoints as "ip:port" strings, the client
	// being the side that sent the upgrade request (or, without a handshake,
	// the side believed to have opened the connection).
	Client, Server string
	// Swapped is set by the dissector when it learned from the content that
	// the side the reassembler called the client is in fact the server.
	Swapped bool
	// User is free for the owner of the conversation.
	User any
}

// EndReason says how the TCP connection of a conversation ended.
type EndReason uint8

// How a connection can end.
const (
	EndUnknown EndReason = iota
	EndFIN               // both sides (or one side) closed with FIN
	EndRST               // a RST was seen
	EndTimeout           // idle for longer than the idle timeout
	EndCapture           // still open when the input ended
	EndReused            // a new connection reused the addresses and ports
)

func (r EndReason) String() string {
	switch r {
	case EndFIN:
		return "fin"
	case EndRST:
		return "rst"
	case EndTimeout:
		return "timeout"
	case EndCapture:
		return "open"
	case EndReused:
		return "reused"
	}
	return "unknown"
}

// DirStats counts what one direction carried.
type DirStats struct {
	Frames        uint64
	Messages      uint64 // data messages
	Controls      uint64 // control frames
	WireBytes     uint64 // bytes of frames on the wire (headers included)
	PayloadBytes  uint64 // payload bytes after unmasking and inflating
	Compressed    uint64 // compressed payload bytes (as on the wire)
	Inflated      uint64 // bytes those inflated to
	Pings, Pongs  uint64
	Violations    uint64
	GapBytes      uint64
	RTTCount      uint64
	RTTMin        time.Duration
	RTTMax        time.Duration
	RTTSum        time.Duration
	OutOfSync     bool // a gap or undecodable bytes stopped decoding of this direction
	UndecodedTail uint64
}

// Summary is the end-of-conversation report.
type Summary struct {
	Protocol    Protocol // "" when the conversation never became WebSocket
	IsWebSocket bool
	// Midstream is set when the handshake was not seen and the frames were
	// found by their headers.
	Midstream  bool
	Handshake  *Handshake // nil if none was seen
	Start, End time.Time
	EndReason  EndReason
	Close      CloseInfo
	Stats      [2]DirStats // indexed by Direction
	// TCP holds the transport counts of each direction. The dissector sees
	// only bytes; the owner of the conversation fills these in.
	TCP [2]TCPStats
}

// TCPStats are the transport-level counts of one direction of a connection.
type TCPStats struct {
	Packets  uint64 // TCP segments seen
	Bytes    uint64 // TCP payload bytes seen, retransmissions included
	Gaps     uint64 // times bytes were lost
	GapBytes uint64 // bytes lost
	FIN, RST bool
}
