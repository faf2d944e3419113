// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package gitea_runner runs the built gitea_runner_exporter binary against
// the fake Gitea runner API of itest/daemon/fakegitea on loopback. No real
// Gitea can be installed here: the fake answers in the documented shape of
// Gitea 1.24+, which is what these tests check the exporter against.
package gitea_runner

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/fakegitea"
	"github.com/downwatch/downwatch/itest/daemon/proc"
)

const module = "gitea_runner_exporter"

type exporter struct {
	t    *testing.T
	addr string
	p    *proc.Process
}

// startExporter runs the exporter with args added to a free listen address.
func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	bin := proc.Exporter(t, module)
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	p := proc.Start(t, proc.Spec{Name: module, Path: bin, Dir: t.TempDir(),
		Args: append([]string{"--web.listen-address=" + addr}, args...)})
	if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return &exporter{t: t, addr: addr, p: p}
}

// scrape returns the samples of one scrape by series ("name{labels}") and
// how long it took.
func (e *exporter) scrape() (map[string]float64, time.Duration) {
	e.t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	resp, err := c.Get("http://" + e.addr + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("HTTP %d, want 200 whatever Gitea does:\n%s", resp.StatusCode, b)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, took
}

// expect checks the given series; a value of -1 means "absent".
func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for series, v := range want {
		g, ok := got[series]
		switch {
		case v == -1 && ok:
			t.Errorf("%s = %v, want absent", series, g)
		case v != -1 && !ok:
			t.Errorf("%s absent, want %v", series, v)
		case v != -1 && g != v:
			t.Errorf("%s = %v, want %v", series, g, v)
		}
	}
}

func TestRunnerStatesFollowGitea(t *testing.T) {
	t.Parallel()
	g := fakegitea.Start(t, fakegitea.Options{
		Token: "s3cret-token",
		Runners: []fakegitea.Runner{
			{Name: "git-runner-1", Online: true, Busy: true, Labels: []string{"ubuntu-latest", "nixos"}},
			{Name: "git-runner-2", Online: true},
			{Name: "other-1"}, {Name: "other-2"}, {Name: "other-3", Ephemeral: true},
		},
		// Small pages, so that one scrape needs three of them.
		MaxResponseItems: 2,
	})
	e := startExporter(t, "--gitea.url="+g.URL, "--gitea.token-file="+g.TokenFile,
		"--runner.expect=git-runner-1", "--runner.expect=git-runner-2", "--runner.expect=git-runner-3")

	got, _ := e.scrape()
	expect(t, got, map[string]float64{
		"gitea_runner_up": 1,
		`gitea_actions_runner_online{runner="git-runner-1"}`:                                                     1,
		`gitea_actions_runner_busy{runner="git-runner-1"}`:                                                       1,
		`gitea_actions_runner_online{runner="git-runner-2"}`:                                                     1,
		`gitea_actions_runner_online{runner="git-runner-3"}`:                                                     0,
		`gitea_actions_runner_registered{runner="git-runner-3"}`:                                                 0,
		`gitea_actions_runner_online{runner="other-3"}`:                                                          0,
		`gitea_actions_runner_info{ephemeral="false",id="1",labels="nixos,ubuntu-latest",runner="git-runner-1"}`: 1,
		`gitea_actions_runner_info{ephemeral="true",id="5",labels="",runner="other-3"}`:                          1,
		`gitea_actions_runners{status="busy"}`:                                                                   1,
		`gitea_actions_runners{status="idle"}`:                                                                   1,
		`gitea_actions_runners{status="offline"}`:                                                                4,
	})
	if n := g.Requests(); n != 3 {
		t.Errorf("%d API requests for 5 runners in pages of 2, want 3", n)
	}

	// A runner drops off, another is deleted: both show at the next scrape.
	if err := g.SetOnline("git-runner-2", false); err != nil {
		t.Fatal(err)
	}
	g.RemoveRunner("git-runner-1")
	got, _ = e.scrape()
	expect(t, got, map[string]float64{
		"gitea_runner_up": 1,
		`gitea_actions_runner_online{runner="git-runner-1"}`:     0,
		`gitea_actions_runner_registered{runner="git-runner-1"}`: 0,
		`gitea_actions_runner_busy{runner="git-runner-1"}`:       0,
		`gitea_actions_runner_online{runner="git-runner-2"}`:     0,
		`gitea_actions_runners{status="offline"}`:                6,
		`gitea_actions_runners{status="busy"}`:                   0,
	})

	// Registered again under the same name: online again.
	g.AddRunner(fakegitea.Runner{Name: "git-runner-1", Online: true})
	got, _ = e.scrape()
	expect(t, got, map[string]float64{`gitea_actions_runner_online{runner="git-runner-1"}`: 1})
}

// TestGiteaDownHangingRestartedOrOld: the exporter keeps answering 200,
// says gitea_runner_up 0 within one scrape, logs why, and recovers by
// itself.
func TestGiteaDownHangingRestartedOrOld(t *testing.T) {
	t.Parallel()
	g := fakegitea.Start(t, fakegitea.Options{Token: "tok", Runners: []fakegitea.Runner{{Name: "git-runner-1", Online: true}}})
	e := startExporter(t, "--gitea.url="+g.URL, "--gitea.token-file="+g.TokenFile,
		"--gitea.timeout=1s", "--runner.expect=git-runner-1")
	up := func() float64 {
		t.Helper()
		got, _ := e.scrape()
		v, ok := got["gitea_runner_up"]
		if !ok {
			t.Fatal("no gitea_runner_up")
		}
		return v
	}
	if v := up(); v != 1 {
		t.Fatalf("up %v at start", v)
	}

	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	got, _ := e.scrape()
	expect(t, got, map[string]float64{
		"gitea_runner_up": 0,
		// No answer is no news: runner state is left out, not reported offline.
		`gitea_actions_runner_online{runner="git-runner-1"}`: -1,
	})
	waitLog(t, e, "connection refused")

	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	if v := up(); v != 1 {
		t.Errorf("up %v after Gitea restarted", v)
	}

	g.Freeze()
	got, took := e.scrape()
	g.Thaw()
	if got["gitea_runner_up"] != 0 {
		t.Errorf("frozen Gitea: up %v", got["gitea_runner_up"])
	}
	if took > 3*time.Second {
		t.Errorf("scrape of a frozen Gitea took %v with --gitea.timeout=1s", took)
	}
	waitLog(t, e, "within the scrape timeout")
	if v := up(); v != 1 {
		t.Errorf("up %v after thaw", v)
	}

	g.FailWith(http.StatusNotFound)
	if v := up(); v != 0 {
		t.Errorf("404: up %v", v)
	}
	waitLog(t, e, "Gitea older than 1.24")
	g.FailWith(http.StatusInternalServerError)
	if v := up(); v != 0 {
		t.Errorf("500: up %v", v)
	}
	waitLog(t, e, "HTTP 500")
	g.FailWith(0)
	if v := up(); v != 1 {
		t.Errorf("up %v after healing", v)
	}
}

func TestBadToken(t *testing.T) {
	t.Parallel()
	g := fakegitea.Start(t, fakegitea.Options{Token: "right", Runners: []fakegitea.Runner{{Name: "a", Online: true}}})
	wrong := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wrong, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--gitea.url="+g.URL, "--gitea.token-file="+wrong)
	got, _ := e.scrape()
	expect(t, got, map[string]float64{"gitea_runner_up": 0, `gitea_actions_runner_online{runner="a"}`: -1})
	waitLog(t, e, "Gitea rejected the token (HTTP 401)")
}

func TestHTTPSWithCAFile(t *testing.T) {
	t.Parallel()
	g := fakegitea.Start(t, fakegitea.Options{TLS: true, Token: "tok",
		Runners: []fakegitea.Runner{{Name: "runner-in-org", Online: true, Owner: "infra"}, {Name: "global", Online: true}}})
	e := startExporter(t, "--gitea.url="+g.URL, "--gitea.token-file="+g.TokenFile,
		"--gitea.ca-file="+g.CAFile, "--gitea.scope=org:infra")
	got, _ := e.scrape()
	expect(t, got, map[string]float64{
		"gitea_runner_up": 1,
		`gitea_actions_runner_online{runner="runner-in-org"}`: 1,
		`gitea_actions_runner_online{runner="global"}`:        -1,
	})

	// Without the CA file the certificate is not trusted.
	e2 := startExporter(t, "--gitea.url="+g.URL, "--gitea.token-file="+g.TokenFile)
	got, _ = e2.scrape()
	expect(t, got, map[string]float64{"gitea_runner_up": 0})
	waitLog(t, e2, "certificate")
}

func TestBadFlagsExitWithOneLine(t *testing.T) {
	t.Parallel()
	bin := proc.Exporter(t, module)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing token file", []string{"--gitea.token-file=" + dir + "/nope"}, "--gitea.token-file=" + dir + "/nope: open"},
		{"empty token file", []string{"--gitea.token-file=" + empty}, "--gitea.token-file=" + empty + ": the file is empty"},
		{"bad scope", []string{"--gitea.scope=team:x"}, "--gitea.scope=team:x: want admin, org:NAME or repo:OWNER/NAME"},
		{"bad repo scope", []string{"--gitea.scope=repo:only-owner"}, "--gitea.scope=repo:only-owner: "},
		{"bad URL", []string{"--gitea.url=git.example.com"}, "--gitea.url=git.example.com: want an http:// or https:// URL"},
		{"URL with a password", []string{"--gitea.url=https://admin:pw@git.example.com"}, "--gitea.url="},
		{"missing CA file", []string{"--gitea.ca-file=" + dir + "/ca.pem"}, "--gitea.ca-file=" + dir + "/ca.pem"},
		{"CA file without PEM", []string{"--gitea.ca-file=" + empty}, "--gitea.ca-file=" + empty + ": no PEM certificate"},
		{"zero timeout", []string{"--gitea.timeout=0s"}, "--gitea.timeout=0s: must be positive"},
		{"unparsable timeout", []string{"--gitea.timeout=soon"}, "--gitea.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", proc.FreePort(t))}, tt.args...)
			cmd := exec.Command(bin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("exited 0, want non-zero")
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("still running after 10s, want an exit")
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, module+": error: ") || !strings.Contains(last, tt.want) {
				t.Errorf("last stderr line %q, want %s: error: …%s…", last, module, tt.want)
			}
			for _, l := range lines[:len(lines)-1] {
				if strings.Contains(l, "level=ERROR") {
					t.Errorf("error reported twice: %q", l)
				}
			}
		})
	}
}

// waitLog waits until the exporter's log contains s.
func waitLog(t *testing.T, e *exporter, s string) {
	t.Helper()
	err := proc.WaitFor(5*time.Second, func() error {
		if strings.Contains(e.p.LogTail(1<<16), s) {
			return nil
		}
		return fmt.Errorf("log lacks %q", s)
	})
	if err != nil {
		t.Errorf("%v:\n%s", err, e.p.LogTail(4000))
	}
}
