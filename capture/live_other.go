//go:build (!linux || 386) && !libpcap

package capture

// OpenLive reports ErrLiveUnsupported: without the libpcap build tag, live
// capture is only implemented on Linux (not on 32-bit x86).
func OpenLive(name string, o LiveOptions) (LiveSource, error) {
	return nil, &LiveError{Op: "open", Iface: name, Err: ErrLiveUnsupported}
}

// Interfaces lists the network interfaces.
func Interfaces() ([]Interface, error) {
	return netInterfaces()
}
