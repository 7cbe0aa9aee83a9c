module github.com/wsdump/wsdump

go 1.24.0

require (
	github.com/coder/websocket v1.8.14 // indirect
	github.com/google/gopacket v1.1.19 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	golang.org/x/text v0.14.0 // indirect
)
