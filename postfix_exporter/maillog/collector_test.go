// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package maillog

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCollectorGolden feeds testdata/corpus.log (real-format lines of
// every daemon) and compares the exposition with testdata/corpus.prom.
func TestCollectorGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/corpus.log")
	if err != nil {
		t.Fatal(err)
	}
	c := New(promslog.NewNopLogger())
	c.SetSourceUp("file", true)
	for l := range bytes.SplitSeq(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		c.ProcessLine(l)
	}
	golden := "testdata/corpus.prom"
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestUnsupportedLinesAreLoggedAtDebug(t *testing.T) {
	var logs bytes.Buffer
	c := New(promslog.New(&promslog.Config{Level: promslog.NewLevel(), Writer: &logs}))
	_ = c // info level: nothing
	lvl := promslog.NewLevel()
	if err := lvl.Set("debug"); err != nil {
		t.Fatal(err)
	}
	c = New(promslog.New(&promslog.Config{Level: lvl, Writer: &logs}))
	c.ProcessLine([]byte(hdr + "postfix/smtpd[1]: something new"))
	c.ProcessLine([]byte(hdr + "postfix/smtpd[1]: connect from x[192.0.2.1]"))
	if n := strings.Count(logs.String(), "unrecognised log line"); n != 1 || !strings.Contains(logs.String(), "something new") {
		t.Errorf("want one debug line with the text, got:\n%s", logs.String())
	}
	if got := testutil.ToFloat64(c.unsupported.vec.WithLabelValues("smtpd", "postfix", "smtpd")); got != 1 {
		t.Errorf("unsupported = %v, want 1", got)
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/corpus.log"); err == nil {
		for l := range bytes.SplitSeq(b, []byte("\n")) {
			f.Add(l)
		}
	}
	c := New(promslog.NewNopLogger())
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev Event
		p := NewParser()
		p.Parse(line, &ev)
		if ev.Kind != KindGarbage && ev.Kind != KindForeign && ev.Program == nil {
			t.Fatalf("kind %v without program", ev.Kind)
		}
		for _, s := range []string{ev.Status, ev.Command, ev.Code, ev.Reason, ev.Action, ev.Relay, ev.SASL, ev.Cipher, ev.Protocol} {
			if len(s) > 64 {
				t.Fatalf("label value %q too long", s)
			}
		}
		// Journal-style messages take the same path after the tag.
		p.ParseMessage(line, line, &ev)
		c.ProcessLine(line)
	})
}
