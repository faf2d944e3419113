// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// fakeSearcher answers searches by base DN from canned entries or errors.
type fakeSearcher struct {
	mu      sync.Mutex
	results map[string][]*ldap.Entry
	errs    map[string]error
	calls   int
}

func (f *fakeSearcher) Search(_ context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err, ok := f.errs[req.BaseDN]; ok {
		return nil, err
	}
	if err, ok := f.errs["*"]; ok {
		return nil, err
	}
	es, ok := f.results[req.BaseDN]
	if !ok {
		return nil, ldap.NewError(ldap.LDAPResultNoSuchObject, fmt.Errorf("no such object %q", req.BaseDN))
	}
	return &ldap.SearchResult{Entries: es}, nil
}

// readLDIF reads the unwrapped LDIF that `ldapsearch -LLL -o ldif-wrap=no`
// prints: enough for fixtures captured from a real slapd.
func readLDIF(t testing.TB, path string) []*ldap.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*ldap.Entry
	var cur *ldap.Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			cur = nil
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		value = strings.TrimPrefix(value, " ")
		if name == "dn" {
			cur = &ldap.Entry{DN: value}
			out = append(out, cur)
			continue
		}
		if a := findAttr(cur, name); a != nil {
			a.Values = append(a.Values, value)
		} else {
			cur.Attributes = append(cur.Attributes, &ldap.EntryAttribute{Name: name, Values: []string{value}})
		}
	}
	return out
}

func findAttr(e *ldap.Entry, name string) *ldap.EntryAttribute {
	for _, a := range e.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func entry(dn string, kv ...string) *ldap.Entry {
	e := &ldap.Entry{DN: dn}
	for i := 0; i+1 < len(kv); i += 2 {
		if a := findAttr(e, kv[i]); a != nil {
			a.Values = append(a.Values, kv[i+1])
		} else {
			e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: kv[i], Values: []string{kv[i+1]}})
		}
	}
	return e
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func pathEscape(p string) string { return strings.ReplaceAll(p, "/", "%2F") }
