package dissect

// Classes of close status codes returned by closeCodeInfo.
const (
	closeClassStandard   = "standard"   // defined by RFC 6455 §7.4.1 or the IANA registry, 1000-2999
	closeClassReserved   = "reserved"   // 1000-2999 but not assigned
	closeClassRegistered = "registered" // 3000-3999: libraries, frameworks, applications (IANA)
	closeClassPrivate    = "private"    // 4000-4999: private use
	closeClassInvalid    = "invalid"    // never valid in a close frame
)

// closeCodeInfo names a close status code (RFC 6455 §7.4 and the IANA
// "WebSocket Close Code Number Registry"), gives its class and says whether
// it may appear in a close frame on the wire.
//
// Codes below 1000 and from 5000 up are unused and invalid. 1004 is
// reserved, and 1005, 1006 and 1015 are for reporting only and must not be
// sent (§7.4.1): all four are class "invalid". 1016 to 2999 are reserved for
// future revisions and extensions: class "reserved", not valid. 3000 to 3999
// (registered) and 4000 to 4999 (private) are valid. The name is "" for
// codes without a name of their own.
func closeCodeInfo(code uint16) (name string, class string, valid bool) {
	switch code {
	case 1000:
		return "normal_closure", closeClassStandard, true
	case 1001:
		return "going_away", closeClassStandard, true
	case 1002:
		return "protocol_error", closeClassStandard, true
	case 1003:
		return "unsupported_data", closeClassStandard, true
	case 1004:
		return "reserved", closeClassInvalid, false
	case 1005:
		return "no_status_received", closeClassInvalid, false
	case 1006:
		return "abnormal_closure", closeClassInvalid, false
	case 1007:
		return "invalid_payload_data", closeClassStandard, true
	case 1008:
		return "policy_violation", closeClassStandard, true
	case 1009:
		return "message_too_big", closeClassStandard, true
	case 1010:
		return "mandatory_extension", closeClassStandard, true
	case 1011:
		return "internal_error", closeClassStandard, true
	case 1012:
		return "service_restart", closeClassStandard, true
	case 1013:
		return "try_again_later", closeClassStandard, true
	case 1014:
		return "bad_gateway", closeClassStandard, true
	case 1015:
		return "tls_handshake", closeClassInvalid, false
	}
	switch {
	case code < 1000:
		return "", closeClassInvalid, false
	case code < 3000:
		return "", closeClassReserved, false
	case code < 4000:
		return "", closeClassRegistered, true
	case code < 5000:
		return "", closeClassPrivate, true
	}
	return "", closeClassInvalid, false
}
