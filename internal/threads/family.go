package threads

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Family returns the category a thread (or process) name counts under: the
// name with its counters replaced by "*", so that a pool whose threads
// number themselves is one category, not one per thread:
//
//	RPC-Processor-1, RPC-Processor-2, …   → RPC-Processor-*
//	pool-1-thread-3                        → pool-*-thread-*
//	GC Thread#0                            → GC Thread#*
//	worker3, worker12                      → worker*
//	7, 12 (digits only)                    → *
//	worker, JRaft-RPC-Proc                 → unchanged
//
// A counter is a run of ASCII digits, except one glued to a letter on its
// left that does not end the name: that is part of a word ("G1 Conc#0" →
// "G1 Conc#*", "C2 CompilerThre", "x86_64" → "x86_*", "k8s"). A number at
// the end of a name counts even when glued to a word, because pools are
// named "worker%d" as often as "worker-%d"; the price is that "h2" and
// "h3" are one family, "h*", which merges two categories but never hides
// growth. Family(Family(n)) == Family(n).
func Family(name string) string {
	if !strings.ContainsAny(name, "0123456789") {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		if !isDigit(name[i]) {
			b.WriteByte(name[i])
			i++
			continue
		}
		j := i
		for j < len(name) && isDigit(name[j]) {
			j++
		}
		prev, _ := utf8.DecodeLastRuneInString(name[:i])
		if i > 0 && unicode.IsLetter(prev) && j < len(name) {
			b.WriteString(name[i:j]) // part of a word
		} else {
			b.WriteByte('*')
		}
		i = j
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
