module github.com/wsdump/wsdump

go 1.24.0

require (
	github.com/coder/websocket v1.8.14 // indirect
	github.com/google/gopacket v1.1.19 // indirect
)
