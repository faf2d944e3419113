// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package tabescape undoes Dovecot's tab escaping, which both the
// stats-reader and the old-stats protocols use for free-text columns.
package tabescape

import "strings"

// escape is the byte Dovecot puts before an escaped character; the byte after
// it names the character: '0' NUL, '1' the escape byte itself, 't' TAB,
// 'r' CR, 'n' LF.
const escape = '\x01'

// Unescape returns s with Dovecot's tab escapes decoded. An escape byte
// followed by an unknown letter (or at the end) is kept as it is: a broken
// value must not make the whole line unusable.
func Unescape(s string) string {
	if strings.IndexByte(s, escape) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != escape || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '0':
			b.WriteByte(0)
		case '1':
			b.WriteByte(escape)
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(c)
			continue
		}
		i++
	}
	return b.String()
}
