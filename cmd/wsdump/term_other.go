//go:build !linux

package main

// isTTY cannot ask the terminal driver here; isTerminal falls back to
// "a character device".
func isTTY(fd uintptr) bool { return true }
