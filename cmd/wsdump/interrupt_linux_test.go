//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// unreadInPipe returns how many bytes written into the pipe f were not read
// yet (FIONREAD).
func unreadInPipe(f *os.File) (int, error) {
	var n int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// An interrupt while standard input is open but idle ends the run at once,
// with the output of what was read and status 0.
func TestInterruptWhileReadingStdin(t *testing.T) {
	data, err := os.ReadFile(demoCapture(t, "ws-ethernet-ipv4.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "ws-ethernet-ipv4.pcap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wsdumpBin, "-r", "-", "--utc")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if _, err := in.Write(data); err != nil {
		t.Fatal(err)
	}
	// Wait until the command has read the capture: nothing left in the pipe.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unreadInPipe(in.(*os.File))
		if err != nil {
			t.Skipf("cannot see what is left in the pipe (%v): skipping", err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command left %d bytes of its input unread for 10s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after an interrupt: %v, want status 0; stderr %q", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not end within 5s of an interrupt while its standard input stayed open")
	}
	if stdout.String() != string(golden) {
		t.Errorf("output after the interrupt:\n%s\nwant:\n%s", stdout.String(), golden)
	}
	if !strings.HasPrefix(stderr.String(), "22 packets read,") {
		t.Errorf("stderr %q", stderr.String())
	}
}
