// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/downwatch/downwatch/dovecot_exporter/internal/tabescape"
)

// ErrTruncated is returned when a DUMP reply ends before its closing empty
// line: Dovecot went away in the middle of the answer.
var ErrTruncated = errors.New("stats-reader: reply ended before its final empty line")

// maxLine bounds one reply line. Dovecot writes a line per metric node, so
// even a metric with many extra fields stays far below this.
const maxLine = 1 << 20

// Label is one group_by level of a sub-metric.
type Label struct {
	Name, Value string
}

// Field is one of the extra event fields a metric sums up (the metric's
// `fields` setting).
type Field struct {
	Key        string
	Count, Sum uint64
}

// Sample is one node of a metric's tree in a DUMP reply: the metric itself
// (no labels) or one of its group_by sub-metrics.
type Sample struct {
	// Metric is the name of the metric as defined in dovecot.conf.
	Metric string
	// Labels is the group_by path of a sub-metric; nil for the metric itself.
	Labels []Label
	// Count is the number of events.
	Count uint64
	// DurationMicroseconds is the sum of the events' durations.
	DurationMicroseconds uint64
	// Fields are the sums of the metric's extra fields.
	Fields []Field
	// HasChildren is set when sub-metrics follow this node. Dovecot's own
	// OpenMetrics output leaves out such a node's unlabelled value, and so
	// do we, so that queries work the same against either.
	HasChildren bool
}

// Result is a parsed DUMP reply.
type Result struct {
	Samples []Sample
	// BadLines counts lines that could not be parsed and were skipped.
	BadLines int
}

// DumpCommand is the request the parser expects the reply to: the event
// count and the duration sum (in microseconds) of every metric node. DUMP
// never resets Dovecot's counters (DUMP-RESET would).
const DumpCommand = "DUMP\tcount\tsum\n"

// GroupBy maps a metric name to the field names of its group_by setting, one
// per level. A DUMP reply joins sub-metric names to their parent's with "_"
// and does not say where a name ends, so the levels must be known to split
// them and to name the labels as Dovecot's OpenMetrics endpoint does.
type GroupBy map[string][]string

// genericLabel names the label of an undeclared group_by level.
func genericLabel(level int) string { return "group_" + strconv.Itoa(level+1) }

// frame is one open node of the sub-metric tree while parsing.
type frame struct {
	name  string // full line name, the prefix of its children
	index int    // into Result.Samples
	depth int
}

// Parse reads one DUMP reply (after the VERSION handshake line) up to and
// including its terminating empty line. Lines it cannot parse are counted in
// BadLines and skipped; a reply cut short returns what was parsed together
// with ErrTruncated.
func Parse(r io.Reader, groupBy GroupBy) (Result, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var (
		res      Result
		stack    []frame
		levels   []string // group_by fields of the current top-level metric
		declared bool
		arena    []Label
	)
	res.Samples = make([]Sample, 0, 64)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			return res, nil
		}
		name, s, ok := parseLine(line)
		if !ok {
			res.BadLines++
			continue
		}
		// Find the parent: the innermost open node whose name, plus "_", is a
		// prefix of this one. A line naming a declared metric always starts
		// a new metric, so that "imap_command_x" does not become a child of
		// "imap_command" when both are defined.
		parent := -1
		if _, isMetric := groupBy[name]; !isMetric {
			for len(stack) > 0 {
				top := stack[len(stack)-1]
				canNest := !declared || top.depth < len(levels)
				if canNest && len(name) > len(top.name)+1 && name[len(top.name)] == '_' &&
					strings.HasPrefix(name, top.name) {
					parent = len(stack) - 1
					break
				}
				stack = stack[:len(stack)-1]
			}
		} else {
			stack = stack[:0]
		}
		if parent < 0 {
			s.Metric = validUTF8(tabescape.Unescape(name))
			levels, declared = groupBy[s.Metric]
			stack = append(stack[:0], frame{name: name, index: len(res.Samples)})
			res.Samples = append(res.Samples, s)
			continue
		}
		top := stack[parent]
		p := &res.Samples[top.index]
		p.HasChildren = true
		s.Metric = p.Metric
		// Labels come from one backing array per many samples, which
		// saves an allocation per sub-metric.
		n := len(p.Labels) + 1
		if cap(arena)-len(arena) < n {
			arena = make([]Label, 0, max(256, n))
		}
		s.Labels = arena[len(arena) : len(arena)+n : len(arena)+n]
		arena = arena[:len(arena)+n]
		copy(s.Labels, p.Labels)
		labelName := genericLabel(top.depth)
		if declared {
			labelName = levels[top.depth]
		}
		// Event field values are not checked for UTF-8 by Dovecot; a label
		// value must be.
		s.Labels[len(p.Labels)] = Label{Name: labelName, Value: validUTF8(name[len(top.name)+1:])}
		stack = append(stack, frame{name: name, index: len(res.Samples), depth: top.depth + 1})
		res.Samples = append(res.Samples, s)
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("stats-reader: reading reply: %w", err)
	}
	return res, ErrTruncated
}

// parseLine reads "name count sum [key count sum]...". Every number must
// be there: Dovecot leaves a value empty only for a field it does not know,
// which would mean it did not understand our DUMP request. It cuts the line
// in place rather than splitting it, as a busy server's reply has thousands
// of lines.
func parseLine(line string) (name string, s Sample, ok bool) {
	name, rest, found := strings.Cut(line, "\t")
	if !found || name == "" {
		return "", s, false
	}
	if s.Count, rest, ok = nextUint(rest); !ok {
		return "", s, false
	}
	if s.DurationMicroseconds, rest, ok = nextUint(rest); !ok {
		return "", s, false
	}
	for rest != "" {
		var f Field
		var key string
		if key, rest, found = strings.Cut(rest, "\t"); !found || key == "" {
			return "", s, false
		}
		f.Key = tabescape.Unescape(key)
		if f.Count, rest, ok = nextUint(rest); !ok {
			return "", s, false
		}
		if f.Sum, rest, ok = nextUint(rest); !ok {
			return "", s, false
		}
		s.Fields = append(s.Fields, f)
	}
	return name, s, true
}

// nextUint reads the number up to the next tab (or the end) and returns
// what follows the tab.
func nextUint(s string) (uint64, string, bool) {
	v, rest, found := strings.Cut(s, "\t")
	n, ok := parseUint(v)
	if !ok {
		return 0, "", false
	}
	if !found {
		return n, "", true
	}
	if rest == "" {
		return 0, "", false // a trailing tab
	}
	return n, rest, true
}

func parseUint(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
