// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// MonitorBase is the root of slapd's monitor backend.
const MonitorBase = "cn=Monitor"

// monitorFilter leaves out the per-connection entries (one per client,
// possibly thousands) and the containers, which carry nothing we read.
const monitorFilter = "(|(objectClass=monitorServer)(objectClass=monitorCounterObject)" +
	"(objectClass=monitorOperation)(objectClass=monitoredObject))"

// monitorAttrs are the only attributes the exporter asks for: slapd then
// builds and sends nothing else.
var monitorAttrs = []string{
	"monitoredInfo", "monitorCounter", "monitorOpInitiated", "monitorOpCompleted",
	"monitorTimestamp", "namingContexts", "monitorContext", "monitorIsShadow",
	"labeledURI", "monitorConnectionLocalAddress",
	"olmMDBEntries", "olmMDBPagesMax", "olmMDBPagesUsed", "olmMDBPagesFree",
	"olmMDBReadersMax", "olmMDBReadersUsed",
}

// MonitorRequest is the one search that reads all of cn=Monitor that the
// exporter uses.
func MonitorRequest() *ldap.SearchRequest {
	return ldap.NewSearchRequest(MonitorBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, monitorFilter, monitorAttrs, nil)
}

// scalarKeys maps "container/entry/attribute" (lower case) of cn=Monitor to
// the metric it feeds.
var scalarKeys = map[string]string{
	"connections/current/monitorcounter":              "connections_current",
	"connections/total/monitorcounter":                "connections_total",
	"connections/max file descriptors/monitorcounter": "connections_max_file_descriptors",
	"statistics/bytes/monitorcounter":                 "sent_bytes_total",
	"statistics/pdu/monitorcounter":                   "sent_pdus_total",
	"statistics/entries/monitorcounter":               "sent_entries_total",
	"statistics/referrals/monitorcounter":             "sent_referrals_total",
	"threads/max/monitoredinfo":                       "threads_max",
	"threads/max pending/monitoredinfo":               "threads_max_pending",
	"threads/backload/monitoredinfo":                  "threads_backload",
	"threads/active/monitoredinfo":                    "threads_active",
	"threads/open/monitoredinfo":                      "threads_open",
	"threads/starting/monitoredinfo":                  "threads_starting",
	"threads/pending/monitoredinfo":                   "threads_pending",
	"waiters/read/monitorcounter":                     "waiters_read",
	"waiters/write/monitorcounter":                    "waiters_write",
	"time/uptime/monitoredinfo":                       "uptime_seconds",
	"time/start/monitortimestamp":                     "start_time_seconds",
}

// mdbKeys maps the olmMDB attributes of a database entry to metrics.
var mdbKeys = map[string]string{
	"olmmdbentries":     "mdb_entries",
	"olmmdbpagesmax":    "mdb_pages_max",
	"olmmdbpagesused":   "mdb_pages_used",
	"olmmdbpagesfree":   "mdb_pages_free",
	"olmmdbreadersmax":  "mdb_readers_max",
	"olmmdbreadersused": "mdb_readers_used",
}

// Stats is what one read of cn=Monitor found. Values slapd did not expose
// are absent rather than zero.
type Stats struct {
	Server     string             // monitoredInfo of cn=Monitor: the slapd version line
	Values     map[string]float64 // keyed by metric name without namespace
	Operations map[string]OpCount // keyed by lower-case operation name
	Listeners  []Listener
	Databases  []Database
}

// OpCount holds the operations of one kind that slapd started and finished.
type OpCount struct {
	Initiated, Completed float64
	HasInitiated         bool
	HasCompleted         bool
}

// Listener is one of slapd's listening URLs.
type Listener struct {
	Name, URL, Address string
}

// Database is one configured database (the frontend left out).
type Database struct {
	Name    string // "Database 1", the monitor entry's name
	Backend string // mdb, config, monitor, ...
	Suffix  string
	Shadow  string // "true" for a syncrepl consumer
	MDB     map[string]float64
}

// SkipError is a value that could not be read; the entry's other values
// still count.
type SkipError struct {
	DN, Attr, Value string
	Err             error
	// NotParse marks what slapd did not give (an entry the ACL hides)
	// rather than a value that could not be read.
	NotParse bool
}

func (e *SkipError) Error() string {
	return fmt.Sprintf("%s: %s=%q: %v", e.DN, e.Attr, e.Value, e.Err)
}

// ParseMonitor turns the entries of MonitorRequest into Stats. Values it
// cannot read are returned as skips, never as a failure of the whole read.
func ParseMonitor(entries []*ldap.Entry) (*Stats, []*SkipError) {
	s := &Stats{Values: map[string]float64{}, Operations: map[string]OpCount{}}
	var skips []*SkipError
	for _, e := range entries {
		skips = s.add(e, skips)
	}
	return s, skips
}

func (s *Stats) add(e *ldap.Entry, skips []*SkipError) []*SkipError {
	rdns, ok := monitorRDNs(e.DN)
	if !ok {
		return skips
	}
	skip := func(attr, value string, err error) {
		skips = append(skips, &SkipError{DN: e.DN, Attr: attr, Value: value, Err: err})
	}
	switch len(rdns) {
	case 0: // cn=Monitor itself
		s.Server = first(e, "monitoredInfo")
		return skips
	case 2:
	default:
		return skips // containers, and overlays below a database
	}
	entry, container := rdns[0], strings.ToLower(rdns[1])
	switch container {
	case "operations":
		op := strings.ToLower(entry)
		oc := s.Operations[op]
		for _, a := range e.Attributes {
			if len(a.Values) == 0 {
				continue
			}
			switch strings.ToLower(a.Name) {
			case "monitoropinitiated":
				if v, err := ParseNumber(a.Values[0]); err != nil {
					skip(a.Name, a.Values[0], err)
				} else {
					oc.Initiated, oc.HasInitiated = v, true
				}
			case "monitoropcompleted":
				if v, err := ParseNumber(a.Values[0]); err != nil {
					skip(a.Name, a.Values[0], err)
				} else {
					oc.Completed, oc.HasCompleted = v, true
				}
			}
		}
		if oc.HasInitiated || oc.HasCompleted {
			s.Operations[op] = oc
		}
	case "listeners":
		l := Listener{Name: entry, URL: first(e, "labeledURI"), Address: first(e, "monitorConnectionLocalAddress")}
		s.Listeners = append(s.Listeners, l)
	case "databases":
		if strings.EqualFold(entry, "frontend") {
			return skips
		}
		d := Database{Name: entry, Backend: first(e, "monitoredInfo"), Shadow: strings.ToLower(first(e, "monitorIsShadow"))}
		d.Suffix = first(e, "namingContexts")
		if d.Suffix == "" {
			d.Suffix = first(e, "monitorContext")
		}
		for _, a := range e.Attributes {
			key, ok := mdbKeys[strings.ToLower(a.Name)]
			if !ok || len(a.Values) == 0 {
				continue
			}
			v, err := ParseNumber(a.Values[0])
			if err != nil {
				skip(a.Name, a.Values[0], err)
				continue
			}
			if d.MDB == nil {
				d.MDB = map[string]float64{}
			}
			d.MDB[key] = v
		}
		s.Databases = append(s.Databases, d)
	default:
		prefix := container + "/" + strings.ToLower(entry) + "/"
		for _, a := range e.Attributes {
			key, ok := scalarKeys[prefix+strings.ToLower(a.Name)]
			if !ok || len(a.Values) == 0 {
				continue
			}
			var v float64
			var err error
			if strings.EqualFold(a.Name, "monitorTimestamp") {
				var t time.Time
				if t, err = ParseGeneralizedTime(a.Values[0]); err == nil {
					v = float64(t.Unix())
				}
			} else {
				v, err = ParseNumber(a.Values[0])
			}
			if err != nil {
				skip(a.Name, a.Values[0], err)
				continue
			}
			s.Values[key] = v
		}
	}
	return skips
}

// monitorRDNs returns the RDN values of dn above cn=Monitor, nearest first:
// "cn=Max Pending,cn=Threads,cn=Monitor" gives [Max Pending, Threads]. Monitor
// DNs hold no escaped characters, so a plain split is enough; anything else
// is not ours to read.
func monitorRDNs(dn string) ([]string, bool) {
	parts := strings.Split(dn, ",")
	last := strings.TrimSpace(parts[len(parts)-1])
	if !strings.EqualFold(last, MonitorBase) {
		return nil, false
	}
	rdns := parts[:len(parts)-1]
	for i, p := range rdns {
		typ, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(typ, "cn") || strings.ContainsAny(val, `\+"`) {
			return nil, false
		}
		rdns[i] = val
	}
	return rdns, true
}

func first(e *ldap.Entry, attr string) string {
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			for _, v := range a.Values {
				if v != "" {
					return v
				}
			}
		}
	}
	return ""
}

// ParseNumber reads a monitor counter or gauge: a non-negative integer.
func ParseNumber(s string) (float64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("not a non-negative integer")
	}
	return float64(n), nil
}

// ParseGeneralizedTime reads the UTC times of cn=Monitor, such as
// 20260102150405Z.
func ParseGeneralizedTime(s string) (time.Time, error) {
	t, err := time.Parse("20060102150405Z", s)
	if err != nil {
		return time.Time{}, errors.New("not a generalized time like 20060102150405Z")
	}
	return t, nil
}

// CSN is one change sequence number: when a change was made, and on which
// server (the serverID in slapd's configuration).
type CSN struct {
	Time     time.Time
	ServerID int
}

// ParseCSN reads a contextCSN/entryCSN value such as
// 20261124042300.104230Z#000000#001#000000 (time, change count, server ID in
// hex, modification number).
func ParseCSN(s string) (CSN, error) {
	parts := strings.Split(s, "#")
	if len(parts) != 4 {
		return CSN{}, errors.New("want four #-separated fields")
	}
	t, err := time.Parse("20060102150405.000000Z", parts[0])
	if err != nil {
		return CSN{}, errors.New("bad time field")
	}
	if len(parts[2]) == 0 || len(parts[2]) > 3 {
		return CSN{}, errors.New("bad server ID field")
	}
	sid, err := strconv.ParseUint(parts[2], 16, 16)
	if err != nil {
		return CSN{}, errors.New("bad server ID field")
	}
	return CSN{Time: t, ServerID: int(sid)}, nil
}
