package dissect

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// This file follows the HTTP/1.x exchanges of one TCP connection (RFC 7230)
// until a WebSocket upgrade succeeds. It finds which side is the client,
// skips message bodies by counting, and hands complete upgrade requests and
// their answers to handshake.go.
//
// Feeding contract. feed(s, data, t) consumes what side s can use now and
// returns how many bytes that was. A short return (n < len(data)) means one
// of two things, told apart by upgraded(s):
//   - upgraded(s) is true: data[n:] are WebSocket frames of side s;
//   - otherwise side s waits for the other side: the client has sent an
//     upgrade (or CONNECT) request and what follows depends on the answer,
//     or a response arrived before the request it answers. The caller keeps
//     data[n:] and offers it again, with the bytes that arrive later for
//     side s appended, after each feed of the other side. The phase itself
//     never holds bytes beyond one header block.
//
// A short return for the same rule also happens when a side's first bytes
// are a proper prefix of "HTTP/" (a response and a request cannot be told
// apart yet), and when the client has 64 requests in flight without an
// answer: keep and offer again.
//
// Events. onHandshake receives each upgrade attempt once: when its answer
// has been parsed (upgraded or refused), or at end (or when a later upgrade
// request shows it was never answered) with Response nil. The Handshake is
// newly allocated and not touched by the phase afterwards. The violations
// of a handshake (ws.*) follow it; HTTP framing violations (http.*) are
// reported when found. onViolation gets the side; Violation.Dir is filled
// from the side that sent a request line, or as if side 0 were the client
// while none has. The phase records no frame index (HasFrame is false).
//
// Times: a record's Time is the t of the feed call that consumed its first
// byte; bytes offered again after waiting get the t of that later call.
//
// What a waiting client sends is bounded only by the caller's own cap on
// kept bytes; RFC 6455 §4.1 forbids the client to send frames before the 101,
// so in practice it is empty or small.

// maxPipeline caps the requests sent ahead of their responses that the phase
// tracks; a client side that sends more waits for answers.
const maxPipeline = 64

// maxMethod caps the length of a request method: a longer first word is
// taken as evidence that the stream is not HTTP.
const maxMethod = 32

// maxChunkLine caps the bytes of a chunk-size line (extensions included).
const maxChunkLine = 4096

type phaseState uint8

const (
	stStart    phaseState = iota // between messages
	stHead                       // reading a header block
	stBody                       // skipping a body of known length
	stChunked                    // skipping a chunked body
	stFixed                      // reading hixie-76 key3 or challenge answer
	stWait                       // client waits for the answer to its request
	stUpgraded                   // past the handshake: bytes are frames
)

// chunk parser states (RFC 7230 §4.1).
const (
	ckSize        = iota // chunk-size hex digits
	ckExt                // rest of the chunk-size line, up to LF
	ckData               // chunk data
	ckDataCR             // CRLF after chunk data
	ckDataLF             // LF after chunk data's CR
	ckTrailerLine        // start of a trailer line (or of the final CRLF)
	ckTrailerCR          // the final CR was seen, LF must follow
	ckTrailerRest        // inside a trailer field line, up to LF
)

type httpSide struct {
	st        phaseState
	isResp    bool // the message being read is a response
	buf       []byte
	lineStart int // offset in buf of the header line being read
	firstDone bool
	first     lineCheck
	start     time.Time // capture time of the first byte of the message

	remain  uint64 // body bytes left to skip, or fixed bytes left to read
	ck      uint8
	ckAny   bool // at least one hex digit in the chunk size
	ckCount int  // bytes of the current chunk-size line or of the trailer
	msgWS   bool // the message being read is part of the WebSocket handshake
	blocks  bool // the request being read makes the client wait for its answer
}

// pendingReq is a request of the client that has not been answered yet.
type pendingReq struct {
	head     bool // HEAD: the response has no body
	connect  bool // CONNECT: a 2xx answer turns the connection into a tunnel
	ws       bool // WebSocket upgrade request; p.hs describes it
	upgrade  bool // asks for some protocol upgrade
	blocking bool // the client waits for its answer
	hixie76  bool
}

// httpPhase follows the HTTP/1.x exchanges of one connection until a
// WebSocket upgrade completes. See the feeding contract above.
type httpPhase struct {
	cfg     *Config
	maxHead int
	client  int // side that sent the first request line, -1 while unknown
	side    [2]httpSide
	queue   []pendingReq
	hs      *Handshake // upgrade request waiting for or being answered
	hsRep   bool       // hs was reported
	hsViols []sideViolation
	cur     pendingReq // request whose header block was just parsed
	dead    bool
	ended   bool
	// stopReason says why the phase gave up (for notHTTP), "" if it did not.
	stopReason string

	// Callbacks, set by the owner before the first feed; either may be nil.
	onHandshake func(h *Handshake)
	onViolation func(side int, v *Violation)
}

// newHTTPPhase returns a phase with no callbacks; set onHandshake and
// onViolation before the first feed.
func newHTTPPhase(cfg *Config) *httpPhase {
	p := &httpPhase{cfg: cfg, client: -1}
	p.maxHead = DefaultConfig().MaxHeaderBlock
	if cfg != nil && cfg.MaxHeaderBlock > 0 {
		p.maxHead = cfg.MaxHeaderBlock
	}
	return p
}

// clientSide returns the side that sent a request line, once one did.
func (p *httpPhase) clientSide() (side int, known bool) {
	return p.client, p.client >= 0
}

// upgraded reports whether side s is past the handshake: its further bytes
// are WebSocket frames.
func (p *httpPhase) upgraded(s int) bool { return p.side[s&1].st == stUpgraded }

// notHTTP reports that the phase gave up: the stream is not HTTP/1.x, or it
// left HTTP in a way that is not WebSocket (a body delimited by the end of
// the connection, a CONNECT tunnel, an upgrade to another protocol, a header
// block over the cap, a message that cannot be framed). The conversation will
// not become WebSocket; stop feeding. stopReason tells why.
func (p *httpPhase) notHTTP() bool { return p.dead }

func (p *httpPhase) giveUp(reason string) {
	if !p.dead {
		p.dead = true
		p.stopReason = reason
	}
}

// dirOf maps a side to a direction, taking side 0 as the client while no
// request line has been seen.
func (p *httpPhase) dirOf(s int) Direction {
	c := p.client
	if c < 0 {
		c = 0
	}
	if s == c {
		return FromClient
	}
	return FromServer
}

func (p *httpPhase) violate(s int, code string, sev Severity, ref, detail string, t time.Time) {
	if p.onViolation == nil {
		return
	}
	v := Violation{Code: code, Severity: sev, Dir: p.dirOf(s), Time: t, Detail: detail, Ref: ref}
	p.onViolation(s, &v)
}

func (p *httpPhase) malformed(s int, detail string, t time.Time) {
	if p.client < 0 {
		// No request line yet: the connection is simply not HTTP (TLS,
		// SSH, a WebSocket picked up after its handshake...). That is
		// not a violation of anything.
		p.giveUp("not HTTP: " + detail)
		return
	}
	p.violate(s, "http.malformed", SeverityError, "RFC 7230 §3", detail, t)
	p.giveUp("malformed HTTP: " + detail)
}

// feed consumes bytes of side s (0 or 1) captured at t; see the feeding
// contract at the top of this file. After notHTTP, feed discards everything
// and returns len(data).
func (p *httpPhase) feed(s int, data []byte, t time.Time) (n int) {
	s &= 1
	sd := &p.side[s]
	i := 0
	for i < len(data) {
		if p.dead {
			return len(data)
		}
		switch sd.st {
		case stUpgraded, stWait:
			return i
		case stStart:
			// RFC 7230 §3.5: empty lines before a message are ignored.
			for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
				i++
			}
			if i == len(data) {
				return i
			}
			if !p.startMessage(s, data[i:], t) {
				if p.dead {
					return len(data)
				}
				return i
			}
		case stHead:
			k, done := p.readHead(s, data[i:], t)
			i += k
			if done {
				p.headerBlock(s, t)
			}
		case stBody:
			k := uint64(len(data) - i)
			if k > sd.remain {
				k = sd.remain
			}
			sd.remain -= k
			i += int(k)
			if sd.remain == 0 {
				p.messageDone(s, t)
			}
		case stChunked:
			k, done := p.readChunked(s, data[i:], t)
			i += k
			if done {
				p.messageDone(s, t)
			}
		case stFixed:
			k := len(data) - i
			if uint64(k) > sd.remain {
				k = int(sd.remain)
			}
			if p.hs != nil {
				if sd.isResp {
					p.hs.ChallengeAnswer = append(p.hs.ChallengeAnswer, data[i:i+k]...)
				} else {
					p.hs.Key3 = append(p.hs.Key3, data[i:i+k]...)
				}
			}
			sd.remain -= uint64(k)
			i += k
			if sd.remain == 0 {
				p.messageDone(s, t)
			}
		}
	}
	return i
}

// startMessage decides, from the first bytes of a message of side s, whether
// it may start now. It returns false when side s must wait for more bytes
// or for the other side (or when the phase gave up).
func (p *httpPhase) startMessage(s int, b []byte, t time.Time) bool {
	const httpSlash = "HTTP/"
	sd := &p.side[s]
	isResp := false
	switch {
	case p.client == s:
		if len(p.queue) >= maxPipeline {
			return false
		}
	case p.client >= 0:
		isResp = true
	default:
		// Role unknown: a response starts with "HTTP/", which no method
		// does ('/' is not a token character).
		k := len(b)
		if k > len(httpSlash) {
			k = len(httpSlash)
		}
		if string(b[:k]) == httpSlash[:k] {
			if k < len(httpSlash) {
				return false // cannot tell yet
			}
			isResp = true
		}
	}
	if isResp {
		if k := statusPrefixBad(b); k >= 0 {
			p.malformed(s, "expected a status line, got "+quotePrefix(b[:k+1]), t)
			return false
		}
		if len(p.queue) == 0 {
			return false // nothing to answer yet
		}
	}
	*sd = httpSide{st: stHead, isResp: isResp, buf: sd.buf[:0], start: t}
	return true
}

// statusPattern is the start of every status line: d stands for a digit.
const statusPattern = "HTTP/1.d ddd"

// statusPrefixBad checks the bytes available of "HTTP/1.x DDD" and returns
// the index of the first byte that does not fit, or -1.
func statusPrefixBad(b []byte) int {
	const pat = statusPattern
	for i := 0; i < len(b) && i < len(pat); i++ {
		c := b[i]
		if pat[i] == 'd' {
			if c < '0' || c > '9' {
				return i
			}
		} else if c != pat[i] {
			return i
		}
	}
	return -1
}

func quotePrefix(b []byte) string {
	if len(b) > 24 {
		return strconv.Quote(string(b[:24])) + "..."
	}
	return strconv.Quote(string(b))
}

// lineCheck validates a request line byte by byte (RFC 7230 §3.1.1:
// method SP request-target SP HTTP-version CRLF), so that a stream that is
// not HTTP is rejected within its first bytes.
type lineCheck struct {
	st uint8
	n  int
}

// step takes the next byte; it returns false when the line cannot be a
// request line.
func (c *lineCheck) step(b byte) bool {
	const ver = "HTTP/1."
	switch c.st {
	case 0: // method
		if b == ' ' && c.n > 0 {
			c.st, c.n = 1, 0
			return true
		}
		if !isTchar(b) || c.n >= maxMethod {
			return false
		}
		c.n++
	case 1: // request-target
		if b == ' ' && c.n > 0 {
			c.st, c.n = 2, 0
			return true
		}
		if b <= ' ' || b == 0x7f {
			return false
		}
		c.n++
	case 2: // version
		if c.n < len(ver) {
			if b != ver[c.n] {
				return false
			}
			c.n++
			return true
		}
		if b < '0' || b > '9' {
			return false
		}
		c.st = 3
	case 3:
		switch b {
		case '\r':
			c.st = 4
		case '\n':
			c.st = 5
		default:
			return false
		}
	case 4:
		if b != '\n' {
			return false
		}
		c.st = 5
	default:
		return false
	}
	return true
}

func (c *lineCheck) done() bool { return c.st == 5 }

// readHead buffers header bytes of side s up to the end of the block (an
// empty line) and reports whether the block is complete.
func (p *httpPhase) readHead(s int, data []byte, t time.Time) (n int, done bool) {
	sd := &p.side[s]
	for n < len(data) {
		if sd.isResp && !sd.firstDone {
			// Check "HTTP/1.x DDD" as it arrives; the rest of the status
			// line is checked when the block is parsed.
			c := data[n]
			if k := statusPrefixBad(append(sd.buf, c)); k >= 0 {
				p.malformed(s, "expected a status line, got "+quotePrefix(append(sd.buf, c)), t)
				return n, false
			}
			sd.buf = append(sd.buf, c)
			n++
			if len(sd.buf) == len(statusPattern) {
				sd.firstDone = true
			}
			continue
		}
		if !sd.isResp && !sd.firstDone {
			c := data[n]
			if len(sd.buf) >= p.maxHead {
				p.tooLarge(s, t)
				return n, false
			}
			if !sd.first.step(c) {
				p.malformed(s, "not a request line: "+quotePrefix(append(sd.buf, c)), t)
				return n, false
			}
			sd.buf = append(sd.buf, c)
			n++
			if sd.first.done() {
				sd.firstDone = true
				sd.lineStart = len(sd.buf)
			}
			continue
		}
		rest := data[n:]
		k := bytes.IndexByte(rest, '\n')
		take := len(rest)
		if k >= 0 {
			take = k + 1
		}
		if len(sd.buf)+take > p.maxHead {
			p.tooLarge(s, t)
			return n, false
		}
		if sd.buf == nil {
			sd.buf = make([]byte, 0, 512)
		}
		sd.buf = append(sd.buf, rest[:take]...)
		n += take
		if k < 0 {
			break
		}
		line := sd.buf[sd.lineStart : len(sd.buf)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 && sd.lineStart > 0 {
			return n, true
		}
		sd.lineStart = len(sd.buf)
	}
	return n, false
}

func (p *httpPhase) tooLarge(s int, t time.Time) {
	p.violate(s, "http.header_too_large", SeverityError, "RFC 7230 §3.2.5",
		"header block longer than "+strconv.Itoa(p.maxHead)+" bytes", t)
	p.giveUp("header block too large")
}

// headBlock is a parsed header block.
type headBlock struct {
	first   string
	headers []Header
	bad     int    // malformed header lines
	badLine string // the first of them
}

// parseHeadBlock splits a complete header block (first line, header lines,
// empty line) into its lines. Lines end with LF, optionally preceded by CR
// (RFC 7230 §3.5). A line starting with white space continues the previous
// header value (obsolete line folding, RFC 7230 §3.2.4).
func parseHeadBlock(b []byte) headBlock {
	var hb headBlock
	// One copy of the block; the first line, names and values are pieces
	// of it.
	rest := string(b)
	if n := strings.Count(rest, "\n"); n > 1 {
		hb.headers = make([]Header, 0, min(n-1, maxHeadersPrealloc))
	}
	firstLine := true
	for len(rest) > 0 {
		k := strings.IndexByte(rest, '\n')
		var line string
		if k < 0 {
			line, rest = rest, ""
		} else {
			line, rest = rest[:k], rest[k+1:]
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if firstLine {
			hb.first = line
			firstLine = false
			continue
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(hb.headers) == 0 {
				hb.badHeader([]byte(line))
				continue
			}
			h := &hb.headers[len(hb.headers)-1]
			if v := trimOWS(line); v != "" {
				if h.Value == "" {
					h.Value = v
				} else {
					h.Value += " " + v
				}
			}
			continue
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 || !isToken(line[:c]) {
			hb.badHeader([]byte(line))
			continue
		}
		hb.headers = append(hb.headers, Header{
			Name:  line[:c],
			Value: trimOWS(line[c+1:]),
		})
	}
	return hb
}

// maxHeadersPrealloc bounds the room for headers made before parsing a
// block; a block with more headers grows it as needed.
const maxHeadersPrealloc = 32

func (hb *headBlock) badHeader(line []byte) {
	if hb.bad == 0 {
		hb.badLine = quotePrefix(line)
	}
	hb.bad++
}

// parseRequestLine splits a request line already checked by lineCheck.
func parseRequestLine(l string) (method, uri, version string) {
	a := indexByteString(l, ' ')
	rest := l[a+1:]
	b := indexByteString(rest, ' ')
	return l[:a], rest[:b], rest[b+1:]
}

// parseStatusLine parses "HTTP/1.x DDD reason" (RFC 7230 §3.1.2). The space
// and reason after the code may be missing.
func parseStatusLine(l string) (version string, code int, reason string, ok bool) {
	if len(l) < 12 || statusPrefixBad([]byte(l[:12])) >= 0 {
		return "", 0, "", false
	}
	version = l[:8]
	code = int(l[9]-'0')*100 + int(l[10]-'0')*10 + int(l[11]-'0')
	if len(l) > 12 {
		if l[12] != ' ' {
			return "", 0, "", false
		}
		reason = l[13:]
		for i := 0; i < len(reason); i++ {
			if c := reason[i]; c != '\t' && (c < ' ' || c == 0x7f) {
				return "", 0, "", false
			}
		}
	}
	return version, code, reason, true
}

// bodyKind is how a message body is delimited (RFC 7230 §3.3.3).
type bodyKind uint8

const (
	bodyNone bodyKind = iota
	bodyLength
	bodyChunked
	bodyClose // up to the end of the connection
	bodyBad   // cannot be framed
)

// bodyOf reads Transfer-Encoding and Content-Length. A response with
// neither runs to the end of the connection; a request with neither has no
// body (RFC 7230 §3.3.3).
func bodyOf(hs []Header, isResp bool) (kind bodyKind, length uint64, problem string) {
	var te []string
	haveCL := false
	for _, h := range hs {
		switch {
		case equalFold(h.Name, "Transfer-Encoding"):
			te = splitList(te, h.Value)
		case equalFold(h.Name, "Content-Length"):
			// A list of equal values is tolerated (RFC 7230 §3.3.2).
			for _, v := range splitList(nil, h.Value) {
				n, ok := parseDecimal(v)
				if !ok {
					return bodyBad, 0, "bad Content-Length " + strconv.Quote(h.Value)
				}
				if haveCL && n != length {
					return bodyBad, 0, "conflicting Content-Length values"
				}
				length, haveCL = n, true
			}
		}
	}
	if len(te) > 0 {
		if equalFold(te[len(te)-1], "chunked") {
			return bodyChunked, 0, ""
		}
		return bodyClose, 0, ""
	}
	if haveCL {
		if length == 0 {
			return bodyNone, 0, ""
		}
		return bodyLength, length, ""
	}
	if isResp {
		return bodyClose, 0, ""
	}
	return bodyNone, 0, ""
}

func parseDecimal(v string) (uint64, bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(v[i]-'0')
	}
	return n, true
}

func (p *httpPhase) reportBadHeaders(s int, hb *headBlock, t time.Time) {
	if hb.bad == 0 {
		return
	}
	d := "header line is not name: value: " + hb.badLine
	if hb.bad > 1 {
		d = strconv.Itoa(hb.bad) + " header lines are not name: value; first: " + hb.badLine
	}
	p.violate(s, "http.malformed", SeverityWarning, "RFC 7230 §3.2", d, t)
}

// headerBlock handles the complete header block buffered for side s.
func (p *httpPhase) headerBlock(s int, t time.Time) {
	sd := &p.side[s]
	hb := parseHeadBlock(sd.buf)
	if sd.isResp {
		p.response(s, &hb, t)
	} else {
		p.request(s, &hb, t)
	}
}

func (p *httpPhase) request(s int, hb *headBlock, t time.Time) {
	sd := &p.side[s]
	if p.client < 0 {
		p.client = s
	} else if p.client != s {
		p.malformed(s, "request line from the answering side", t)
		return
	}
	p.reportBadHeaders(s, hb, t)
	method, uri, version := parseRequestLine(hb.first)
	req := pendingReq{
		head:    method == "HEAD",
		connect: method == "CONNECT",
	}
	for _, h := range hb.headers {
		if equalFold(h.Name, "Upgrade") {
			req.upgrade = true
			if listHas(h.Value, "websocket") {
				req.ws = true
			}
		}
	}
	req.blocking = req.upgrade || req.connect
	kind, length, problem := bodyOf(hb.headers, false)
	if req.ws {
		// A new upgrade request: one unreported earlier request can only be
		// one whose answer never came.
		p.flushHandshake(t)
		p.hs = &Handshake{Request: Request{
			Method: method, URI: uri, Version: version,
			Headers: hb.headers, Time: sd.start,
		}}
		p.hsRep = false
		p.hsViols = p.hsViols[:0]
		p.requestFields(s, t)
		if p.hs.Protocol == ProtoHixie76 {
			// The 8 bytes of key3 follow the header block; there is no
			// Content-Length for them.
			kind, length, problem = bodyLength, 8, ""
			req.hixie76 = true
		}
	}
	switch kind {
	case bodyBad:
		p.malformed(s, problem, t)
		return
	case bodyClose:
		p.malformed(s, "request Transfer-Encoding does not end in chunked", t)
		return
	}
	p.cur = req
	sd.msgWS = req.ws
	sd.blocks = req.blocking
	if !req.blocking {
		p.queue = append(p.queue, req)
	}
	p.startBody(s, kind, length, req.hixie76, t)
}

func (p *httpPhase) startBody(s int, kind bodyKind, length uint64, fixed bool, t time.Time) {
	sd := &p.side[s]
	switch {
	case fixed:
		sd.st, sd.remain = stFixed, length
	case kind == bodyLength:
		sd.st, sd.remain = stBody, length
	case kind == bodyChunked:
		sd.st, sd.ck, sd.ckAny, sd.ckCount, sd.remain = stChunked, ckSize, false, 0, 0
	default:
		p.messageDone(s, t)
	}
}

// messageDone is called when the message of side s (headers and body) has
// been read entirely.
func (p *httpPhase) messageDone(s int, t time.Time) {
	sd := &p.side[s]
	if !sd.isResp {
		if sd.blocks {
			p.queue = append(p.queue, p.cur)
			sd.st = stWait
			return
		}
		sd.st = stStart
		return
	}
	if sd.msgWS && p.hs != nil && p.hs.Upgraded {
		// The hixie-76 challenge answer has been read.
		p.completeUpgrade(t)
		return
	}
	sd.st = stStart
}

func (p *httpPhase) response(s int, hb *headBlock, t time.Time) {
	sd := &p.side[s]
	version, code, reason, ok := parseStatusLine(hb.first)
	if !ok {
		p.malformed(s, "bad status line "+quotePrefix([]byte(hb.first)), t)
		return
	}
	p.reportBadHeaders(s, hb, t)
	req := p.queue[0]
	c := p.client
	if code/100 == 1 && code != 101 {
		// Interim response (100 Continue, 102, 103): the final one follows.
		sd.st = stStart
		return
	}
	copy(p.queue, p.queue[1:])
	p.queue = p.queue[:len(p.queue)-1]
	resp := &Response{Version: version, StatusCode: code, Reason: reason, Headers: hb.headers, Time: sd.start}
	if code == 101 {
		if !req.ws {
			p.giveUp("switched to a protocol other than WebSocket")
			return
		}
		p.hs.Response = resp
		p.hs.Upgraded = true
		if req.hixie76 && hixie75Response(hb.headers) {
			// A draft-76 request answered in the draft-75 form: no
			// challenge answer follows, frames do.
			p.hs.Protocol = ProtoHixie75
			p.hsViolate(s, "ws.hixie_downgrade", SeverityWarning, refHixie76,
				"draft-76 upgrade request answered with a draft-75 response (WebSocket-Location, no challenge answer)", t)
			p.completeUpgrade(t)
			return
		}
		if req.hixie76 {
			sd.msgWS = true
			sd.st, sd.remain = stFixed, 16
			return
		}
		p.completeUpgrade(t)
		return
	}
	if req.blocking {
		// The request was refused: the client goes on with HTTP.
		if p.side[c].st == stWait {
			p.side[c].st = stStart
		}
		if req.ws && p.hs != nil {
			p.hs.Response = resp
			p.reportHandshake(t)
			p.hs = nil
		}
		if req.connect && code/100 == 2 {
			p.giveUp("CONNECT tunnel")
			return
		}
	}
	kind, length, problem := bodyOf(hb.headers, true)
	if req.head || code == 204 || code == 304 {
		kind = bodyNone
	}
	switch kind {
	case bodyBad:
		p.malformed(s, problem, t)
		return
	case bodyClose:
		p.giveUp("response body delimited by the end of the connection")
		return
	}
	sd.msgWS = false
	p.startBody(s, kind, length, false, t)
}

func hasHeader(hs []Header, name string) bool {
	_, ok := GetHeader(hs, name)
	return ok
}

// completeUpgrade ends the handshake: both sides carry frames from now on.
func (p *httpPhase) completeUpgrade(t time.Time) {
	p.reportHandshake(t)
	p.side[0].st = stUpgraded
	p.side[1].st = stUpgraded
	p.side[0].buf, p.side[1].buf = nil, nil
}

// readChunked skips a chunked body (RFC 7230 §4.1) by counting: chunk-size
// lines, chunk data and the trailer section. It reports whether the body
// ended.
func (p *httpPhase) readChunked(s int, data []byte, t time.Time) (n int, done bool) {
	sd := &p.side[s]
	for n < len(data) {
		c := data[n]
		switch sd.ck {
		case ckSize:
			if v, ok := hexVal(c); ok {
				if sd.remain > (1<<60)-1 {
					p.malformed(s, "chunk size too large", t)
					return n, false
				}
				sd.remain = sd.remain<<4 | uint64(v)
				sd.ckAny = true
				sd.ckCount++
				n++
				continue
			}
			if !sd.ckAny {
				p.malformed(s, "bad chunk size line", t)
				return n, false
			}
			sd.ck = ckExt
			continue // the same byte is looked at as part of the rest
		case ckExt:
			n++
			sd.ckCount++
			if c == '\n' {
				sd.ckCount = 0
				sd.ckAny = false
				if sd.remain == 0 {
					sd.ck = ckTrailerLine
				} else {
					sd.ck = ckData
				}
				continue
			}
			// Chunk extensions are skipped; only control bytes, which no
			// extension or quoted-string holds, reject the line.
			if (c < ' ' && c != '\t' && c != '\r') || c == 0x7f {
				p.malformed(s, "bad chunk extension", t)
				return n, false
			}
			if sd.ckCount > maxChunkLine {
				p.malformed(s, "chunk size line too long", t)
				return n, false
			}
		case ckData:
			k := uint64(len(data) - n)
			if k > sd.remain {
				k = sd.remain
			}
			sd.remain -= k
			n += int(k)
			if sd.remain == 0 {
				sd.ck = ckDataCR
			}
		case ckDataCR:
			n++
			switch c {
			case '\r':
				sd.ck = ckDataLF
			case '\n':
				sd.ck = ckSize
			default:
				p.malformed(s, "chunk data not followed by CRLF", t)
				return n, false
			}
		case ckDataLF:
			n++
			if c != '\n' {
				p.malformed(s, "chunk data not followed by CRLF", t)
				return n, false
			}
			sd.ck = ckSize
		case ckTrailerLine:
			n++
			sd.ckCount++
			switch c {
			case '\r':
				sd.ck = ckTrailerCR
			case '\n':
				return n, true
			default:
				sd.ck = ckTrailerRest
			}
		case ckTrailerCR:
			n++
			if c != '\n' {
				p.malformed(s, "bad chunked trailer", t)
				return n, false
			}
			return n, true
		case ckTrailerRest:
			k := bytes.IndexByte(data[n:], '\n')
			take := len(data) - n
			if k >= 0 {
				take = k + 1
			}
			sd.ckCount += take
			n += take
			if sd.ckCount > p.maxHead {
				p.tooLarge(s, t)
				return n, false
			}
			if k >= 0 {
				sd.ck = ckTrailerLine
			}
		}
	}
	return n, false
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// end is called when the connection ended. An upgrade request that got no
// complete answer is reported now, with Response nil when none was seen.
func (p *httpPhase) end(t time.Time) {
	if p.ended {
		return
	}
	p.ended = true
	p.flushHandshake(t)
}

// flushHandshake reports an upgrade request whose handshake was not
// reported yet.
func (p *httpPhase) flushHandshake(t time.Time) {
	if p.hs != nil && !p.hsRep {
		p.hs.Upgraded = false
		p.reportHandshake(t)
	}
}
