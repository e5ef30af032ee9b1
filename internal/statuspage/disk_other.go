//go:build !linux

package statuspage

import "errors"

func diskFree(string) (free, total uint64, err error) {
	return 0, 0, errors.New("not measured on this system")
}
