package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/report"
)

// run does what cfg says, reading a capture from stdin when the file is "-".
// Errors are failures of the input or of the output; traffic that breaks the
// protocol is reported, not returned.
func run(ctx context.Context, cfg *config, stdin io.Reader, stdout, stderr io.Writer) error {
	if cfg.tui && !cfg.live.list {
		return runTUI(ctx, cfg, stderr)
	}
	if cfg.live.list {
		return listInterfaces(stdout)
	}
	var src capture.Source
	var live *liveCapture
	var err error
	if cfg.live.iface != "" {
		live, err = openLive(cfg, stderr)
		src = live
	} else if cfg.readFile == "-" {
		in, stop := interruptible(ctx, stdin)
		defer stop()
		src, err = capture.OpenReader(in, "-")
	} else {
		src, err = capture.OpenFile(cfg.readFile)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted before the capture began
		}
		return err
	}
	defer src.Close()

	// Once an output fails there is no use reading on: stop the run.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rawStdout := stdout
	stdout = &stopOnError{w: stdout, stop: cancel}
	outs, err := openOutputs(cfg, rawStdout, cancel)
	if err != nil {
		return err
	}
	var sinks []dissect.Sink
	var text *report.Text
	if !cfg.textOff() {
		loc := time.Local
		if cfg.utc {
			loc = time.UTC
		}
		text = report.NewText(stdout, report.TextOptions{
			Quiet:            cfg.quiet,
			Verbose:          cfg.verbose,
			Hex:              cfg.hex,
			Color:            cfg.color,
			Location:         loc,
			FlushEach:        isTerminal(rawStdout) || live != nil,
			AllConversations: cfg.quiet,
		})
		sinks = append(sinks, text)
	}
	sinks = append(sinks, outs.sinks...)
	sink := report.Multi(sinks...)
	if cfg.filter.Active() {
		sink = report.NewFilterSink(cfg.filter, sink)
	}

	pc := pipeline.Config{WSPorts: cfg.wsPorts, MaxPackets: cfg.count}
	pc.Dissect = dissect.DefaultConfig()
	pc.Dissect.MaxPayload = cfg.maxPayload
	pc.Dissect.Midstream = !cfg.noMidstream
	// Payload bytes and digests cost time on every byte: compute them
	// only when an output shows them.
	machine := cfg.jsonFile != "" || cfg.jsonlFile != "" || cfg.harFile != ""
	pc.Dissect.NoDigest = cfg.jsonFile == "" && cfg.jsonlFile == ""
	pc.Dissect.LateDigest = true // the pipeline completes them
	pc.Dissect.NoPayload = (text == nil || cfg.quiet) && !machine && cfg.filter.Grep == nil
	// Frames are shown only by the verbose text view.
	pc.DropFrames = text == nil || cfg.quiet || !cfg.verbose
	// The stages pass packets and events on in batches, which would hold
	// back the output of a pipe fed as the traffic happens (tcpdump -w - |
	// wsdump -r -): standard input is staged only when it is a file.
	if live == nil && (cfg.readFile != "-" || isRegularFile(stdin)) && cfg.workers > 1 {
		pc.Dissectors = cfg.workers
	}
	pc.Reassembly.MaxConns = cfg.maxConns
	st, runErr := pipeline.Run(runCtx, src, pc, sink)
	interrupted := ctx.Err() != nil
	if interrupted {
		// The source may have been cut in the middle of a packet: that is
		// the interrupt, not damage.
		runErr = nil
	}
	var outErr error
	if text != nil {
		if err := text.Flush(); err != nil {
			outErr = fmt.Errorf("writing output: %w", err)
		}
	}
	cs := captureStats(&st, interrupted, runErr)
	if err := outs.close(cs); err != nil && outErr == nil {
		outErr = err
	}
	printStats(stderr, cfg, &st)
	if live != nil {
		if err := live.finish(stderr); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	return outErr
}

// captureStats turns the pipeline's counts into the report's.
func captureStats(st *pipeline.Stats, interrupted bool, runErr error) report.CaptureStats {
	cs := report.CaptureStats{
		Packets:       st.Capture.Packets,
		Decoded:       st.Capture.Decoded,
		Truncated:     st.Capture.Truncated,
		Skipped:       map[string]uint64{},
		Conversations: st.Conversations,
		WebSockets:    st.WebSockets,
		Handshakes:    st.Handshakes,
		Messages:      st.Messages,
		Frames:        st.Frames,
		Violations:    st.Violations,
		Gaps:          st.Gaps,
		Interrupted:   interrupted,
	}
	for k, v := range st.Capture.Skipped {
		cs.Skipped[k] = uint64(v)
	}
	cs.SetTimes(st.First, st.Last)
	if runErr != nil {
		cs.Error = runErr.Error()
	}
	return cs
}

// outputs are the machine-readable writers of a run and their files.
type outputs struct {
	sinks   []dissect.Sink
	closers []func(report.CaptureStats) error
}

// openOutputs creates the files of --json, --jsonl and --har and their
// writers. "-" is stdout.
func openOutputs(cfg *config, stdout io.Writer, stop func()) (*outputs, error) {
	o := &outputs{}
	open := func(name string) (io.Writer, string, func() error, error) {
		if name == "-" {
			return stdout, "standard output", func() error { return nil }, nil
		}
		f, err := os.Create(name)
		if err != nil {
			return nil, "", nil, err
		}
		return f, name, f.Close, nil
	}
	gen := report.Generator{Name: "wsdump", Version: version}
	add := func(name string, mk func(w io.Writer, pipe bool) (dissect.Sink, func(report.CaptureStats) error)) error {
		if name == "" {
			return nil
		}
		w, label, closeFile, err := open(name)
		if err != nil {
			o.close(report.CaptureStats{})
			return err
		}
		// Each line is flushed where someone reads as it happens: a
		// terminal, or a pipe fed by a live capture or by standard input
		// (tcpdump -w - | wsdump -r - --jsonl - | jq). Reading a file, a
		// pipe gets full buffers.
		flushEach := cfg.live.iface != "" || isTerminal(w) || (cfg.readFile == "-" && !isRegularFile(w))
		sink, finish := mk(&stopOnError{w: w, stop: stop}, flushEach)
		o.sinks = append(o.sinks, sink)
		o.closers = append(o.closers, func(cs report.CaptureStats) error {
			err := finish(cs)
			if e := closeFile(); err == nil {
				err = e
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", label, err)
			}
			return nil
		})
		return nil
	}
	err := add(cfg.jsonFile, func(w io.Writer, _ bool) (dissect.Sink, func(report.CaptureStats) error) {
		j := report.NewJSON(w, report.JSONOptions{
			Generator:        gen,
			Inputs:           []report.Input{{Name: cfg.readFile}},
			MaxPayload:       cfg.maxPayload,
			AllConversations: cfg.quiet,
		})
		return j, j.Close
	})
	if err == nil {
		err = add(cfg.jsonlFile, func(w io.Writer, pipe bool) (dissect.Sink, func(report.CaptureStats) error) {
			l := report.NewJSONL(w, report.JSONLOptions{FlushEach: pipe, AllConversations: cfg.quiet})
			return l, func(report.CaptureStats) error { return l.Close() }
		})
	}
	if err == nil {
		err = add(cfg.harFile, func(w io.Writer, _ bool) (dissect.Sink, func(report.CaptureStats) error) {
			h := report.NewHAR(w, report.HAROptions{Creator: gen})
			return h, func(report.CaptureStats) error { return h.Close() }
		})
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// close finishes every output and returns the first error.
func (o *outputs) close(cs report.CaptureStats) error {
	var first error
	for _, c := range o.closers {
		if err := c(cs); err != nil && first == nil {
			first = err
		}
	}
	o.closers = nil
	return first
}

// isRegularFile reports whether x, an input or an output, is an *os.File
// open on a regular file (not a pipe, socket or terminal).
func isRegularFile(x any) bool {
	f, ok := x.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

// stopOnError is a writer that calls stop when a write to w fails.
type stopOnError struct {
	w    io.Writer
	stop func()
}

func (s *stopOnError) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.stop()
	}
	return n, err
}

// interruptible returns a reader of r that ends (io.EOF) as soon as ctx is
// done. A read from standard input blocks until the writer sends more or
// goes away, and an interrupt must not wait for either. stop releases what
// it holds once reading is over.
func interruptible(ctx context.Context, r io.Reader) (in io.Reader, stop func()) {
	if ctx.Done() == nil {
		return r, func() {}
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	unregister := context.AfterFunc(ctx, func() { pw.Close() })
	return pr, func() {
		unregister()
		pr.Close()
	}
}

// printStats writes the end-of-run summary, as tcpdump does, to stderr.
func printStats(w io.Writer, cfg *config, st *pipeline.Stats) {
	c := &st.Capture
	r := &st.Reassembly
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets read, %d TCP segments decoded", c.Packets, c.Decoded)
	if c.Truncated > 0 {
		fmt.Fprintf(&b, ", %d truncated by snaplen", c.Truncated)
	}
	b.WriteByte('\n')
	if len(c.Skipped) > 0 {
		keys := make([]string, 0, len(c.Skipped))
		for k := range c.Skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("skipped:")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, c.Skipped[k])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d TCP conversations, %d WebSocket; %d handshakes, %d messages, %d frames, %d violations\n",
		st.Conversations, st.WebSockets, st.Handshakes, st.Messages, st.Frames, st.Violations)
	fmt.Fprintf(&b, "reassembly: %d bytes in order, %d out of order, %d retransmitted or overlapping, %d gaps (%d bytes), %d keep-alives",
		r.Delivered, r.OutOfOrder, r.Retransmitted, r.Gaps, r.GapBytes, r.KeepAlives)
	if r.ConnLimitDrops > 0 || r.PageLimitGaps > 0 {
		fmt.Fprintf(&b, "; limits hit: %d segments over the connection limit, %d holes given up at the buffer limit", r.ConnLimitDrops, r.PageLimitGaps)
	}
	b.WriteByte('\n')
	if n, ok := peakMemory(); ok && cfg.verbose {
		fmt.Fprintf(&b, "peak memory: %.1f MiB\n", float64(n)/(1<<20))
	}
	if cfg.verbose && !st.First.IsZero() {
		fmt.Fprintf(&b, "capture time: %s to %s\n", st.First.UTC().Format(time.RFC3339Nano), st.Last.UTC().Format(time.RFC3339Nano))
	}
	io.WriteString(w, b.String())
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && isTTY(f.Fd())
}
