// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"reflect"
	"testing"
)

func TestRunnerFlag(t *testing.T) {
	var r runnerFlags
	for _, v := range []string{"git-runner-1", "git-runner-2:offline", "b:busy:labels=nixos,x86_64"} {
		if err := r.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	want := runnerFlags{
		{Name: "git-runner-1", Online: true},
		{Name: "git-runner-2"},
		{Name: "b", Online: true, Busy: true, Labels: []string{"nixos", "x86_64"}},
	}
	if !reflect.DeepEqual(want, r) {
		t.Errorf("got %+v, want %+v", r, want)
	}
	for _, bad := range []string{"", ":busy", "a:sleepy"} {
		if err := r.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
