//go:build amd64 && !purego

#include "textflag.h"

// SHA-256 (FIPS 180-4) with the SHA extensions. The state of a lane is
// kept in two registers as the instructions want it: ABEF (A in the
// highest dword) and CDGH. SHA256RNDS2 runs two rounds and has a latency
// of about twice its issue interval, so one message leaves the unit idle
// half the time: blockx2 runs the rounds of two messages interleaved.
//
// Registers of blockx2: lane A in X1 (ABEF), X2 (CDGH), X3-X6 (message
// schedule, four words each); lane B in X7, X8, X9-X12; X0 the message
// words plus round constants of SHA256RNDS2; X13-X15 scratch. The state
// at the start of a block is saved on the stack, for the addition at its
// end.

// Byte order of the message words: each dword reversed.
DATA bswap<>+0(SB)/8, $0x0405060700010203
DATA bswap<>+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL bswap<>(SB), RODATA|NOPTR, $16

DATA k256<>+0x00(SB)/4, $0x428a2f98
DATA k256<>+0x04(SB)/4, $0x71374491
DATA k256<>+0x08(SB)/4, $0xb5c0fbcf
DATA k256<>+0x0c(SB)/4, $0xe9b5dba5
DATA k256<>+0x10(SB)/4, $0x3956c25b
DATA k256<>+0x14(SB)/4, $0x59f111f1
DATA k256<>+0x18(SB)/4, $0x923f82a4
DATA k256<>+0x1c(SB)/4, $0xab1c5ed5
DATA k256<>+0x20(SB)/4, $0xd807aa98
DATA k256<>+0x24(SB)/4, $0x12835b01
DATA k256<>+0x28(SB)/4, $0x243185be
DATA k256<>+0x2c(SB)/4, $0x550c7dc3
DATA k256<>+0x30(SB)/4, $0x72be5d74
DATA k256<>+0x34(SB)/4, $0x80deb1fe
DATA k256<>+0x38(SB)/4, $0x9bdc06a7
DATA k256<>+0x3c(SB)/4, $0xc19bf174
DATA k256<>+0x40(SB)/4, $0xe49b69c1
DATA k256<>+0x44(SB)/4, $0xefbe4786
DATA k256<>+0x48(SB)/4, $0x0fc19dc6
DATA k256<>+0x4c(SB)/4, $0x240ca1cc
DATA k256<>+0x50(SB)/4, $0x2de92c6f
DATA k256<>+0x54(SB)/4, $0x4a7484aa
DATA k256<>+0x58(SB)/4, $0x5cb0a9dc
DATA k256<>+0x5c(SB)/4, $0x76f988da
DATA k256<>+0x60(SB)/4, $0x983e5152
DATA k256<>+0x64(SB)/4, $0xa831c66d
DATA k256<>+0x68(SB)/4, $0xb00327c8
DATA k256<>+0x6c(SB)/4, $0xbf597fc7
DATA k256<>+0x70(SB)/4, $0xc6e00bf3
DATA k256<>+0x74(SB)/4, $0xd5a79147
DATA k256<>+0x78(SB)/4, $0x06ca6351
DATA k256<>+0x7c(SB)/4, $0x14292967
DATA k256<>+0x80(SB)/4, $0x27b70a85
DATA k256<>+0x84(SB)/4, $0x2e1b2138
DATA k256<>+0x88(SB)/4, $0x4d2c6dfc
DATA k256<>+0x8c(SB)/4, $0x53380d13
DATA k256<>+0x90(SB)/4, $0x650a7354
DATA k256<>+0x94(SB)/4, $0x766a0abb
DATA k256<>+0x98(SB)/4, $0x81c2c92e
DATA k256<>+0x9c(SB)/4, $0x92722c85
DATA k256<>+0xa0(SB)/4, $0xa2bfe8a1
DATA k256<>+0xa4(SB)/4, $0xa81a664b
DATA k256<>+0xa8(SB)/4, $0xc24b8b70
DATA k256<>+0xac(SB)/4, $0xc76c51a3
DATA k256<>+0xb0(SB)/4, $0xd192e819
DATA k256<>+0xb4(SB)/4, $0xd6990624
DATA k256<>+0xb8(SB)/4, $0xf40e3585
DATA k256<>+0xbc(SB)/4, $0x106aa070
DATA k256<>+0xc0(SB)/4, $0x19a4c116
DATA k256<>+0xc4(SB)/4, $0x1e376c08
DATA k256<>+0xc8(SB)/4, $0x2748774c
DATA k256<>+0xcc(SB)/4, $0x34b0bcb5
DATA k256<>+0xd0(SB)/4, $0x391c0cb3
DATA k256<>+0xd4(SB)/4, $0x4ed8aa4a
DATA k256<>+0xd8(SB)/4, $0x5b9cca4f
DATA k256<>+0xdc(SB)/4, $0x682e6ff3
DATA k256<>+0xe0(SB)/4, $0x748f82ee
DATA k256<>+0xe4(SB)/4, $0x78a5636f
DATA k256<>+0xe8(SB)/4, $0x84c87814
DATA k256<>+0xec(SB)/4, $0x8cc70208
DATA k256<>+0xf0(SB)/4, $0x90befffa
DATA k256<>+0xf4(SB)/4, $0xa4506ceb
DATA k256<>+0xf8(SB)/4, $0xbef9a3f7
DATA k256<>+0xfc(SB)/4, $0xc67178f2
GLOBL k256<>(SB), RODATA|NOPTR, $256

// LOADSTATE reads h[0:8] from the address in h into abef and cdgh.
#define LOADSTATE(h, abef, cdgh) \
	MOVOU (h), X13; \
	MOVOU 16(h), cdgh; \
	PSHUFD $0xB1, X13, X13; \
	PSHUFD $0x1B, cdgh, cdgh; \
	MOVO X13, abef; \
	PALIGNR $8, cdgh, abef; \
	PBLENDW $0xF0, X13, cdgh

// STORESTATE writes abef and cdgh back as h[0:8].
#define STORESTATE(h, abef, cdgh) \
	PSHUFD $0x1B, abef, abef; \
	PSHUFD $0xB1, cdgh, cdgh; \
	MOVO abef, X13; \
	PBLENDW $0xF0, cdgh, abef; \
	PALIGNR $8, X13, cdgh; \
	MOVOU abef, (h); \
	MOVOU cdgh, 16(h)

// LOADMSG reads the 16 words of a block at p into m0-m3 (X15: bswap).
#define LOADMSG(p, m0, m1, m2, m3) \
	MOVOU (p), m0; \
	PSHUFB X15, m0; \
	MOVOU 16(p), m1; \
	PSHUFB X15, m1; \
	MOVOU 32(p), m2; \
	PSHUFB X15, m2; \
	MOVOU 48(p), m3; \
	PSHUFB X15, m3

// SCHED computes the next four message words into m0, which holds
// W[t-16..t-13]; m1 holds W[t-12..t-9], m2 W[t-8..t-5], m3 W[t-4..t-1]:
// W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]).
#define SCHED(m0, m1, m2, m3) \
	SHA256MSG1 m1, m0; \
	MOVO m3, X15; \
	PALIGNR $4, m2, X15; \
	PADDD X15, m0; \
	SHA256MSG2 m3, m0

// RND4 runs four rounds of one lane with the message words m and the
// constants at k(R8). The first two rounds make the new ABEF in cdgh, the
// next two in abef again.
#define RND4(m, k, abef, cdgh) \
	MOVOU k(R8), X13; \
	PADDD m, X13; \
	MOVO X13, X0; \
	SHA256RNDS2 X0, abef, cdgh; \
	PSHUFD $0x0E, X13, X0; \
	SHA256RNDS2 X0, cdgh, abef

// RND4X2 is RND4 for both lanes, interleaved.
#define RND4X2(ma, mb, k) \
	MOVOU k(R8), X13; \
	PADDD ma, X13; \
	MOVOU k(R8), X14; \
	PADDD mb, X14; \
	MOVO X13, X0; \
	SHA256RNDS2 X0, X1, X2; \
	MOVO X14, X0; \
	SHA256RNDS2 X0, X7, X8; \
	PSHUFD $0x0E, X13, X0; \
	SHA256RNDS2 X0, X2, X1; \
	PSHUFD $0x0E, X14, X0; \
	SHA256RNDS2 X0, X8, X7

// func blockx2(ha, hb *[8]uint32, pa, pb *byte, n int)
TEXT ·blockx2(SB), NOSPLIT, $64-40
	MOVQ ha+0(FP), AX
	MOVQ hb+8(FP), BX
	MOVQ pa+16(FP), SI
	MOVQ pb+24(FP), DI
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JZ done2
	LEAQ k256<>(SB), R8
	LOADSTATE(AX, X1, X2)
	LOADSTATE(BX, X7, X8)

loop2:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU X7, 32(SP)
	MOVOU X8, 48(SP)
	MOVOU bswap<>(SB), X15
	LOADMSG(SI, X3, X4, X5, X6)
	LOADMSG(DI, X9, X10, X11, X12)

	RND4X2(X3, X9, 0)
	RND4X2(X4, X10, 16)
	RND4X2(X5, X11, 32)
	RND4X2(X6, X12, 48)

	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	RND4X2(X3, X9, 64)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	RND4X2(X4, X10, 80)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	RND4X2(X5, X11, 96)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	RND4X2(X6, X12, 112)
	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	RND4X2(X3, X9, 128)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	RND4X2(X4, X10, 144)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	RND4X2(X5, X11, 160)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	RND4X2(X6, X12, 176)
	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	RND4X2(X3, X9, 192)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	RND4X2(X4, X10, 208)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	RND4X2(X5, X11, 224)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	RND4X2(X6, X12, 240)

	MOVOU 0(SP), X13
	PADDD X13, X1
	MOVOU 16(SP), X13
	PADDD X13, X2
	MOVOU 32(SP), X13
	PADDD X13, X7
	MOVOU 48(SP), X13
	PADDD X13, X8

	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ loop2

	STORESTATE(AX, X1, X2)
	STORESTATE(BX, X7, X8)

done2:
	RET

// func blockx1(h *[8]uint32, p *byte, n int)
TEXT ·blockx1(SB), NOSPLIT, $32-24
	MOVQ h+0(FP), AX
	MOVQ p+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ done1
	LEAQ k256<>(SB), R8
	LOADSTATE(AX, X1, X2)

loop1:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU bswap<>(SB), X15
	LOADMSG(SI, X3, X4, X5, X6)

	RND4(X3, 0, X1, X2)
	RND4(X4, 16, X1, X2)
	RND4(X5, 32, X1, X2)
	RND4(X6, 48, X1, X2)

	SCHED(X3, X4, X5, X6)
	RND4(X3, 64, X1, X2)
	SCHED(X4, X5, X6, X3)
	RND4(X4, 80, X1, X2)
	SCHED(X5, X6, X3, X4)
	RND4(X5, 96, X1, X2)
	SCHED(X6, X3, X4, X5)
	RND4(X6, 112, X1, X2)
	SCHED(X3, X4, X5, X6)
	RND4(X3, 128, X1, X2)
	SCHED(X4, X5, X6, X3)
	RND4(X4, 144, X1, X2)
	SCHED(X5, X6, X3, X4)
	RND4(X5, 160, X1, X2)
	SCHED(X6, X3, X4, X5)
	RND4(X6, 176, X1, X2)
	SCHED(X3, X4, X5, X6)
	RND4(X3, 192, X1, X2)
	SCHED(X4, X5, X6, X3)
	RND4(X4, 208, X1, X2)
	SCHED(X5, X6, X3, X4)
	RND4(X5, 224, X1, X2)
	SCHED(X6, X3, X4, X5)
	RND4(X6, 240, X1, X2)

	MOVOU 0(SP), X13
	PADDD X13, X1
	MOVOU 16(SP), X13
	PADDD X13, X2

	ADDQ $64, SI
	DECQ CX
	JNZ loop1

	STORESTATE(AX, X1, X2)

done1:
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
