//go:build amd64 && !purego

#include "textflag.h"

// Base64 encoding with SSSE3, twelve bytes into sixteen characters per
// step. Each group of three bytes s0 s1 s2 is spread over a dword as s1 s0
// s2 s1, so that its 16-bit halves hold s0:s1 and s1:s2; two masked
// multiplications move the four 6-bit indices into the four bytes of the
// dword. An index becomes its character by adding an offset that depends
// on its range (A-Z, a-z, 0-9, '+', '/'), looked up by PSHUFB from a class
// number: 13 for A-Z, else the index minus 51 (saturated): 0 for a-z, 1
// to 10 for the digits, 11 for '+', 12 for '/'.

DATA b64shuf<>+0(SB)/8, $0x0405030401020001
DATA b64shuf<>+8(SB)/8, $0x0a0b090a07080607
GLOBL b64shuf<>(SB), RODATA|NOPTR, $16

DATA b64mask1<>+0(SB)/8, $0x0fc0fc000fc0fc00
DATA b64mask1<>+8(SB)/8, $0x0fc0fc000fc0fc00
GLOBL b64mask1<>(SB), RODATA|NOPTR, $16

DATA b64mul1<>+0(SB)/8, $0x0400004004000040
DATA b64mul1<>+8(SB)/8, $0x0400004004000040
GLOBL b64mul1<>(SB), RODATA|NOPTR, $16

DATA b64mask2<>+0(SB)/8, $0x003f03f0003f03f0
DATA b64mask2<>+8(SB)/8, $0x003f03f0003f03f0
GLOBL b64mask2<>(SB), RODATA|NOPTR, $16

DATA b64mul2<>+0(SB)/8, $0x0100001001000010
DATA b64mul2<>+8(SB)/8, $0x0100001001000010
GLOBL b64mul2<>(SB), RODATA|NOPTR, $16

DATA b64c51<>+0(SB)/8, $0x3333333333333333
DATA b64c51<>+8(SB)/8, $0x3333333333333333
GLOBL b64c51<>(SB), RODATA|NOPTR, $16

DATA b64c26<>+0(SB)/8, $0x1a1a1a1a1a1a1a1a
DATA b64c26<>+8(SB)/8, $0x1a1a1a1a1a1a1a1a
GLOBL b64c26<>(SB), RODATA|NOPTR, $16

DATA b64c13<>+0(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA b64c13<>+8(SB)/8, $0x0d0d0d0d0d0d0d0d
GLOBL b64c13<>(SB), RODATA|NOPTR, $16

// Offsets by class: 71 (a-z), -4 ten times (0-9), -19 ('+'), -16 ('/'),
// 65 (A-Z).
DATA b64lut<>+0(SB)/8, $0xfcfcfcfcfcfcfc47
DATA b64lut<>+8(SB)/8, $0x000041f0edfcfcfc
GLOBL b64lut<>(SB), RODATA|NOPTR, $16

// ENC encodes the twelve bytes at off(SI) into sixteen characters at
// off*4/3(DI), with X0-X4 as scratch.
#define ENC(in, out, a, b, c, d) \
	MOVOU in(SI), a; \
	PSHUFB X8, a; \
	MOVO a, b; \
	PAND X9, a; \
	PMULHUW X10, a; \
	PAND X11, b; \
	PMULLW X12, b; \
	POR b, a; \
	MOVO a, c; \
	PSUBUSB X13, c; \
	MOVO X14, d; \
	PCMPGTB a, d; \
	PAND X7, d; \
	POR d, c; \
	MOVO X15, d; \
	PSHUFB c, d; \
	PADDB d, a; \
	MOVOU a, out(DI)

// func encodeBase64Blocks(out, in *byte, blocks int)
// Encodes blocks*12 bytes of in into blocks*16 characters at out; reads
// four bytes beyond them.
TEXT ·encodeBase64Blocks(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ blocks+16(FP), CX
	TESTQ CX, CX
	JZ done
	MOVOU b64shuf<>(SB), X8
	MOVOU b64mask1<>(SB), X9
	MOVOU b64mul1<>(SB), X10
	MOVOU b64mask2<>(SB), X11
	MOVOU b64mul2<>(SB), X12
	MOVOU b64c51<>(SB), X13
	MOVOU b64c26<>(SB), X14
	MOVOU b64lut<>(SB), X15
	MOVOU b64c13<>(SB), X7

pairs:
	CMPQ CX, $2
	JB single
	ENC(0, 0, X0, X1, X2, X3)
	ENC(12, 16, X4, X5, X6, X3)
	ADDQ $24, SI
	ADDQ $32, DI
	SUBQ $2, CX
	JMP pairs

single:
	TESTQ CX, CX
	JZ done
	ENC(0, 0, X0, X1, X2, X3)

done:
	RET
