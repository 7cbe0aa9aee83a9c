package pcaptest

// Conn writes the segments of one TCP connection into a Capture, keeping
// the sequence numbers of both directions.
//
// Stream offsets count the data bytes of one direction from 0 (the byte
// after the SYN), as Wireshark's relative sequence numbers do; the wire
// sequence number of offset o is ISN+1+o (mod 2^32), so ISNs near 2^32 test
// wraparound.
type Conn struct {
	Client, Server Endpoint
	// MSS is the most payload bytes Send puts in one segment.
	MSS int
	// Window is the window field of every segment.
	Window uint16
	// Interface is the pcapng interface of the connection's packets.
	Interface int

	capture *Capture
	isn     [2]uint32
	next    [2]int64 // stream offset of the next new byte, per direction
}

// ConnOption sets an option of NewConn.
type ConnOption func(*Conn)

// WithCapture makes the connection write into c (several connections may
// share one Capture and its clock).
func WithCapture(c *Capture) ConnOption { return func(k *Conn) { k.capture = c } }

// WithISN sets the initial sequence numbers of the client and the server.
func WithISN(client, server uint32) ConnOption {
	return func(k *Conn) { k.isn = [2]uint32{client, server} }
}

// WithMSS sets the largest payload of the segments Send writes.
func WithMSS(n int) ConnOption { return func(k *Conn) { k.MSS = n } }

// WithInterface puts the connection's packets on pcapng interface i.
func WithInterface(i int) ConnOption { return func(k *Conn) { k.Interface = i } }

// NewConn returns a connection from client to server. Unless WithCapture is
// given it writes into a new Capture of its own. Defaults: ISNs 1000000 and
// 2000000, MSS 1460, window 65535.
func NewConn(client, server Endpoint, opts ...ConnOption) *Conn {
	k := &Conn{Client: client, Server: server, MSS: 1460, Window: 65535, isn: [2]uint32{1000000, 2000000}}
	for _, o := range opts {
		o(k)
	}
	if k.capture == nil {
		k.capture = NewCapture()
	}
	if k.MSS <= 0 {
		k.MSS = 1460
	}
	return k
}

// Capture returns the Capture the connection writes into.
func (k *Conn) Capture() *Capture { return k.capture }

func dir(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

// Seq returns the wire sequence number of stream offset off of one direction.
func (k *Conn) Seq(fromClient bool, off int64) uint32 {
	return k.isn[dir(fromClient)] + 1 + uint32(off)
}

// Offset returns the stream offset of the next byte Send would write.
func (k *Conn) Offset(fromClient bool) int64 { return k.next[dir(fromClient)] }

func (k *Conn) add(fromClient bool, seq uint32, flags uint8, data []byte) int {
	src, dst := k.Client, k.Server
	if !fromClient {
		src, dst = dst, src
	}
	var ack uint32
	if flags&ACK != 0 {
		ack = k.Seq(!fromClient, k.next[dir(!fromClient)])
	}
	return k.capture.Add(Packet{
		Interface: k.Interface, Src: src, Dst: dst, Seq: seq, Ack: ack,
		Flags: flags, Window: k.Window, Payload: data,
	})
}

// Handshake writes SYN, SYN-ACK and ACK.
func (k *Conn) Handshake() {
	k.add(true, k.isn[0], SYN, nil)
	k.add(false, k.isn[1], SYN|ACK, nil)
	k.add(true, k.Seq(true, 0), ACK, nil)
}

// Send writes data from one side in segments of at most MSS bytes, with
// ACK on all and PSH on the last, and returns the indexes of the packets.
func (k *Conn) Send(fromClient bool, data []byte) []int {
	var idx []int
	for len(data) > 0 {
		n := min(len(data), k.MSS)
		flags := uint8(ACK)
		if n == len(data) {
			flags |= PSH
		}
		idx = append(idx, k.Segment(fromClient, k.Offset(fromClient), data[:n], flags))
		data = data[n:]
	}
	return idx
}

// Segment writes one raw segment at stream offset off with the given flags
// (ACK adds the current acknowledgment of the other direction) and returns
// its index. Any offset works: earlier ones retransmit or overlap (a
// keep-alive probe is Segment(side, Offset(side)-1, oneOldByte, ACK)), later
// ones leave a gap. The next offset of the direction moves to the end of
// the segment (plus one for FIN) if that is further.
func (k *Conn) Segment(fromClient bool, off int64, data []byte, flags uint8) int {
	i := k.add(fromClient, k.Seq(fromClient, off), flags, data)
	end := off + int64(len(data))
	if flags&FIN != 0 {
		end++
	}
	if d := dir(fromClient); end > k.next[d] {
		k.next[d] = end
	}
	return i
}

// Ack writes a pure ACK from one side.
func (k *Conn) Ack(fromClient bool) int {
	return k.add(fromClient, k.Seq(fromClient, k.Offset(fromClient)), ACK, nil)
}

// FIN writes a FIN+ACK from one side.
func (k *Conn) FIN(fromClient bool) int {
	return k.Segment(fromClient, k.Offset(fromClient), nil, FIN|ACK)
}

// RST writes a RST+ACK from one side.
func (k *Conn) RST(fromClient bool) int {
	return k.add(fromClient, k.Seq(fromClient, k.Offset(fromClient)), RST|ACK, nil)
}

// Close writes the orderly close: FIN from the client, FIN from the server,
// last ACK from the client.
func (k *Conn) Close() {
	k.FIN(true)
	k.FIN(false)
	k.Ack(true)
}
