// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Duration is a time span written the Prometheus way ("30s", "1h30m",
// "2d"), which vmagent, vmalert, Prometheus and Grafana all accept, so an
// inventory value can be copied into each output unchanged.
type Duration time.Duration

// durationUnits are the Prometheus units, largest first: a value must list
// its units in this order, each at most once.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
}

var errDuration = errors.New(`want a duration such as 30s, 2m or 1h30m (units y, w, d, h, m, s, ms)`)

// ParseDuration reads a Prometheus-style duration. "0" is allowed and means
// zero; negative values and fractions are not.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, errDuration
	}
	var total time.Duration
	next := 0 // index into durationUnits: units must come in order
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 12 {
			return 0, errDuration
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, errDuration
		}
		rest = rest[i:]
		found := false
		for j := next; j < len(durationUnits); j++ {
			u := durationUnits[j]
			// "m" is a prefix of "ms": try the longer unit first.
			if u.name == "m" && strings.HasPrefix(rest, "ms") {
				continue
			}
			if strings.HasPrefix(rest, u.name) {
				if n > int64((1<<63-1)/u.d) || total > time.Duration(1<<63-1)-time.Duration(n)*u.d {
					return 0, errors.New("duration too long")
				}
				total += time.Duration(n) * u.d
				rest = rest[len(u.name):]
				next = j + 1
				found = true
				break
			}
		}
		if !found {
			return 0, errDuration
		}
	}
	return Duration(total), nil
}

// String formats d the way ParseDuration reads it, largest units first
// ("1h30m", "10s", "0s").
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	rest := time.Duration(d)
	for _, u := range durationUnits {
		if n := rest / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			rest -= n * u.d
		}
	}
	return b.String()
}

// Seconds is the duration in whole seconds, rounded down.
func (d Duration) Seconds() int64 { return int64(time.Duration(d) / time.Second) }

// Std is d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
