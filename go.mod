module github.com/wsdump/wsdump

go 1.24.0

require github.com/google/gopacket v1.1.19 // indirect
