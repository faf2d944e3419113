// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package names

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

const (
	keyA = "2S7mA0vEMethCNQrJpJKE81/JmhgtB+tHHLYQhgM6kk="
	keyB = "qnoxQoQI8KKMupLnSSureORV0wMmH7JryZNsmGVISzU="
	keyC = "L2UoJZN7RmEKsMmqaJgKG0m1S2Zs2wd2ptAf+kb3008="
)

func mustKey(t testing.TB, s string) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{
			name: "both comment styles, interface comments ignored",
			in: `[Interface]
# Name = the server itself
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
ListenPort = 51820

[Peer]
# Name = alice
PublicKey = ` + keyA + `
AllowedIPs = 10.0.0.2/32

[Peer]
# friendly_name = bob's phone
PublicKey = ` + keyB + ` # inline comment
AllowedIPs = 10.0.0.3/32

[Peer]
PublicKey = ` + keyC + `
`,
			want: map[string]string{keyA: "alice", keyB: "bob's phone"},
		},
		{
			name: "Name wins over friendly_name, in either order; keys are case-insensitive",
			in:   "[Peer]\n# friendly_name = f\n#name=n\npublickey=" + keyA + "\n[peer]\n# NAME = x = y\nPublicKey = " + keyB + "\n",
			want: map[string]string{keyA: "n", keyB: "x = y"},
		},
		{
			name: "comment after the key, CRLF line ends",
			in:   "[Peer]\r\nPublicKey = " + keyA + "\r\n# Name = late\r\n",
			want: map[string]string{keyA: "late"},
		},
		{
			name: "unnamed peer with a bad key is not an error",
			in:   "[Peer]\nPublicKey = nope\n",
			want: map[string]string{},
		},
		{
			name:    "named peer with a bad key is, with its line",
			in:      "[Peer]\n# Name = x\n\nPublicKey = nope\n",
			wantErr: "line 4: PublicKey",
		},
		{
			name: "plain comments are not names",
			in:   "[Peer]\n# just a note\n#\n#=\nPublicKey = " + keyA + "\n",
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, stringMap(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func stringMap(m Map) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k.String()] = v
	}
	return out
}

func TestParseNamesFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "yaml", in: keyA + ": alice\n\"" + keyB + "\": 'bob'\n", want: map[string]string{keyA: "alice", keyB: "bob"}},
		{name: "json", in: `{"` + keyA + `": "alice", "` + keyB + `": "bob \"b\""}`, want: map[string]string{keyA: "alice", keyB: `bob "b"`}},
		{name: "empty", in: "\n", want: map[string]string{}},
		{name: "null", in: "~\n", want: map[string]string{}},
		{name: "list", in: "- a\n", wantErr: "line 1: want a mapping"},
		{name: "bad key", in: "x: y\n", wantErr: `line 1: "x"`},
		{name: "nested", in: keyA + ":\n  a: b\n", wantErr: "line 1: want public key: name"},
		{name: "duplicate", in: keyA + ": a\n" + keyA + ": b\n", wantErr: "line 2"},
		{name: "syntax", in: "{", wantErr: "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNamesFile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, stringMap(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	// Write and rename, as editors and Nix do, so a reader never sees half.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestResolverReloads(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "wg0.conf")
	namesFile := filepath.Join(dir, "names.yaml")
	write(t, conf, "[Peer]\n# Name = alice\nPublicKey = "+keyA+"\n[Peer]\n# Name = from-config\nPublicKey = "+keyB+"\n")
	write(t, namesFile, keyB+": from-names-file\n")
	var logs bytes.Buffer
	r, err := NewResolver([]string{conf}, namesFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	check := func(want map[string]string) {
		t.Helper()
		if diff := cmp.Diff(want, stringMap(r.Names())); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	// The names file overrides the config comment.
	check(map[string]string{keyA: "alice", keyB: "from-names-file"})

	write(t, namesFile, keyB+": renamed\n"+keyC+": carol\n")
	check(map[string]string{keyA: "alice", keyB: "renamed", keyC: "carol"})

	// A broken file keeps its last good names and is logged once, not per scrape.
	write(t, namesFile, "{")
	check(map[string]string{keyA: "alice", keyB: "renamed", keyC: "carol"})
	check(map[string]string{keyA: "alice", keyB: "renamed", keyC: "carol"})
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("want 1 error line, got %d:\n%s", n, logs.String())
	}
	// Removed: still the last good names.
	if err := os.Remove(namesFile); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{keyA: "alice", keyB: "renamed", keyC: "carol"})

	// An edit in place that keeps the size still shows through the mtime.
	old, _ := os.ReadFile(conf)
	edited := strings.Replace(string(old), "alice", "alicf", 1)
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(conf, future, future); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{keyA: "alicf", keyB: "renamed", keyC: "carol"})
}

func TestResolverStartupErrorsNameFlagAndFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("x: y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		conf  []string
		names string
		want  string
	}{
		{conf: []string{filepath.Join(dir, "missing.conf")}, want: "--wireguard.config=" + filepath.Join(dir, "missing.conf") + ": "},
		{names: bad, want: "--wireguard.peer-names-file=" + bad + `: line 1: "x"`},
	}
	for _, tt := range tests {
		_, err := NewResolver(tt.conf, tt.names, slog.New(slog.DiscardHandler))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("err = %v, want prefix %q", err, tt.want)
		}
	}
}

func TestNilResolver(t *testing.T) {
	var r *Resolver
	if r.Names() != nil {
		t.Error("nil resolver has names")
	}
}

// FuzzParseConfig: any input either parses or returns an error; it never
// panics, never finds more names than there are PublicKey lines, and a
// name is always one line.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		if n := strings.Count(strings.ToLower(in), "publickey"); len(m) > n {
			t.Errorf("%d names from %d PublicKey lines", len(m), n)
		}
		for _, v := range m {
			if strings.ContainsAny(v, "\n") {
				t.Errorf("name %q spans lines", v)
			}
		}
	})
}

// FuzzParseNamesFile: YAML and JSON input never panics the names file parser.
func FuzzParseNamesFile(f *testing.F) {
	f.Add(keyA + ": alice\n")
	f.Add(`{"` + keyA + `": "alice"}`)
	f.Add("- a\n")
	f.Add("~")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ParseNamesFile([]byte(in))
	})
}
