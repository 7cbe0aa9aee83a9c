#!/usr/bin/perl
# WebSocket client for the hixie captures: Protocol::WebSocket (Debian's
# libprotocol-websocket-perl) speaking draft-ietf-hybi-00 (= hixie-76) or
# draft-hixie-75.
#
#   client.pl PORT LOG CONVERSATION...
#
# Each CONVERSATION is one TCP connection to 127.0.0.1:PORT, named by the
# path it requests (the server's logs use the same name):
#
#   /76-client-close  draft 76; text messages of every kind, the last of
#                     them thousands of bytes; the client closes
#   /76-server-close  draft 76; the client asks the server to close and
#                     answers its closing handshake
#   /75               draft 75; text messages; draft 75 has no closing
#                     handshake: the client closes the connection
#   /refused          draft 76 request that the server refuses with 403
#
# Long messages cross many TCP segments in both directions: the client
# writes a long frame in pieces of 1000 bytes, a few milliseconds apart,
# and its small receive buffer makes the server send in small segments
# (on loopback, the kernel would otherwise hand tcpdump segments of up to
# 64 KB). Every message the client sends is written to LOG as a JSON line.
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF IPPROTO_TCP TCP_NODELAY pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep);
use JSON::PP;
use Protocol::WebSocket::Handshake::Client;
use Protocol::WebSocket::Frame;

my ($port, $logfile, @convs) = @ARGV;
open my $log, '>', $logfile or die "open $logfile: $!";
my $json = JSON::PP->new->canonical->utf8;

sub record {
    my ($conn, $type, $data) = @_;
    print $log $json->encode({conn => $conn, dir => 'client', type => $type, data => $data}), "\n";
}

sub connect_small_window {
    socket(my $s, PF_INET, SOCK_STREAM, IPPROTO_TCP) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048) or die "SO_RCVBUF: $!";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) or die "TCP_NODELAY: $!";
    connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
    binmode $s;
    return $s;
}

# readsome reads what the socket has, waiting for it; '' at the end.
sub readsome {
    my $s = shift;
    my $n = sysread($s, my $buf, 65536);
    die "read: $!" unless defined $n;
    return $buf;
}

# A conversation: the handshake, then a Frame parser for what follows.
sub open_ws {
    my ($conn, $version) = @_;
    my $s  = connect_small_window();
    my $hs = Protocol::WebSocket::Handshake::Client->new(url => "ws://127.0.0.1:$port$conn", version => $version);
    syswrite($s, $hs->to_string) or die "write: $!";
    my $frames = Protocol::WebSocket::Frame->new(version => $version);
    until ($hs->is_done) {
        my $buf = readsome($s);
        die "$conn: connection ended in the handshake" if $buf eq '';
        $hs->parse($buf) or die "$conn: handshake: " . $hs->error;
        $frames->append($buf) if $hs->is_done && length $buf;
    }
    return {s => $s, frames => $frames, conn => $conn, version => $version};
}

# next_message waits for the next message; undef for a closing handshake,
# '' -> the connection ended without one is an error.
sub next_message {
    my $c = shift;
    while (1) {
        my $m = $c->{frames}->next_bytes;
        if (defined $m) {
            return undef if $c->{frames}->is_close;
            return $m;
        }
        my $buf = readsome($c->{s});
        die "$c->{conn}: connection ended" if $buf eq '';
        $c->{frames}->append($buf);
    }
}

sub send_text {
    my ($c, $text) = @_;    # $text: characters
    my $bytes = $c->{frames}->new(buffer => $text, version => $c->{version})->to_bytes;
    for (my $off = 0; $off < length $bytes; $off += 1000) {
        my $piece = substr($bytes, $off, 1000);
        syswrite($c->{s}, $piece) == length $piece or die "write: $!";
        sleep(0.003) if $off + 1000 < length $bytes;
    }
    record($c->{conn}, 'text', $text);
}

sub send_close {
    my $c = shift;
    my $bytes = Protocol::WebSocket::Frame->new(type => 'close', version => $c->{version})->to_bytes;
    syswrite($c->{s}, $bytes) or die "write: $!";
    record($c->{conn}, 'close', '') if $c->{version} eq 'draft-ietf-hybi-00';
}

sub expect_echo {
    my ($c, $text) = @_;
    my $m = next_message($c);
    die "$c->{conn}: got close, want echo" unless defined $m;
    utf8::decode($m);
    die "$c->{conn}: echo differs" unless $m eq $text;
}

sub wait_eof {
    my $c = shift;
    while (readsome($c->{s}) ne '') { }
    close $c->{s};
}

# A long text of many characters of 1 to 4 bytes in UTF-8.
sub long_text {
    my $n = shift;
    my @parts = ("abc ", "\x{e9}t\x{e9} ", "\x{20ac}\x{2713} ", "\x{1d11e} ", "0123456789 ");
    my $t = '';
    for (my $i = 0; length($t) < $n; $i++) {
        $t .= $parts[$i % @parts] . $i . "\n";
    }
    return $t;
}

my %run = (
    '/76-client-close' => sub {
        my $c = open_ws('/76-client-close', 'draft-ietf-hybi-00');
        next_message($c);    # greeting
        for my $text ("Hello, hixie", "", "h\x{e9}llo w\x{f6}rld \x{2713} \x{1d11e}", long_text(3000), long_text(7000)) {
            send_text($c, $text);
            expect_echo($c, $text);
        }
        send_close($c);
        my $m = next_message($c);
        die "/76-client-close: want the server's closing handshake" if defined $m;
        wait_eof($c);
    },
    '/76-server-close' => sub {
        my $c = open_ws('/76-server-close', 'draft-ietf-hybi-00');
        next_message($c);
        send_text($c, "one more");
        expect_echo($c, "one more");
        send_text($c, "please close");
        my $m = next_message($c);
        die "/76-server-close: want the server's closing handshake" if defined $m;
        # Answer it; the server may have closed its socket already.
        local $SIG{PIPE} = 'IGNORE';
        send_close($c);
        close $c->{s};
    },
    '/75' => sub {
        my $c = open_ws('/75', 'draft-hixie-75');
        next_message($c);
        for my $text ("draft 75 here", "caf\x{e9} \x{2615}", long_text(2000)) {
            send_text($c, $text);
            expect_echo($c, $text);
        }
        close $c->{s};
    },
    '/refused' => sub {
        my $s  = connect_small_window();
        my $hs = Protocol::WebSocket::Handshake::Client->new(url => "ws://127.0.0.1:$port/refused", version => 'draft-ietf-hybi-00');
        syswrite($s, $hs->to_string) or die "write: $!";
        my $resp = '';
        while ((my $buf = readsome($s)) ne '') { $resp .= $buf }
        die "/refused: got $resp" unless $resp =~ m{^HTTP/1\.1 403 };
        close $s;
    },
);

for my $conv (@convs) {
    ($run{$conv} or die "unknown conversation $conv")->();
}
close $log;
