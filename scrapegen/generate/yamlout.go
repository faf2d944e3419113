// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package generate

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The YAML outputs are written by this small block-style emitter instead of
// yaml.v3's encoder, which needs seconds for the tens of megabytes of rules
// of a thousand hosts. It writes the subset the outputs use: structs with
// yaml tags (and omitempty), string-keyed maps in sorted order, slices,
// strings, numbers and booleans. Tests decode its output with yaml.v3 and
// compare it with the values it came from.

type yamlWriter struct {
	b strings.Builder
}

// plainRe-like check without a regexp: a string is written unquoted when it
// is clearly a string to every YAML parser.
func plainOK(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	c := s[0]
	if c >= '0' && c <= '9' {
		return isDuration(s)
	}
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_') || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./@ ", c) >= 0) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

// isDuration matches "30s", "1h30m", "500ms": strings to YAML, though they
// start with a digit.
func isDuration(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case digits > 0 && strings.IndexByte("smhdwy", c) >= 0:
			digits = 0
		default:
			return false
		}
	}
	return digits == 0
}

// singleOK reports whether s can be single-quoted: printable, one line.
func singleOK(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfeff {
			return false
		}
	}
	return s == "" || s[0] != ' ' && s[len(s)-1] != ' '
}

func (w *yamlWriter) scalar(s string) {
	if plainOK(s) {
		w.b.WriteString(s)
		return
	}
	if singleOK(s) {
		w.b.WriteByte('\'')
		w.b.WriteString(strings.ReplaceAll(s, "'", "''"))
		w.b.WriteByte('\'')
		return
	}
	// Go's double-quoted escapes (\n, \t, \", \\, \xNN, \uNNNN) are all
	// YAML double-quoted escapes too.
	w.b.WriteString(strconv.Quote(s))
}

func (w *yamlWriter) indent(n int) {
	for range n {
		w.b.WriteByte(' ')
	}
}

// isBlock reports whether v is written on its own lines (a non-empty
// mapping or list) rather than after "key: ".
func isBlock(v reflect.Value) bool {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		return true
	case reflect.Map, reflect.Slice:
		return v.Len() > 0
	}
	return false
}

type field struct {
	key string
	v   reflect.Value
}

func fields(v reflect.Value) []field {
	var out []field
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !t.Field(i).IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(t.Field(i).Name)
			}
			fv := v.Field(i)
			if opts == "omitempty" && fv.IsZero() {
				continue
			}
			out = append(out, field{name, fv})
		}
	case reflect.Map:
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		slices.Sort(names)
		for _, k := range names {
			out = append(out, field{k, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))})
		}
	}
	return out
}

// value writes v at the given indentation. first is true when the caller
// already wrote the indentation of the first line (after "- ").
func (w *yamlWriter) value(v reflect.Value, ind int, first bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			w.b.WriteString("null\n")
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct, reflect.Map:
		fs := fields(v)
		if len(fs) == 0 {
			w.b.WriteString("{}\n")
			return
		}
		for i, f := range fs {
			if i > 0 || !first {
				w.indent(ind)
			}
			w.scalar(f.key)
			w.b.WriteByte(':')
			if isBlock(f.v) {
				w.b.WriteByte('\n')
				w.value(f.v, ind+2, false)
			} else {
				w.b.WriteByte(' ')
				w.value(f.v, ind+2, true)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			w.b.WriteString("[]\n")
			return
		}
		for i := range v.Len() {
			if i > 0 || !first {
				w.indent(ind)
			}
			w.b.WriteString("- ")
			w.value(v.Index(i), ind+2, true)
		}
	case reflect.String:
		w.scalar(v.String())
		w.b.WriteByte('\n')
	case reflect.Int, reflect.Int64:
		w.b.WriteString(strconv.FormatInt(v.Int(), 10))
		w.b.WriteByte('\n')
	case reflect.Float64:
		w.b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
		w.b.WriteByte('\n')
	case reflect.Bool:
		w.b.WriteString(strconv.FormatBool(v.Bool()))
		w.b.WriteByte('\n')
	default:
		panic(fmt.Sprintf("generate: cannot write %s as YAML", v.Type()))
	}
}

// appendYAML writes v, a struct, as a YAML document.
func appendYAML(header string, v any) []byte {
	w := &yamlWriter{}
	w.b.WriteString(header)
	w.value(reflect.ValueOf(v), 0, false)
	return []byte(w.b.String())
}
