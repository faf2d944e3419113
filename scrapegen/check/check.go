// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package check validates generated files the way their consumers will:
// Grafana's load-time rule checks, vmagent's strict scrape config keys,
// MetricsQL parsing of every expression, and that no secret value leaked
// into any output.
package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metricsql"
	"go.yaml.in/yaml/v3"

	"github.com/downwatch/downwatch/scrapegen/generate"
	"github.com/downwatch/downwatch/scrapegen/inventory"
)

// Problem is one thing wrong with one file.
type Problem struct {
	File string
	Msg  string
}

// String is the problem as check prints it: "file: message".
func (p Problem) String() string { return p.File + ": " + p.Msg }

// MinSecretLen is the shortest secret searched for in outputs: shorter
// file contents would match by chance.
const MinSecretLen = 6

type checker struct {
	problems []Problem
	secrets  map[string]string // file -> content
	uids     map[string]string // Grafana rule uid -> where first seen
}

func (c *checker) add(file, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: file, Msg: fmt.Sprintf(format, args...)})
}

// ReadSecrets reads the secret files an inventory names, where this
// machine can read them (they usually live on the target hosts only).
func ReadSecrets(files []string) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if s := strings.TrimSpace(string(b)); len(s) >= MinSecretLen {
			out[f] = s
		}
	}
	return out
}

// Files checks generated files. name maps a file's path to the name used in
// problems (the path on disk, or the path in the output directory).
func Files(files []generate.File, secrets map[string]string, name func(string) string) []Problem {
	c := &checker{secrets: secrets, uids: map[string]string{}}
	for _, f := range files {
		n := name(f.Path)
		for sf, s := range secrets {
			if bytes.Contains(f.Data, []byte(s)) {
				c.add(n, "holds the content of secret file %s: secrets must stay in files", sf)
			}
		}
		// Freshly generated files are checked from the values they were
		// written from: parsing tens of megabytes of YAML again would cost
		// seconds, and the golden tests prove the writer round-trips.
		switch v := f.Value.(type) {
		case generate.ScrapeConfigFile:
			c.scrapeConfig(n, &v)
			continue
		case generate.GrafanaRuleFile:
			gf := fromGenerated(v)
			c.grafanaRules(n, &gf)
			continue
		case generate.VMAlertFile:
			c.vmalertRules(n, &v)
			continue
		}
		switch {
		case strings.HasPrefix(f.Path, "vmagent/") && strings.HasSuffix(f.Path, ".yml"):
			var sc generate.ScrapeConfigFile
			if c.decodeYAML(n, f.Data, &sc, "vmagent's scrape config") {
				c.scrapeConfig(n, &sc)
			}
		case strings.HasPrefix(f.Path, "vmagent/") && strings.HasSuffix(f.Path, ".json"):
			var sc generate.ScrapeConfigFile
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				c.add(n, "%v", err)
			} else {
				c.scrapeConfig(n, &sc)
			}
		case f.Path == generate.GrafanaRulesPath:
			var gf grafanaRuleFile
			if c.decodeYAML(n, f.Data, &gf, "Grafana's alert rule provisioning schema") {
				c.grafanaRules(n, &gf)
			}
		case f.Path == generate.GrafanaContactsPath:
			var cf grafanaContactFile
			if c.decodeYAML(n, f.Data, &cf, "Grafana's contact point provisioning schema") {
				c.contactPoints(n, &cf)
			}
		case f.Path == generate.GrafanaPolicyPath:
			var pf grafanaPolicyFile
			if c.decodeYAML(n, f.Data, &pf, "Grafana's notification policy provisioning schema") {
				c.policies(n, &pf)
			}
		case f.Path == generate.VMAlertRulesPath:
			var vf generate.VMAlertFile
			if c.decodeYAML(n, f.Data, &vf, "the Prometheus rule file format") {
				c.vmalertRules(n, &vf)
			}
		}
	}
	return c.problems
}

var unknownFieldRe = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// decodeYAML reads a file strictly: a key its consumer does not know is a
// problem (Grafana drops such keys and then rejects the rule).
func (c *checker) decodeYAML(name string, data []byte, v any, schema string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return true
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			if m := unknownFieldRe.FindStringSubmatch(e); m != nil {
				c.add(name, "line %s: unknown key %q: not in %s", m[1], m[2], schema)
			} else {
				c.add(name, "%s", e)
			}
		}
		return false
	}
	c.add(name, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	return false
}

func parseExpr(expr string) error {
	_, err := metricsql.Parse(expr)
	return err
}

var labelNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) scrapeConfig(name string, sc *generate.ScrapeConfigFile) {
	jobs := map[string]bool{}
	for i, j := range sc.ScrapeConfigs {
		where := fmt.Sprintf("scrape_configs[%d] (job %q)", i, j.JobName)
		if j.JobName == "" {
			c.add(name, "%s: no job_name", where)
		}
		if jobs[j.JobName] {
			c.add(name, "%s: duplicate job_name", where)
		}
		jobs[j.JobName] = true
		iv, err1 := inventory.ParseDuration(j.ScrapeInterval)
		to, err2 := inventory.ParseDuration(j.ScrapeTimeout)
		switch {
		case err1 != nil || iv <= 0:
			c.add(name, "%s: bad scrape_interval %q", where, j.ScrapeInterval)
		case err2 != nil || to <= 0 || to > iv:
			c.add(name, "%s: scrape_timeout %q must be more than 0 and at most scrape_interval %q", where, j.ScrapeTimeout, j.ScrapeInterval)
		}
		if !strings.HasPrefix(j.MetricsPath, "/") {
			c.add(name, "%s: metrics_path %q does not start with /", where, j.MetricsPath)
		}
		if j.Scheme != "http" && j.Scheme != "https" {
			c.add(name, "%s: scheme %q is not http or https", where, j.Scheme)
		}
		if len(j.StaticConfigs) == 0 {
			c.add(name, "%s: no static_configs", where)
		}
		for _, s := range j.StaticConfigs {
			if s.Labels["host"] == "" {
				c.add(name, "%s: a target without the host label: the alert rules select on it", where)
			}
			for _, t := range s.Targets {
				if _, err := inventory.ParseTarget(t); err != nil {
					c.add(name, "%s: %v", where, err)
				}
			}
		}
	}
}

// These types hold every key of Grafana's provisioning schema (apiVersion
// 1), so that a strict decode flags exactly the keys Grafana would drop.
type grafanaRuleFile struct {
	APIVersion  int               `yaml:"apiVersion"`
	Groups      []grafanaGroup    `yaml:"groups"`
	DeleteRules []json.RawMessage `yaml:"deleteRules"`
}

type grafanaGroup struct {
	OrgID    int           `yaml:"orgId"`
	Name     string        `yaml:"name"`
	Folder   string        `yaml:"folder"`
	Interval string        `yaml:"interval"`
	Rules    []grafanaRule `yaml:"rules"`
}

type grafanaRule struct {
	UID                         string            `yaml:"uid"`
	Title                       string            `yaml:"title"`
	Condition                   string            `yaml:"condition"`
	Data                        []grafanaQuery    `yaml:"data"`
	DashboardUID                string            `yaml:"dashboardUid"`
	PanelID                     int64             `yaml:"panelId"`
	NoDataState                 string            `yaml:"noDataState"`
	ExecErrState                string            `yaml:"execErrState"`
	For                         string            `yaml:"for"`
	KeepFiringFor               string            `yaml:"keepFiringFor"`
	MissingSeriesEvalsToResolve *int64            `yaml:"missing_series_evals_to_resolve"`
	Annotations                 map[string]string `yaml:"annotations"`
	Labels                      map[string]string `yaml:"labels"`
	IsPaused                    bool              `yaml:"isPaused"`
	NotificationSettings        map[string]any    `yaml:"notification_settings"`
	Record                      map[string]any    `yaml:"record"`
}

type grafanaQuery struct {
	RefID             string `yaml:"refId"`
	QueryType         string `yaml:"queryType"`
	RelativeTimeRange struct {
		From int64 `yaml:"from"`
		To   int64 `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	DatasourceUID string         `yaml:"datasourceUid"`
	Model         map[string]any `yaml:"model"`
}

// fromGenerated is the checker's view of a generated rule file.
func fromGenerated(g generate.GrafanaRuleFile) grafanaRuleFile {
	f := grafanaRuleFile{APIVersion: g.APIVersion, Groups: make([]grafanaGroup, len(g.Groups))}
	for i, gg := range g.Groups {
		cg := grafanaGroup{OrgID: gg.OrgID, Name: gg.Name, Folder: gg.Folder, Interval: gg.Interval, Rules: make([]grafanaRule, len(gg.Rules))}
		for j, r := range gg.Rules {
			cr := grafanaRule{UID: r.UID, Title: r.Title, Condition: r.Condition, NoDataState: r.NoDataState,
				ExecErrState: r.ExecErrState, For: r.For, Annotations: r.Annotations, Labels: r.Labels, IsPaused: r.IsPaused,
				Data: make([]grafanaQuery, len(r.Data))}
			for k, q := range r.Data {
				cq := grafanaQuery{RefID: q.RefID, DatasourceUID: q.DatasourceUID, Model: q.Model}
				cq.RelativeTimeRange.From, cq.RelativeTimeRange.To = q.RelativeTimeRange.From, q.RelativeTimeRange.To
				cr.Data[k] = cq
			}
			cg.Rules[j] = cr
		}
		f.Groups[i] = cg
	}
	return f
}

var (
	grafanaUIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)
	noDataStates = []string{"Alerting", "NoData", "OK", "KeepLast"}
	errStates    = []string{"Alerting", "Error", "OK", "KeepLast"}
	exprTypes    = []string{"reduce", "threshold", "math", "resample", "classic_conditions", "sql"}
	// Labels Grafana reserves for its own routing.
	reservedLabels = []string{"__grafana_autogenerated__", "__grafana_receiver__", "__grafana_route_settings_hash__"}
)

// unescapedDollar reports a $ that Grafana would expand as an environment
// variable: every literal $ must be written $$.
func unescapedDollar(s string) bool {
	return strings.Contains(strings.ReplaceAll(s, "$$", ""), "$")
}

func (c *checker) grafanaRules(name string, f *grafanaRuleFile) {
	if f.APIVersion != 1 {
		c.add(name, "apiVersion is %d, want 1", f.APIVersion)
	}
	titles := map[string]string{}
	groups := map[string]bool{}
	for _, g := range f.Groups {
		gw := fmt.Sprintf("group %q", g.Name)
		if strings.TrimSpace(g.Name) == "" {
			c.add(name, "%s: rule group has no name", gw)
		}
		if strings.TrimSpace(g.Folder) == "" {
			c.add(name, "%s: rule group has no folder", gw)
		}
		if groups[g.Folder+"\x00"+g.Name] {
			c.add(name, "%s: duplicate group in folder %q", gw, g.Folder)
		}
		groups[g.Folder+"\x00"+g.Name] = true
		iv, err := inventory.ParseDuration(g.Interval)
		switch {
		case err != nil:
			c.add(name, "%s: bad interval %q", gw, g.Interval)
		case iv <= 0 || iv.Std()%10e9 != 0:
			c.add(name, "%s: interval %s is not a positive multiple of 10s (Grafana's scheduler interval); set grafana.interval in the inventory", gw, g.Interval)
		}
		for _, s := range []string{g.Name, g.Folder} {
			if unescapedDollar(s) {
				c.add(name, "%s: %q has a $ that Grafana expands as an environment variable; write $$", gw, s)
			}
		}
		if len(g.Rules) == 0 {
			c.add(name, "%s: no rules", gw)
		}
		for _, r := range g.Rules {
			c.grafanaRule(name, gw, g.Folder, r, titles)
		}
	}
}

func (c *checker) grafanaRule(name, gw, folder string, r grafanaRule, titles map[string]string) {
	rw := fmt.Sprintf("%s: rule %q", gw, r.UID)
	if !grafanaUIDRe.MatchString(r.UID) {
		c.add(name, "%s: uid must be 1 to 40 characters of a-z A-Z 0-9 _ -", rw)
	}
	if first, dup := c.uids[r.UID]; dup {
		c.add(name, "%s: duplicate uid (first in %s)", rw, first)
	} else {
		c.uids[r.UID] = gw
	}
	if r.Title == "" {
		c.add(name, "%s: no title", rw)
	}
	key := folder + "\x00" + r.Title
	if first, dup := titles[key]; dup {
		c.add(name, "%s: title %q is already used in folder %q by rule %q", rw, r.Title, folder, first)
	}
	titles[key] = r.UID
	if !slices.Contains(noDataStates, r.NoDataState) {
		c.add(name, "%s: noDataState %q is not one of %s", rw, r.NoDataState, strings.Join(noDataStates, ", "))
	}
	if !slices.Contains(errStates, r.ExecErrState) {
		c.add(name, "%s: execErrState %q is not one of %s", rw, r.ExecErrState, strings.Join(errStates, ", "))
	}
	if r.For != "" {
		if _, err := inventory.ParseDuration(r.For); err != nil {
			c.add(name, "%s: bad for %q", rw, r.For)
		}
	}
	if r.Title != "" && unescapedDollar(r.Title) {
		c.add(name, "%s: title has a $ that Grafana expands as an environment variable; write $$", rw)
	}
	for _, kv := range []struct {
		what string
		m    map[string]string
	}{{"label", r.Labels}, {"annotation", r.Annotations}} {
		for k, v := range kv.m {
			if !labelNameRe.MatchString(k) {
				c.add(name, "%s: %s name %q is not valid", rw, kv.what, k)
			}
			if unescapedDollar(v) {
				c.add(name, "%s: %s %s has a $ that Grafana expands as an environment variable; write $$", rw, kv.what, k)
			}
		}
	}
	for _, l := range reservedLabels {
		if _, ok := r.Labels[l]; ok {
			c.add(name, "%s: label %s is reserved by Grafana", rw, l)
		}
	}
	if len(r.Data) == 0 {
		c.add(name, "%s: no data (queries or expressions)", rw)
		return
	}
	refs := map[string]bool{}
	for _, q := range r.Data {
		if q.RefID == "" {
			c.add(name, "%s: a query without refId", rw)
		}
		if refs[q.RefID] {
			c.add(name, "%s: duplicate refId %q", rw, q.RefID)
		}
		refs[q.RefID] = true
	}
	if r.Condition == "" {
		c.add(name, "%s: no condition", rw)
	} else if !refs[r.Condition] {
		c.add(name, "%s: condition %q names no refId in data", rw, r.Condition)
	}
	for _, q := range r.Data {
		qw := fmt.Sprintf("%s: data %q", rw, q.RefID)
		if q.DatasourceUID == "" {
			c.add(name, "%s: no datasourceUid", qw)
			continue
		}
		if q.DatasourceUID == generate.ExprDatasource {
			t, _ := q.Model["type"].(string)
			if !slices.Contains(exprTypes, t) {
				c.add(name, "%s: expression type %q is not one of %s", qw, t, strings.Join(exprTypes, ", "))
			}
			if t == "reduce" || t == "threshold" {
				if e, _ := q.Model["expression"].(string); !refs[e] || e == q.RefID {
					c.add(name, "%s: expression %q names no other refId", qw, e)
				}
			}
			continue
		}
		if q.RelativeTimeRange.From <= q.RelativeTimeRange.To {
			c.add(name, "%s: relativeTimeRange from %d must be more than to %d (seconds before now)", qw, q.RelativeTimeRange.From, q.RelativeTimeRange.To)
		}
		expr, _ := q.Model["expr"].(string)
		if expr == "" {
			c.add(name, "%s: model has no expr", qw)
		} else if err := parseExpr(expr); err != nil {
			c.add(name, "%s: expr does not parse as MetricsQL: %v", qw, err)
		}
	}
}

type grafanaContactFile struct {
	APIVersion    int `yaml:"apiVersion"`
	ContactPoints []struct {
		OrgID     int    `yaml:"orgId"`
		Name      string `yaml:"name"`
		Receivers []struct {
			UID                   string         `yaml:"uid"`
			Type                  string         `yaml:"type"`
			Settings              map[string]any `yaml:"settings"`
			DisableResolveMessage bool           `yaml:"disableResolveMessage"`
		} `yaml:"receivers"`
	} `yaml:"contactPoints"`
	DeleteContactPoints []map[string]any `yaml:"deleteContactPoints"`
}

var fileRefRe = regexp.MustCompile(`^\$__file\{/[^{}]+\}$`)

func (c *checker) contactPoints(name string, f *grafanaContactFile) {
	if f.APIVersion != 1 {
		c.add(name, "apiVersion is %d, want 1", f.APIVersion)
	}
	for _, cp := range f.ContactPoints {
		if cp.Name == "" {
			c.add(name, "a contact point without name")
		}
		for _, r := range cp.Receivers {
			if !grafanaUIDRe.MatchString(r.UID) {
				c.add(name, "contact point %q: receiver uid %q must be 1 to 40 characters of a-z A-Z 0-9 _ -", cp.Name, r.UID)
			}
			if r.Type == "pushover" {
				for _, k := range []string{"userKey", "apiToken"} {
					v, _ := r.Settings[k].(string)
					if !fileRefRe.MatchString(v) {
						c.add(name, "contact point %q: %s must be a $__file{/path} reference, not a value", cp.Name, k)
					}
				}
			}
		}
	}
}

type grafanaPolicyFile struct {
	APIVersion int              `yaml:"apiVersion"`
	Policies   []map[string]any `yaml:"policies"`
	ResetPol   []map[string]any `yaml:"resetPolicies"`
}

func (c *checker) policies(name string, f *grafanaPolicyFile) {
	if f.APIVersion != 1 {
		c.add(name, "apiVersion is %d, want 1", f.APIVersion)
	}
	for i, p := range f.Policies {
		if r, _ := p["receiver"].(string); r == "" {
			c.add(name, "policies[%d]: no receiver", i)
		}
	}
}

var alertNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) vmalertRules(name string, f *generate.VMAlertFile) {
	groups := map[string]bool{}
	for _, g := range f.Groups {
		gw := fmt.Sprintf("group %q", g.Name)
		if g.Name == "" || groups[g.Name] {
			c.add(name, "%s: group name empty or not unique", gw)
		}
		groups[g.Name] = true
		if iv, err := inventory.ParseDuration(g.Interval); err != nil || iv <= 0 {
			c.add(name, "%s: bad interval %q", gw, g.Interval)
		}
		for i, r := range g.Rules {
			rw := fmt.Sprintf("%s: rules[%d] (%s)", gw, i, r.Alert)
			if !alertNameRe.MatchString(r.Alert) {
				c.add(name, "%s: alert name %q is not valid", rw, r.Alert)
			}
			if err := parseExpr(r.Expr); err != nil {
				c.add(name, "%s: expr does not parse as MetricsQL: %v", rw, err)
			}
			if _, err := inventory.ParseDuration(r.For); err != nil {
				c.add(name, "%s: bad for %q", rw, r.For)
			}
			for k := range r.Labels {
				if !labelNameRe.MatchString(k) {
					c.add(name, "%s: label name %q is not valid", rw, k)
				}
			}
		}
	}
}

// Summary describes a generated set in one line.
func Summary(inv *inventory.Inventory, files []generate.File) string {
	jobs := 0
	for _, h := range inv.Hosts {
		jobs += len(h.Jobs)
	}
	return fmt.Sprintf("%d hosts, %d scrape jobs, %d alert rules, %d files", len(inv.Hosts), jobs, len(generate.Rules(inv)), len(files))
}

func inventoryProblems(err error) []Problem {
	var errs inventory.Errors
	if errors.As(err, &errs) {
		out := make([]Problem, len(errs))
		for i, e := range errs {
			// The file part carries the position, the message the key.
			full := e.Error()
			at := *e
			at.Path, at.Msg = "", ""
			file := strings.TrimSuffix(at.Error(), ": ")
			out[i] = Problem{File: file, Msg: strings.TrimPrefix(full, file+": ")}
		}
		return out
	}
	return []Problem{{Msg: err.Error()}}
}

// Run is `scrapegen check`: the inventory, its outputs, and with dir the
// files in a generated directory, which must match the inventory.
func Run(invPath, dir string) ([]Problem, string, error) {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return inventoryProblems(err), "", nil
	}
	files, err := generate.Generate(inv)
	if err != nil {
		return nil, "", err
	}
	secrets := ReadSecrets(inv.SecretFiles())
	if dir == "" {
		return Files(files, secrets, func(p string) string { return p }), "ok: " + Summary(inv, files), nil
	}
	onDisk, err := readDir(dir)
	if err != nil {
		return nil, "", err
	}
	var problems []Problem
	want := map[string][]byte{}
	for _, f := range files {
		want[f.Path] = f.Data
	}
	have := map[string]bool{}
	generated := map[string]generate.File{}
	for _, f := range files {
		generated[f.Path] = f
	}
	for i, f := range onDisk {
		have[f.Path] = true
		w, ok := want[f.Path]
		if ok && bytes.Equal(w, f.Data) {
			// Same bytes as generated: check the values they came from.
			onDisk[i].Value = generated[f.Path].Value
		}
		switch {
		case !ok:
			problems = append(problems, Problem{filepath.Join(dir, f.Path), "not generated from " + invPath + " (left over from an older inventory?)"})
		case !bytes.Equal(w, f.Data):
			problems = append(problems, Problem{filepath.Join(dir, f.Path), "differs from what " + invPath + " generates: run scrapegen generate"})
		}
	}
	for _, f := range files {
		if !have[f.Path] {
			problems = append(problems, Problem{filepath.Join(dir, f.Path), "missing: run scrapegen generate"})
		}
	}
	problems = append(problems, Files(onDisk, secrets, func(p string) string { return filepath.Join(dir, p) })...)
	return problems, "ok: " + Summary(inv, files) + " in " + dir, nil
}

func readDir(dir string) ([]generate.File, error) {
	var files []generate.File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, generate.File{Path: filepath.ToSlash(rel), Data: b})
		return nil
	})
	return files, err
}

// GenerateDir is `scrapegen generate`: it writes the outputs only when
// they pass every check.
func GenerateDir(invPath, out string) ([]Problem, string, error) {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return inventoryProblems(err), "", nil
	}
	files, err := generate.Generate(inv)
	if err != nil {
		return nil, "", err
	}
	if problems := Files(files, ReadSecrets(inv.SecretFiles()), func(p string) string { return p }); len(problems) > 0 {
		return problems, "", nil
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(out, f.Path), f.Data); err != nil {
			return nil, "", err
		}
	}
	return nil, "wrote " + Summary(inv, files) + " to " + out, nil
}

// writeFile replaces a file atomically, so a reader (Grafana, vmagent)
// never sees half of it.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
