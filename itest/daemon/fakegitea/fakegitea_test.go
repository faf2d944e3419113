// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package fakegitea

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url, token string) (int, apiRunners) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiRunners
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}
	return resp.StatusCode, out
}

func TestScopesPagesAndAuth(t *testing.T) {
	var rs []Runner
	for i := range 7 {
		rs = append(rs, Runner{Name: fmt.Sprintf("r%d", i), Online: i%2 == 0, Owner: "infra"})
	}
	rs = append(rs, Runner{Name: "repo-runner", Repo: "dominik/site", Online: true, Busy: true, Labels: []string{"nixos"}})
	s := Start(t, Options{Token: "t0k", Runners: rs, MaxResponseItems: 3})

	if code, _ := get(t, s.URL+"api/v1/admin/actions/runners", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get(t, s.URL+"api/v1/admin/actions/runners", "bad"); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	code, p := get(t, s.URL+"api/v1/admin/actions/runners?page=3&limit=50", "t0k")
	if code != 200 || p.TotalCount != 8 || len(p.Runners) != 2 || p.Runners[1].Name != "repo-runner" || !p.Runners[1].Busy {
		t.Errorf("admin page 3: %d %+v", code, p)
	}
	if _, p := get(t, s.URL+"api/v1/orgs/infra/actions/runners", "t0k"); p.TotalCount != 7 {
		t.Errorf("org: %+v", p)
	}
	if _, p := get(t, s.URL+"api/v1/repos/dominik/site/actions/runners", "t0k"); p.TotalCount != 1 || p.Runners[0].Labels[0].Name != "nixos" {
		t.Errorf("repo: %+v", p)
	}
	if code, _ := get(t, s.URL+"api/v1/nothing", "t0k"); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	s.FailWith(404)
	if code, _ := get(t, s.URL+"api/v1/admin/actions/runners", "t0k"); code != 404 {
		t.Errorf("FailWith(404): %d", code)
	}
}

func TestStateChangesFreezeRestart(t *testing.T) {
	s := Start(t, Options{Runners: []Runner{{Name: "a", Online: true, Busy: true}}, Control: true})
	if err := s.SetOnline("a", false); err != nil {
		t.Fatal(err)
	}
	if _, p := get(t, s.URL+"api/v1/admin/actions/runners", ""); p.Runners[0].Status != "offline" || p.Runners[0].Busy {
		t.Errorf("after SetOnline false: %+v", p)
	}
	if err := s.SetOnline("nope", true); err == nil {
		t.Errorf("unknown runner accepted")
	}
	resp, err := http.Post(s.URL+"_fake/runners/a?online=true&busy=true", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("control: %v %v", err, resp)
	}
	if _, p := get(t, s.URL+"api/v1/admin/actions/runners", ""); p.Runners[0].Status != "online" || !p.Runners[0].Busy {
		t.Errorf("after control: %+v", p)
	}

	s.Freeze()
	c := &http.Client{Timeout: 300 * time.Millisecond}
	if _, err := c.Get(s.URL + "api/v1/admin/actions/runners"); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("frozen: %v", err)
	}
	s.Thaw()

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL + "api/v1/admin/actions/runners"); err == nil {
		t.Errorf("stopped server answered")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	if code, p := get(t, s.URL+"api/v1/admin/actions/runners", ""); code != 200 || len(p.Runners) != 1 {
		t.Errorf("after restart: %d %+v", code, p)
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, Options{TLS: true, Token: "x"})
	if !strings.HasPrefix(s.URL, "https://") || s.CAFile == "" || s.TokenFile == "" {
		t.Errorf("server %+v", s)
	}
}
