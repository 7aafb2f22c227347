// Package mainfind parses "key=value" lines.
package mainfind

import (
	"bufio"
	"io"
	"strings"
)

// Parse reads key=value lines from r.
func Parse(r io.Reader) (map[string]string, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kv, sc.Err()
}
