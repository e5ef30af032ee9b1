//go:build linux || darwin || freebsd

package convert

import "golang.org/x/sys/unix"

// reserve maps n bytes of address space that no one may read or write
// yet: nothing is committed until commit.
func reserve(n uint64) ([]byte, error) {
	return unix.Mmap(-1, 0, int(n), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
}

// commit makes b (page-aligned: wasm pages are 64 KiB) readable and
// writable; its pages are zero until written, and cost memory only then.
func commit(b []byte) error {
	return unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE)
}

// discard gives b's pages back to the system; b stays mapped and reads
// as zeros.
func discard(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

func unmap(b []byte) { _ = unix.Munmap(b) }
