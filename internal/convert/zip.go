package convert

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// zipLimits guard reading a zip container (OOXML, ODF) against bombs.
type zipLimits struct {
	entries  int   // entries in the directory
	inflated int64 // bytes all entries read may inflate to
	ratio    int64 // refused when an entry inflates more than this per compressed byte
}

// errBomb reports a container that would inflate beyond the limits.
var errBomb = errors.New("convert: zip container exceeds the inflation limits (possible zip bomb)")

// zipReader opens data as a zip archive within the limits. Each read
// through the returned budget counts against lim.inflated.
type zipReader struct {
	z      *zip.Reader
	lim    zipLimits
	budget int64
}

func openZip(data []byte, lim zipLimits) (*zipReader, error) {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("convert: not a zip container: %w", err)
	}
	if len(z.File) > lim.entries {
		return nil, fmt.Errorf("%w: %d entries, at most %d", errBomb, len(z.File), lim.entries)
	}
	return &zipReader{z: z, lim: lim, budget: lim.inflated}, nil
}

// file returns the entry named name, nil if absent.
func (zr *zipReader) file(name string) *zip.File {
	for _, f := range zr.z.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// read inflates one entry, counting it against the budget and refusing
// one whose declared or actual ratio is too high.
func (zr *zipReader) read(f *zip.File) ([]byte, error) {
	if f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > uint64(zr.lim.ratio) {
		return nil, fmt.Errorf("%w: %s inflates %d:1", errBomb, f.Name, f.UncompressedSize64/f.CompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The declared size can lie: the read itself is bounded.
	b, err := io.ReadAll(io.LimitReader(rc, zr.budget+1))
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", f.Name, err)
	}
	if int64(len(b)) > zr.budget {
		return nil, fmt.Errorf("%w: more than %d bytes inflated", errBomb, zr.lim.inflated)
	}
	if f.CompressedSize64 > 0 && uint64(len(b))/f.CompressedSize64 > uint64(zr.lim.ratio) {
		return nil, fmt.Errorf("%w: %s inflates %d:1", errBomb, f.Name, uint64(len(b))/f.CompressedSize64)
	}
	zr.budget -= int64(len(b))
	return b, nil
}
