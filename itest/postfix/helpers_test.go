// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package postfix

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// exporter is a running postfix_exporter.
type exporter struct {
	url string
	p   *proc.Process
}

// startExporter runs the exporter binary with args. wrap, when set, is
// prepended (e.g. setpriv to drop privileges).
func startExporter(t *testing.T, wrap []string, args ...string) *exporter {
	t.Helper()
	bin := proc.Exporter(t, "postfix_exporter")
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	all := append([]string{"--web.listen-address=" + addr}, args...)
	path := bin
	if len(wrap) > 0 {
		path, all = wrap[0], append(append(wrap[1:], bin), all...)
	}
	p := proc.Start(t, proc.Spec{Name: "postfix_exporter", Path: path, Args: all, Dir: t.TempDir()})
	if err := proc.WaitTCP(addr, 15*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.LogTail(3000))
	}
	return &exporter{url: "http://" + addr + "/metrics", p: p}
}

// scrape returns the exposition as sample lines.
func (e *exporter) scrape(t *testing.T) samples {
	t.Helper()
	c := http.Client{Timeout: 15 * time.Second}
	resp, err := c.Get(e.url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d\n%s", resp.StatusCode, b)
	}
	return parseSamples(string(b))
}

// samples maps a series ("name" plus its labels) to its value.
type samples struct {
	text   string
	series []series
}

type series struct {
	name   string
	labels map[string]string
	value  float64
}

func parseSamples(text string) samples {
	s := samples{text: text}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[sp+1:], 64)
		if err != nil {
			continue
		}
		head := l[:sp]
		se := series{labels: map[string]string{}, value: v}
		if i := strings.IndexByte(head, '{'); i >= 0 {
			se.name = head[:i]
			for kv := range strings.SplitSeq(strings.TrimSuffix(head[i+1:], "}"), "\",") {
				k, val, _ := strings.Cut(kv, "=")
				se.labels[k] = strings.Trim(val, "\"")
			}
		} else {
			se.name = head
		}
		s.series = append(s.series, se)
	}
	return s
}

// sum adds the series of name whose labels include want ("k=v" pairs).
func (s samples) sum(name string, want ...string) float64 {
	total := 0.0
	for _, se := range s.series {
		if se.name != name {
			continue
		}
		ok := true
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if se.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += se.value
		}
	}
	return total
}

func (s samples) has(name string) bool {
	for _, se := range s.series {
		if se.name == name {
			return true
		}
	}
	return false
}

// expectation is one value the exporter must reach.
type expectation struct {
	name   string
	labels []string
	want   float64
}

// waitMetrics scrapes until every expectation holds.
func (e *exporter) waitMetrics(t *testing.T, timeout time.Duration, exps ...expectation) samples {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := e.scrape(t)
		var bad []string
		for _, x := range exps {
			if got := s.sum(x.name, x.labels...); got != x.want {
				bad = append(bad, fmt.Sprintf("%s%v = %v, want %v", x.name, x.labels, got, x.want))
			}
		}
		if len(bad) == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v:\n%s\n--- exporter log:\n%s", timeout, strings.Join(bad, "\n"), e.p.LogTail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
