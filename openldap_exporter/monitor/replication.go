// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// dataBackends are the backends whose suffix entry is stored locally. Proxy
// backends (ldap, meta) would forward the contextCSN read to another server.
var dataBackends = map[string]bool{"mdb": true, "hdb": true, "bdb": true, "ldif": true, "wt": true}

// CSNSuffixes lists the suffixes whose contextCSN is worth reading.
func CSNSuffixes(dbs []Database) []string {
	var out []string
	for _, d := range dbs {
		if d.Suffix != "" && dataBackends[strings.ToLower(d.Backend)] {
			out = append(out, d.Suffix)
		}
	}
	return out
}

// ContextCSNs maps a suffix to the newest change per server ID found in its
// root entry's contextCSN.
type ContextCSNs map[string]map[int]CSN

// ReadContextCSNs reads contextCSN from the root entry of each suffix: one
// base-scope search per suffix, asking for that attribute only. A suffix
// without a root entry yet, or one the exporter may not read, is skipped;
// only a failure to talk to slapd at all is an error.
func ReadContextCSNs(ctx context.Context, s Searcher, suffixes []string) (ContextCSNs, []*SkipError, error) {
	out := ContextCSNs{}
	var skips []*SkipError
	for _, suffix := range suffixes {
		// Filtering on contextCSN rather than objectClass keeps the ACL the
		// exporter needs down to entry and contextCSN.
		req := ldap.NewSearchRequest(suffix, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, 0, false, "(contextCSN=*)", []string{"contextCSN"}, nil)
		res, err := s.Search(ctx, req)
		if err != nil {
			if isResultError(err) {
				skips = append(skips, &SkipError{DN: suffix, Attr: "contextCSN", Err: err, NotParse: true})
				continue
			}
			return out, skips, err
		}
		if len(res.Entries) == 0 {
			skips = append(skips, &SkipError{DN: suffix, Attr: "contextCSN", NotParse: true,
				Err: errors.New("none visible: no change written yet, or the ACL hides the suffix entry or its contextCSN")})
		}
		for _, e := range res.Entries {
			for _, a := range e.Attributes {
				if !strings.EqualFold(a.Name, "contextCSN") {
					continue
				}
				for _, v := range a.Values {
					csn, err := ParseCSN(v)
					if err != nil {
						skips = append(skips, &SkipError{DN: e.DN, Attr: a.Name, Value: v, Err: err})
						continue
					}
					m := out[suffix]
					if m == nil {
						m = map[int]CSN{}
						out[suffix] = m
					}
					if old, ok := m[csn.ServerID]; !ok || csn.Time.After(old.Time) {
						m[csn.ServerID] = csn
					}
				}
			}
		}
	}
	return out, skips, nil
}

// Lag is how far this server is behind the provider for one suffix and
// server ID.
type Lag struct {
	Suffix   string
	ServerID int
	Seconds  float64
}

// ReplicationLag compares the provider's newest change per server ID with
// the local one. A server ID the local side has never seen has no lag
// series (there is nothing to subtract); a local side ahead of the provider
// counts as 0.
func ReplicationLag(provider, local ContextCSNs) []Lag {
	var out []Lag
	for suffix, pm := range provider {
		lm := local[suffix]
		for sid, p := range pm {
			l, ok := lm[sid]
			if !ok {
				continue
			}
			out = append(out, Lag{Suffix: suffix, ServerID: sid, Seconds: max(0, p.Time.Sub(l.Time).Seconds())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Suffix != out[j].Suffix {
			return out[i].Suffix < out[j].Suffix
		}
		return out[i].ServerID < out[j].ServerID
	})
	return out
}

var (
	errNoSuffixes       = errors.New("no local suffix known, so nothing to ask the provider for")
	errNoMonitorEntries = errors.New("cn=Monitor returned no entries: is the monitor backend configured, and may the exporter's identity read it (see the README's ACL)?")
)
