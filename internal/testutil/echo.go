package testutil

import (
	"net"
	"net/http"
	"testing"

	"github.com/coder/websocket"
)

// StartEchoServer runs a WebSocket echo server (github.com/coder/websocket)
// on 127.0.0.1 for the test's life and returns its port. opts configures
// its side of the handshake (nil: the defaults). Messages of any size are
// echoed with the type they came with.
func StartEchoServer(t testing.TB, opts *websocket.AcceptOptions) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		c.SetReadLimit(-1)
		ctx := r.Context()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
