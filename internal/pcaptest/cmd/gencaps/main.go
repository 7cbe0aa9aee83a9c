// Command gencaps regenerates the captures in testdata/pcaps:
//
//	go run ./internal/pcaptest/cmd/gencaps [-dir testdata/pcaps]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

func main() {
	dir := flag.String("dir", filepath.Join("testdata", "pcaps"), "directory to write the captures to")
	flag.Parse()
	files, err := pcaptest.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencaps:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gencaps:", err)
		os.Exit(1)
	}
	for _, f := range files {
		p := filepath.Join(*dir, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gencaps:", err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%d bytes\n", p, len(f.Data))
	}
}
