// Command benchcap writes a benchmark capture made by pcaptest.WriteBulk:
//
//	go run ./internal/pcaptest/cmd/benchcap -mb 1024 -o bench/bulk-1024.pcap
//
// The same flags always give the same bytes. The file is written under a
// temporary name and renamed when complete, so an interrupted run never
// leaves a short capture behind. A summary of what was written (bytes,
// packets, connections, messages, compression, loss) goes to standard
// output.
//
// By default a quarter of the connections use permessage-deflate (-deflate);
// -loss and -reorder drop and reorder segments.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

// maxMB bounds -mb: a capture larger than 1 TiB is surely a typing error.
const maxMB = 1 << 20

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcap:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchcap", flag.ContinueOnError)
	mb := fs.Int64("mb", 1024, "size of the capture in MiB (a connection in progress finishes beyond it)")
	out := fs.String("o", "", "file to write (required)")
	seed := fs.Int64("seed", 1, "seed of the generator")
	conns := fs.Int("conns", 0, "connections open at once (0: the generator's default, 200)")
	deflate := fs.Int("deflate", 25, "percentage of connections with permessage-deflate (0 to 100)")
	loss := fs.Int("loss", 0, "drop one in every `N` segments of each direction (0: none; else at least 2)")
	reorder := fs.Int("reorder", 0, "swap one in every `N` segments that a segment of the same direction follows with that one (0: none; else at least 2)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o FILE is required")
	}
	if *mb <= 0 || *mb > maxMB {
		return fmt.Errorf("-mb %d: want 1 to %d", *mb, maxMB)
	}
	opt := pcaptest.BulkOptions{Size: *mb << 20, Seed: *seed, Conns: *conns, Deflate: *deflate, LossEvery: *loss, ReorderEvery: *reorder}
	if err := opt.Check(); err != nil {
		return err
	}
	st, err := write(*out, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %d packets, %d connections, %d messages, %d frames\n",
		*out, st.Bytes, st.Packets, st.Conns, st.Messages, st.Frames)
	fmt.Fprintf(stdout, "permessage-deflate: %d connections, %d compressed messages, payload %d bytes (%d on the wire)\n",
		st.DeflateConns, st.CompressedMessages, st.PayloadBytes, st.WirePayloadBytes)
	if *loss > 0 || *reorder > 0 {
		fmt.Fprintf(stdout, "loss: %d segments (%d bytes) dropped, %d reordered\n",
			st.DroppedSegments, st.DroppedBytes, st.ReorderedSegments)
	}
	return nil
}

// write writes the capture to path through a temporary file in the same
// directory.
func write(path string, opt pcaptest.BulkOptions) (pcaptest.BulkStats, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return pcaptest.BulkStats{}, err
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes it private
		f.Close()
		os.Remove(tmp)
		return pcaptest.BulkStats{}, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := pcaptest.WriteBulk(bw, opt)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return pcaptest.BulkStats{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return st, nil
}
