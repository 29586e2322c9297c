//go:build !linux

package gguf

func dontNeed([]byte) {}
