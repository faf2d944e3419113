// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package oldstats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrTruncated is returned when an EXPORT reply ends before its closing
// empty line.
var ErrTruncated = errors.New("old-stats: reply ended before its final empty line")

// maxLine bounds one reply line; a command row carries the command's
// arguments, which a client chooses, so the bound is generous.
const maxLine = 1 << 20

// Table is one EXPORT reply: a header line of column names and one row per
// command, session, user, domain or IP (one row for the global scope).
type Table struct {
	Header []string
	Rows   [][]string
}

// ReadTable reads one EXPORT reply from br, up to and including its empty
// closing line, leaving br at the start of the next reply. Rows whose
// column count differs from the header's are counted in bad and skipped.
func ReadTable(br *bufio.Reader) (t Table, bad int, err error) {
	first := true
	for {
		line, err := readLine(br)
		if err != nil {
			return t, bad, err
		}
		if line == "" {
			return t, bad, nil
		}
		cols := strings.Split(line, "\t")
		if first {
			first = false
			if strings.HasPrefix(line, "-") {
				// Dovecot's way of saying it did not understand the request.
				return t, bad, fmt.Errorf("old-stats: EXPORT failed: %s", strings.TrimPrefix(line, "-"))
			}
			t.Header = cols
			continue
		}
		if len(cols) != len(t.Header) {
			bad++
			continue
		}
		t.Rows = append(t.Rows, cols)
	}
}

func readLine(br *bufio.Reader) (string, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if long == nil {
				return strings.TrimSuffix(string(frag[:len(frag)-1]), "\r"), nil
			}
			long = append(long, frag[:len(frag)-1]...)
			return strings.TrimSuffix(string(long), "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, frag...)
			if len(long) > maxLine {
				return "", fmt.Errorf("old-stats: reply line longer than %d bytes", maxLine)
			}
		case errors.Is(err, io.EOF):
			return "", ErrTruncated
		default:
			return "", fmt.Errorf("old-stats: reading reply: %w", err)
		}
	}
}
