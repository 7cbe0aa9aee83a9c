package dissect

import "testing"

func TestCloseCodeInfo(t *testing.T) {
	tests := []struct {
		code  uint16
		name  string
		class string
		valid bool
	}{
		{0, "", "invalid", false},
		{999, "", "invalid", false},
		{1000, "normal_closure", "standard", true},
		{1001, "going_away", "standard", true},
		{1002, "protocol_error", "standard", true},
		{1003, "unsupported_data", "standard", true},
		{1004, "reserved", "invalid", false},
		{1005, "no_status_received", "invalid", false},
		{1006, "abnormal_closure", "invalid", false},
		{1007, "invalid_payload_data", "standard", true},
		{1008, "policy_violation", "standard", true},
		{1009, "message_too_big", "standard", true},
		{1010, "mandatory_extension", "standard", true},
		{1011, "internal_error", "standard", true},
		{1012, "service_restart", "standard", true},
		{1013, "try_again_later", "standard", true},
		{1014, "bad_gateway", "standard", true},
		{1015, "tls_handshake", "invalid", false},
		{1016, "", "reserved", false},
		{2999, "", "reserved", false},
		{3000, "", "registered", true},
		{3999, "", "registered", true},
		{4000, "", "private", true},
		{4999, "", "private", true},
		{5000, "", "invalid", false},
		{65535, "", "invalid", false},
	}
	for _, tt := range tests {
		name, class, valid := closeCodeInfo(tt.code)
		if name != tt.name || class != tt.class || valid != tt.valid {
			t.Errorf("closeCodeInfo(%d) = %q, %q, %v; want %q, %q, %v", tt.code, name, class, valid, tt.name, tt.class, tt.valid)
		}
	}
}
