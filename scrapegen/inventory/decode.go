// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The inventory is decoded by walking the yaml.Node tree against the Go
// types with reflection, instead of yaml's own decoder with KnownFields(true).
// Both reject unknown keys, but yaml's decoder reports only a line, and Nix's
// builtins.toJSON writes the whole inventory on line 1; the walker reports
// line, column and the key path ("hosts.mail.postfix.target"), checks
// duplicate keys with the same precision, and collects every problem in one
// pass instead of stopping at the first.

// Pos is where a value starts in the inventory file. A struct with a field
// of this type gets it filled in, so later checks can point at the value.
type Pos struct {
	Line, Column int
}

// Error is one problem in an inventory, with its place in the file.
type Error struct {
	File string
	Pos  Pos
	Path string // key path, dotted
	Msg  string
}

// Error formats the problem as "file:line:column: key.path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Pos.Line)
		if e.Pos.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Pos.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one inventory.
type Errors []*Error

// Error is every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// scalarDecoder is implemented by types that read themselves from one YAML
// scalar (or, for some, a small mapping) and validate on the way.
type scalarDecoder interface {
	decodeNode(n *yaml.Node) error
}

type walker struct {
	file string
	errs Errors
}

func (w *walker) errorf(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &Error{File: w.file, Pos: Pos{n.Line, n.Column}, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	posType     = reflect.TypeFor[Pos]()
	decoderType = reflect.TypeFor[scalarDecoder]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode fills v from n. It never stops at a problem: it records it and
// goes on with the next key, so one run reports everything.
func (w *walker) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		// Aliases can expand exponentially, and neither a hand-written
		// inventory nor Nix's JSON needs them.
		w.errorf(n, path, "YAML anchors and aliases are not supported")
		return
	}
	if v.Kind() == reflect.Pointer {
		// "dovecot:" with no value means the service with its defaults, so
		// a struct is made even for null; a null scalar stays unset.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		w.decode(n, v.Elem(), path)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(decoderType) {
		if err := v.Addr().Interface().(scalarDecoder).decodeNode(n); err != nil {
			w.errorf(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		w.decodeStruct(n, v, path)
	case reflect.Map:
		w.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errorf(n, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			w.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			w.errorf(n, path, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			w.errorf(n, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			w.errorf(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	default:
		panic("inventory: cannot decode into " + v.Type().String())
	}
}

// structFields maps the yaml keys of a struct type to field index paths,
// following `yaml:",inline"` embedded structs.
func structFields(t reflect.Type) (map[string][]int, []string) {
	fields := map[string][]int{}
	var order []string
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			idx := append(append([]int(nil), prefix...), i)
			if tag == ",inline" {
				walk(f.Type, idx)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = idx
			order = append(order, tag)
		}
	}
	walk(t, nil)
	return fields, order
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	for i := range v.NumField() {
		if v.Type().Field(i).Type == posType {
			v.Field(i).Set(reflect.ValueOf(Pos{n.Line, n.Column}))
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "mail: {openldap: }" means the service with its defaults
	}
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	fields, order := structFields(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errorf(k, path, "want a string key, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(k, joinPath(path, k.Value), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		idx, ok := fields[k.Value]
		if !ok {
			w.errorf(k, path, "unknown key %q (known: %s)", k.Value, strings.Join(order, ", "))
			continue
		}
		w.decode(val, v.FieldByIndex(idx), joinPath(path, k.Value))
	}
}

func (w *walker) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.Content)/2))
	}
	noun := "key"
	if path == "hosts" {
		noun = "host"
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			w.errorf(k, path, "want a string key, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(k, joinPath(path, k.Value), "duplicate %s (first at line %d)", noun, first.Line)
			continue
		}
		seen[k.Value] = k
		elem := reflect.New(v.Type().Elem()).Elem()
		w.decode(val, elem, joinPath(path, k.Value))
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}
