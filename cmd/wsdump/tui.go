package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/tui"
)

// runTUI shows the capture in the terminal interface: a file, read through
// a counting reader so that the status bar can show how far the loading is,
// or a live interface, which the interface shows as it is captured.
func runTUI(ctx context.Context, cfg *config, stderr io.Writer) error {
	if cfg.live.iface != "" {
		return runTUILive(ctx, cfg, stderr)
	}
	if cfg.readFile == "-" {
		return errors.New("--tui needs a capture file: standard input is the keyboard")
	}
	f, err := os.Open(cfg.readFile)
	if err != nil {
		return &capture.Error{Op: "open", Name: cfg.readFile, Offset: -1, Err: err}
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	cr := &countingReader{r: f}
	src, err := capture.OpenReader(cr, cfg.readFile)
	if err != nil {
		return err
	}
	defer src.Close()
	cs := &countingSource{Source: src}
	fo := tui.FeedOptions{Progress: func() tui.Progress {
		return tui.Progress{Packets: cs.n.Load(), BytesRead: cr.n.Load(), Size: size}
	}}
	return tui.Run(ctx, tuiOptions(cfg, cfg.readFile), fo, tuiPipeline(cfg, cs))
}

// runTUILive shows a live capture in the terminal interface until the user
// quits or ctx is done. The capture's counters are printed on stderr once
// the interface has given the terminal back, as tcpdump prints them.
func runTUILive(ctx context.Context, cfg *config, stderr io.Writer) error {
	// The "listening on" line would be drawn over by the interface.
	live, err := openLive(cfg, io.Discard)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted before the capture began
		}
		return err
	}
	cs := &countingSource{Source: live}
	fo := tui.FeedOptions{Progress: func() tui.Progress {
		return tui.Progress{Packets: cs.n.Load()} // no size: the status bar says "live"
	}}
	runErr := tui.Run(ctx, tuiOptions(cfg, cfg.live.iface), fo, tuiPipeline(cfg, cs))
	if err := live.finish(stderr); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// tuiOptions are the interface's options for cfg; source names the input in
// the status bar.
func tuiOptions(cfg *config, source string) tui.Options {
	loc := time.Local
	if cfg.utc {
		loc = time.UTC
	}
	return tui.Options{Source: source, Color: cfg.color, Location: loc}
}

// tuiPipeline runs the pipeline of cfg on src for the interface. A live
// source stops at the next packet once ctx is done, so that quitting never
// waits for a busy link to fall quiet.
func tuiPipeline(cfg *config, src capture.Source) tui.PipelineFunc {
	pc := pipeline.Config{WSPorts: cfg.wsPorts, MaxPackets: cfg.count}
	pc.Dissect = dissect.DefaultConfig()
	pc.Dissect.MaxPayload = cfg.maxPayload
	pc.Dissect.Midstream = !cfg.noMidstream
	pc.Dissect.NoDigest = true // the interface shows no digests
	pc.DropFrames = true       // nor frames
	if cfg.live.iface == "" && cfg.readFile != "-" && cfg.workers > 1 {
		pc.Dissectors = cfg.workers // a file loads in stages
	}
	return func(ctx context.Context, sink dissect.Sink) (string, error) {
		ss := &stoppableSource{Source: src}
		defer context.AfterFunc(ctx, func() { ss.stopped.Store(true) })()
		st, err := pipeline.Run(ctx, ss, pc, sink)
		if ctx.Err() != nil {
			// The user quit: a capture cut short is not damage.
			err = nil
		}
		return fmt.Sprintf("%d packets, %d WebSocket conversations, %d messages, %d violations",
			st.Capture.Packets, st.WebSockets, st.Messages, st.Violations), err
	}
}

// stoppableSource ends (io.EOF) at the first read after stopped is set.
type stoppableSource struct {
	capture.Source
	stopped atomic.Bool
}

func (s *stoppableSource) Next() (capture.Packet, error) {
	if s.stopped.Load() {
		return capture.Packet{}, io.EOF
	}
	return s.Source.Next()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingSource counts the packets read from a source.
type countingSource struct {
	capture.Source
	n atomic.Uint64
}

func (c *countingSource) Next() (capture.Packet, error) {
	p, err := c.Source.Next()
	if err == nil {
		c.n.Add(1)
	}
	return p, err
}
