// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package wireguard

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// TestBadFlagsExitWithOneLine: wrong WireGuard flags and files stop the
// exporter with one line naming the flag, the file and, for content, the line.
func TestBadFlagsExitWithOneLine(t *testing.T) {
	bin := proc.Exporter(t, "wireguard_exporter")
	dir := t.TempDir()
	badNames := filepath.Join(dir, "names.yaml")
	if err := os.WriteFile(badNames, []byte("# names\nnot-a-key: alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badConf := filepath.Join(dir, "wg0.conf")
	if err := os.WriteFile(badConf, []byte("[Peer]\n# Name = x\nPublicKey = short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"--wireguard.config=" + missing}, "--wireguard.config=" + missing + ": stat"},
		{"bad config", []string{"--wireguard.config=" + badConf}, "--wireguard.config=" + badConf + ": line 3: PublicKey"},
		{"bad names file", []string{"--wireguard.peer-names-file=" + badNames}, "--wireguard.peer-names-file=" + badNames + `: line 2: "not-a-key"`},
		{"bad compat", []string{"--metrics.compat=rust"}, "--metrics.compat=rust: want none or mindflavor"},
		{"bad timeout", []string{"--wireguard.timeout=0s"}, "--wireguard.timeout=0s: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--web.listen-address=127.0.0.1:0"}, tt.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatal("exited 0")
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "wireguard_exporter: error: ") || !strings.Contains(last, tt.want) {
				t.Errorf("last line %q, want …%s…", last, tt.want)
			}
			for _, l := range lines[:len(lines)-1] {
				if strings.Contains(l, "level=ERROR") {
					t.Errorf("error reported twice: %q", l)
				}
			}
		})
	}
}
