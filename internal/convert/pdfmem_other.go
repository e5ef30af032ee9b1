//go:build !(linux || darwin || freebsd)

package convert

import "errors"

// Without mmap the engine's memories are Go slices (linearMemory.heap).
func reserve(uint64) ([]byte, error) {
	return nil, errors.New("convert: no address space reservation here")
}
func commit([]byte) error { return nil }
func discard([]byte)      {}
func unmap([]byte)        {}
