package convert

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// engineMemory allocates the linear memories of the PDF engine's
// instances. Where the platform allows (pdfmem_unix.go) a memory is a
// reservation of address space outside the Go heap, made readable page by
// page as the module grows it: an instance costs only the pages PDFium
// touches (its 18 MiB initial memory is mostly never touched), the
// collector never scans or zeroes it, and freeing returns it to the
// system at once. Elsewhere it is a Go slice, as wazero's own.
//
// It also bounds what one instance may hold (limit): past it the module's
// memory.grow fails, PDFium's allocation fails, and the conversion ends
// with an error instead of taking the host's memory (a 2 KB PDF of nested
// forms asked for 2 GiB).
//
// A killed instance's code may still be running when wazero frees its
// memory (the kill only asks it to stop at its next check), so while a
// kill is in progress (hold/release) freed memories are emptied but kept
// mapped, and unmapped when the last kill in progress has seen its
// conversion end.
type engineMemory struct {
	limit uint64 // bytes one instance's memory may grow to

	mu      sync.Mutex
	live    uint64 // bytes readable in all live memories
	allocs  int    // memories allocated: instances started
	holding int    // kills in progress
	held    []*linearMemory
}

func newEngineMemory(limit uint64) *engineMemory {
	return &engineMemory{limit: limit}
}

// Allocate implements experimental.MemoryAllocator.
func (m *engineMemory) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	// The module's initial memory is always given, whatever the limit.
	size := max(min(maxBytes, m.limit), capacity)
	lm := &linearMemory{eng: m, limit: size}
	if buf, err := reserve(size); err == nil {
		lm.res = buf
	}
	m.mu.Lock()
	m.allocs++
	m.mu.Unlock()
	return lm
}

// inUse reports the bytes the live memories hold readable.
func (m *engineMemory) inUse() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live
}

// started reports how many memories (instances) were allocated.
func (m *engineMemory) started() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.allocs
}

// hold starts a kill: memories freed until release stay mapped.
func (m *engineMemory) hold() {
	m.mu.Lock()
	m.holding++
	m.mu.Unlock()
}

// release ends a kill whose conversion has returned.
func (m *engineMemory) release() {
	m.mu.Lock()
	m.holding--
	var free []*linearMemory
	if m.holding == 0 {
		free, m.held = m.held, nil
	}
	m.mu.Unlock()
	for _, lm := range free {
		unmap(lm.res)
	}
}

func (m *engineMemory) free(lm *linearMemory) {
	m.mu.Lock()
	m.live -= lm.size
	lm.freed = true
	lm.heap = nil // the collector's, once the instance lets go
	hold := m.holding > 0 && lm.res != nil
	if hold {
		m.held = append(m.held, lm)
	}
	m.mu.Unlock()
	switch {
	case lm.res == nil:
	case hold:
		discard(lm.res[:lm.size]) // emptied now, unmapped at release
	default:
		unmap(lm.res)
	}
}

// linearMemory is one instance's memory: res is the reservation (nil:
// a Go slice, heap), size the bytes readable. Its fields are the
// engine's mutex's: a killed instance's code may grow it while wazero
// frees it.
type linearMemory struct {
	eng   *engineMemory
	limit uint64
	res   []byte
	heap  []byte
	size  uint64
	freed bool
}

// Reallocate implements experimental.LinearMemory: size is the module's
// new memory size; nil refuses the growth (memory.grow returns -1).
func (lm *linearMemory) Reallocate(size uint64) []byte {
	m := lm.eng
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > lm.limit || lm.freed {
		return nil
	}
	if lm.res == nil {
		if size > uint64(cap(lm.heap)) {
			b := make([]byte, size)
			copy(b, lm.heap)
			lm.heap = b
		}
		lm.heap = lm.heap[:size]
		lm.grow(size)
		return lm.heap
	}
	if size > lm.size && commit(lm.res[lm.size:size]) != nil {
		return nil
	}
	lm.grow(size)
	return lm.res[:size:size]
}

// grow notes the new size; the engine's mutex is held.
func (lm *linearMemory) grow(size uint64) {
	if size > lm.size {
		lm.eng.live += size - lm.size
		lm.size = size
	}
}

// Free implements experimental.LinearMemory.
func (lm *linearMemory) Free() {
	lm.eng.free(lm)
}
