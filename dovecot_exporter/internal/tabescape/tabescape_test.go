// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package tabescape

import "testing"

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x01tb", "a\tb"},
		{"\x01n\x01r\x010\x011", "\n\r\x00\x01"},
		{"end\x01", "end\x01"},
		{"odd\x01x", "odd\x01x"},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
