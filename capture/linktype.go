package capture

import "strconv"

// LinkType is a LINKTYPE_ value from the pcap and pcapng formats
// (https://www.tcpdump.org/linktypes.html).
//
// gopacket v1.1.19 stores link types in a uint8 (layers.LinkType), which
// cannot hold values above 255 such as LINKTYPE_LINUX_SLL2 (276), so the
// package keeps its own 32-bit type. For values below 256 the numbers are
// the same as layers.LinkType.
type LinkType uint32

// Link types the package knows by name. Supported reports which ones the
// Decoder decodes.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, host-byte-order address family
	LinkTypeEthernet  LinkType = 1   // Ethernet II, with 802.1Q / 802.1ad tags
	LinkTypeRawOld12  LinkType = 12  // DLT_RAW as some systems number it
	LinkTypeRawOld14  LinkType = 14  // DLT_RAW as other systems number it
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, by the version nibble
	LinkTypeIEEE80211 LinkType = 105
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, network-byte-order address family
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeRadiotap  LinkType = 127
	LinkTypeUSBLinux  LinkType = 189
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

var linkTypeNames = map[LinkType]string{
	LinkTypeNull:      "null",
	LinkTypeEthernet:  "ethernet",
	LinkTypeRawOld12:  "raw",
	LinkTypeRawOld14:  "raw",
	LinkTypeRaw:       "raw",
	LinkTypeIEEE80211: "ieee802_11",
	LinkTypeLoop:      "loop",
	LinkTypeLinuxSLL:  "linux_sll",
	LinkTypeRadiotap:  "ieee802_11_radiotap",
	LinkTypeUSBLinux:  "usb_linux",
	LinkTypeIPv4:      "ipv4",
	LinkTypeIPv6:      "ipv6",
	LinkTypeLinuxSLL2: "linux_sll2",
}

// String returns the stable lower-case token of the link type ("ethernet",
// "linux_sll2", ...), or "linktype_N" for a number without a name here.
func (l LinkType) String() string {
	if s, ok := linkTypeNames[l]; ok {
		return s
	}
	return "linktype_" + strconv.FormatUint(uint64(l), 10)
}

// Supported reports whether the Decoder decodes packets of this link type.
func (l LinkType) Supported() bool {
	switch l {
	case LinkTypeNull, LinkTypeEthernet, LinkTypeRawOld12, LinkTypeRawOld14,
		LinkTypeRaw, LinkTypeLoop, LinkTypeLinuxSLL, LinkTypeIPv4,
		LinkTypeIPv6, LinkTypeLinuxSLL2:
		return true
	}
	return false
}
