//go:build amd64 && !purego

#include "textflag.h"

// JSON string escaping, sixteen bytes per step, for text that is printable
// ASCII: bytes that need no escape are stored as they are; a '"' or '\\'
// gets a backslash before it, by spreading each half of the step's bytes
// with PSHUFB (jsonExpandShuf: for each pattern of the half's eight
// bytes that need one, where each byte goes) and putting the backslashes
// in the gaps (jsonExpandBS). A step with a control byte or a byte of
// 0x80 or more is left to the caller.

DATA jsonQuote<>+0(SB)/8, $0x2222222222222222
DATA jsonQuote<>+8(SB)/8, $0x2222222222222222
GLOBL jsonQuote<>(SB), RODATA|NOPTR, $16

DATA jsonBslash<>+0(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA jsonBslash<>+8(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL jsonBslash<>(SB), RODATA|NOPTR, $16

DATA jsonSpace<>+0(SB)/8, $0x2020202020202020
DATA jsonSpace<>+8(SB)/8, $0x2020202020202020
GLOBL jsonSpace<>(SB), RODATA|NOPTR, $16

// EXPAND writes the eight bytes in the low half of x, the bytes set in
// the mask m (bit k: byte k) with a backslash before each, at (DI)(BX*1),
// and moves BX past them.
#define EXPAND(m, x) \
	MOVQ m, R12; \
	SHLQ $4, R12; \
	MOVOU (R10)(R12*1), X4; \
	PSHUFB X4, x; \
	MOVOU (R11)(R12*1), X6; \
	POR X6, x; \
	MOVOU x, (DI)(BX*1); \
	POPCNTL m, m; \
	LEAQ 8(BX)(m*1), BX

// func escapeASCIIChunks(out *byte, outLen int, in *byte, inLen int) (consumed, produced int)
TEXT ·escapeASCIIChunks(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ outLen+8(FP), R8
	MOVQ in+16(FP), SI
	MOVQ inLen+24(FP), R9
	XORQ AX, AX
	XORQ BX, BX
	MOVOU jsonQuote<>(SB), X8
	MOVOU jsonBslash<>(SB), X9
	MOVOU jsonSpace<>(SB), X10
	LEAQ ·jsonExpandShuf(SB), R10
	LEAQ ·jsonExpandBS(SB), R11

loop:
	MOVQ R9, CX
	SUBQ AX, CX
	CMPQ CX, $16
	JLT done
	MOVQ R8, CX
	SUBQ BX, CX
	CMPQ CX, $32
	JLT done
	MOVOU (SI)(AX*1), X0
	// A control byte or one of 0x80 or more: below 0x20 as a signed byte.
	MOVO X10, X1
	PCMPGTB X0, X1
	PMOVMSKB X1, CX
	TESTL CX, CX
	JNZ done
	MOVO X0, X2
	PCMPEQB X8, X2
	MOVO X0, X3
	PCMPEQB X9, X3
	POR X3, X2
	PMOVMSKB X2, CX
	TESTL CX, CX
	JNZ expand
	MOVOU X0, (DI)(BX*1)
	ADDQ $16, AX
	ADDQ $16, BX
	JMP loop

expand:
	MOVL CX, DX
	ANDL $0xff, DX
	MOVO X0, X5
	EXPAND(DX, X5)
	MOVL CX, DX
	SHRL $8, DX
	MOVO X0, X5
	PSRLDQ $8, X5
	EXPAND(DX, X5)
	ADDQ $16, AX
	JMP loop

done:
	MOVQ AX, consumed+32(FP)
	MOVQ BX, produced+40(FP)
	RET
