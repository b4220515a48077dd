package main

import "strings"

// shellQuote quotes s for a POSIX shell: as it is when every byte is safe,
// otherwise inside single quotes, where nothing is special but the single
// quote itself, which closes the quotes, is escaped with a backslash and
// reopens them.
// Pasting the result runs no command and expands nothing, whatever s holds.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./:=,+@%", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandLine joins words into one line for a POSIX shell, each quoted.
func commandLine(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}
