package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wsdump/wsdump/capture"
)

// liveConfig is what the command line says about live capture, with
// tcpdump's letters.
type liveConfig struct {
	iface     string // -i
	filter    string // -f, or the words after the options
	list      bool   // -D
	snaplen   int    // -s
	noPromisc bool   // -p
	writeFile string // -w
	bufferKiB int    // -B, in KiB as tcpdump counts it
}

const liveUsage = `Live capture (tcpdump's conventions; needs root or CAP_NET_RAW):
  -i IFACE           capture on the interface IFACE instead of reading a file;
                     a capture filter may follow the options, as for tcpdump:
                     wsdump -i lo -v tcp port 8080
  -f EXPR            the capture filter, in pcap-filter(7) syntax
  -D                 list the interfaces that can be captured and exit
  -s N               keep N bytes of each packet (default 262144)
  -p                 do not put the interface into promiscuous mode
  -w FILE            also write the raw packets to FILE (pcapng when FILE ends
                     in .pcapng, pcap otherwise)
  -B KIB             kernel capture buffer in KiB (default 2048)
`

// registerLiveFlags adds the live capture flags to fs.
func registerLiveFlags(fs *flag.FlagSet, lc *liveConfig) {
	fs.StringVar(&lc.iface, "i", "", "")
	fs.StringVar(&lc.filter, "f", "", "")
	fs.BoolVar(&lc.list, "D", false, "")
	fs.BoolVar(&lc.noPromisc, "p", false, "")
	fs.StringVar(&lc.writeFile, "w", "", "")
	fs.Func("s", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return fmt.Errorf("-s wants a snap length in bytes, not %q", s)
		}
		// 0 means the largest, as for tcpdump.
		lc.snaplen = int(min(n, capture.MaxPacketSize))
		return nil
	})
	fs.Func("B", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil || n == 0 || n > 1<<21 {
			return fmt.Errorf("-B wants a buffer size in KiB (1 to 2097152), not %q", s)
		}
		lc.bufferKiB = int(n)
		return nil
	})
}

// checkInput decides where packets come from: a file (-r), an interface
// (-i, with the filter words in args) or nowhere (-D).
func (cfg *config) checkInput(args []string) error {
	lc := &cfg.live
	if len(args) > 0 {
		if lc.iface == "" {
			return fmt.Errorf("unexpected argument %q (a capture filter needs a live interface: -i IFACE)", strings.Join(args, " "))
		}
		if lc.filter != "" {
			return errors.New("give the capture filter either with -f or after the options, not both")
		}
		lc.filter = strings.Join(args, " ")
	}
	if lc.list {
		return nil
	}
	switch {
	case lc.iface != "" && cfg.readFile != "":
		return errors.New("-r and -i both name an input: give one")
	case lc.iface == "" && cfg.readFile == "":
		return errors.New("no input: give a capture file with -r FILE or an interface with -i IFACE")
	case lc.iface == "" && (lc.filter != "" || lc.writeFile != ""):
		return errors.New("-f and -w need a live interface: -i IFACE")
	}
	return nil
}

// listInterfaces prints the interfaces as tcpdump -D does.
func listInterfaces(w io.Writer) error {
	ifs, err := capture.Interfaces()
	if err != nil {
		return err
	}
	var b strings.Builder
	for i, ifi := range ifs {
		fmt.Fprintf(&b, "%d.%s", i+1, ifi.Name)
		if ifi.Description != "" {
			fmt.Fprintf(&b, " (%s)", ifi.Description)
		}
		if f := ifi.Flags(); f != "" {
			fmt.Fprintf(&b, " [%s]", f)
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// liveCapture is the source of a live run: the interface, and the file -w
// writes the packets to as they are read.
type liveCapture struct {
	src  capture.LiveSource
	file *os.File
	pw   *packetWriter
	werr error
}

// openLive opens the interface of cfg and the -w file, and says on stderr
// that it is listening, as tcpdump does.
func openLive(cfg *config, stderr io.Writer) (*liveCapture, error) {
	lc := &cfg.live
	o := capture.LiveOptions{
		SnapLen:     lc.snaplen,
		Promiscuous: !lc.noPromisc,
		Filter:      lc.filter,
		BufferSize:  lc.bufferKiB << 10,
	}
	src, err := capture.OpenLive(lc.iface, o)
	if err != nil {
		return nil, liveError(lc.iface, err)
	}
	l := &liveCapture{src: src}
	if lc.writeFile != "" {
		if err := l.create(lc.writeFile); err != nil {
			src.Close()
			return nil, err
		}
	}
	fmt.Fprintf(stderr, "wsdump: listening on %s, link-type %s, snapshot length %d bytes\n", lc.iface, src.LinkType(), src.SnapLen())
	return l, nil
}

// create starts the -w file.
func (l *liveCapture) create(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	l.file = f
	ng := strings.HasSuffix(strings.ToLower(name), ".pcapng")
	l.pw = newPacketWriter(f, ng, l.src.Interface(), l.src.LinkType(), l.src.SnapLen(), "wsdump "+version)
	if err := l.pw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("-w %s: %w", name, err)
	}
	return nil
}

// Next reads the interface, copies each packet to the -w file, and flushes
// the file when the link is quiet, so that it can be read during capture.
func (l *liveCapture) Next() (capture.Packet, error) {
	p, err := l.src.Next()
	if l.file == nil || l.werr != nil {
		return p, err
	}
	switch {
	case err == nil:
		l.werr = l.pw.WritePacket(p.Timestamp, p.Data, p.Length)
	case errors.Is(err, capture.ErrTimeout):
		l.werr = l.pw.Flush()
	}
	if l.werr != nil {
		l.werr = fmt.Errorf("-w %s: %w", l.file.Name(), l.werr)
	}
	return p, err
}

// Close stops the capture and closes the -w file.
func (l *liveCapture) Close() error {
	err := l.src.Close()
	if l.file != nil {
		if l.werr == nil {
			l.werr = l.pw.Flush()
		}
		if cerr := l.file.Close(); l.werr == nil && cerr != nil {
			l.werr = fmt.Errorf("-w %s: %w", l.file.Name(), cerr)
		}
		l.file = nil
	}
	return err
}

// finish closes the capture and prints its counters, as tcpdump does. The
// error is the -w file's.
func (l *liveCapture) finish(stderr io.Writer) error {
	l.Close()
	st := l.src.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets captured\n", st.Captured)
	if st.KernelDroppedKnown {
		fmt.Fprintf(&b, "%d packets dropped by kernel\n", st.KernelDropped)
	}
	io.WriteString(stderr, b.String())
	return l.werr
}

// cliError is an error whose message is written for the command's user.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// liveError says what to do about a failure to open an interface.
func liveError(iface string, err error) error {
	switch {
	case errors.Is(err, capture.ErrPermission):
		return &cliError{fmt.Sprintf("capture on %s needs root or CAP_NET_RAW: try sudo, or sudo setcap cap_net_raw,cap_net_admin=eip $(which wsdump)", iface), err}
	case errors.Is(err, capture.ErrNoSuchInterface):
		return &cliError{fmt.Sprintf("no such interface %q; wsdump -D lists them", iface), err}
	}
	return err
}

// exitStatus is the status for an error of run: 2 for a capture filter
// that is invalid or cannot be compiled (a usage error, as for tcpdump),
// 1 otherwise.
func exitStatus(err error) int {
	if errors.Is(err, capture.ErrFilter) || errors.Is(err, capture.ErrNoFilterCompiler) {
		return 2
	}
	return 1
}
