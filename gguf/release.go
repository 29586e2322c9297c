package gguf

import (
	"os"
	"unsafe"
)

// Release tells the operating system that the process no longer needs the
// memory pages wholly inside b, a slice of tensor data returned by
// TensorData, as after copying the tensor elsewhere (model loading packs
// some weights into new memory). The pages stop counting towards the
// process's resident memory; reading b afterwards is still correct, the
// pages coming back from the file. Release does nothing for a File made by
// Parse, for bytes outside the mapped file, or where the system has no
// such call.
func (f *File) Release(b []byte) {
	if len(b) == 0 {
		return
	}
	for _, p := range f.parts {
		p.Release(b)
	}
	if f.unmap == nil || len(f.data) == 0 {
		return // not mapped: Parse's bytes belong to the caller
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(f.data)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	if lo < base || hi > base+uintptr(len(f.data)) {
		return
	}
	page := uintptr(os.Getpagesize())
	// Only whole pages: the partial ones at the ends may hold other
	// tensors' bytes.
	start, end := (lo+page-1)&^(page-1), hi&^(page-1)
	if start >= end {
		return
	}
	dontNeed(f.data[start-base : end-base])
}
