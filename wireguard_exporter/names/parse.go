// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package names maps WireGuard peer public keys to human names, read from
// wg-quick configuration files (comments in [Peer] sections) and from a
// names file (YAML or JSON), and re-read when those files change.
package names

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Map is public key to peer name.
type Map map[wgtypes.Key]string

// maxLine bounds one line of a config file; wg-quick files are short, and a
// bound keeps a wrong file (a binary, a log) from using unbounded memory.
const maxLine = 64 * 1024

// ParseConfig reads the peer names of one wg-quick configuration file: a
// comment "# Name = x" or "# friendly_name = x" inside a [Peer] section names
// the peer whose PublicKey that section sets. When a section has both, Name
// wins, since it is the more common convention. Sections without a name or
// without a valid public key are skipped; only lines that cannot be parsed
// at all inside a named section are errors, reported with their line number.
func ParseConfig(r io.Reader) (Map, error) {
	out := Map{}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 4096), maxLine)

	var (
		inPeer             bool
		name, friendly     string
		key                string
		keyLine, lineNo    int
		haveName, haveFrnd bool
	)
	flush := func() error {
		defer func() {
			name, friendly, key = "", "", ""
			haveName, haveFrnd = false, false
		}()
		if !inPeer || (!haveName && !haveFrnd) || key == "" {
			return nil
		}
		k, err := wgtypes.ParseKey(key)
		if err != nil {
			return fmt.Errorf("line %d: PublicKey: %w", keyLine, err)
		}
		n := friendly
		if haveName {
			n = name
		}
		out[k] = n
		return nil
	}

	for s.Scan() {
		lineNo++
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if !inPeer {
				continue
			}
			k, v, ok := strings.Cut(c, "=")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "name":
				if !haveName {
					name, haveName = v, true
				}
			case "friendly_name":
				if !haveFrnd {
					friendly, haveFrnd = v, true
				}
			}
			continue
		}
		if strings.HasPrefix(line, "[") {
			if err := flush(); err != nil {
				return nil, err
			}
			inPeer = strings.EqualFold(strings.TrimSpace(strings.Trim(line, "[]")), "Peer")
			continue
		}
		// wg-quick drops everything after a '#' on a line before parsing it.
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !inPeer {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(k), "PublicKey") {
			key, keyLine = strings.TrimSpace(v), lineNo
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseNamesFile reads a names file: one mapping from public key (base64,
// as wg(8) prints it) to name, in YAML or JSON (JSON is read as YAML, of
// which it is a subset). An empty file is an empty mapping.
func ParseNamesFile(b []byte) (Map, error) {
	out := Map{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return out, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of public key to name", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], m.Content[i+1]
		if kn.Kind != yaml.ScalarNode || vn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: want public key: name", kn.Line)
		}
		k, err := wgtypes.ParseKey(kn.Value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", kn.Line, kn.Value, err)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: %s: duplicate key", kn.Line, kn.Value)
		}
		out[k] = vn.Value
	}
	return out, nil
}
