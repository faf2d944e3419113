// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package inventory reads the host inventory that scrapegen turns into
// scrape configs and alert rules: YAML, or JSON as Nix's builtins.toJSON
// writes it, read strictly, with every problem named by file, line, column
// and key.
package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metricsql"
	"go.yaml.in/yaml/v3"
)

// RunnerExporterPort is gitea_runner_exporter's default port (its main.go
// defaultAddress). It is the only place scrapegen knows it.
const RunnerExporterPort = 10101

// Service kinds, which are also the default job names.
const (
	KindNode         = "node"
	KindOpenLDAP     = "openldap"
	KindPostfix      = "postfix"
	KindDovecot      = "dovecot"
	KindWireGuard    = "wireguard"
	KindGitea        = "gitea"
	KindGiteaRunners = "gitea_runners"
	KindCustom       = "custom"
)

// defaultPorts are each exporter's port on the Prometheus default port
// allocations list (Gitea's is its own HTTP port).
var defaultPorts = map[string]int{
	KindNode:         9100,
	KindOpenLDAP:     9330,
	KindPostfix:      9154,
	KindDovecot:      9166,
	KindWireGuard:    9586,
	KindGitea:        3000,
	KindGiteaRunners: RunnerExporterPort,
}

// Built-in defaults, used where neither the inventory's defaults nor a host
// say otherwise.
var (
	DefaultScrapeInterval     = Duration(30e9)
	DefaultScrapeTimeout      = Duration(10e9)
	DefaultEvaluationInterval = Duration(60e9)
	DefaultFor                = Duration(2 * 60e9)
	DefaultRunnerFor          = Duration(5 * 60e9)
	DefaultHostFor            = Duration(5 * 60e9)
	DefaultAbsentAfter        = Duration(5 * 60e9)
	DefaultHandshakeMaxAge    = Duration(5 * 60e9)
	DefaultFolder             = "Infrastructure Services"
	DefaultDatasourceType     = "prometheus"
)

// Inventory is a checked inventory with every default applied.
type Inventory struct {
	File               string
	RemoteWriteURL     string
	Grafana            Grafana
	EvaluationInterval Duration // vmalert group interval
	Hosts              []Host   // sorted by name
}

// Grafana holds what the Grafana provisioning files need.
type Grafana struct {
	DatasourceUID  string
	DatasourceType string
	Folder         string
	OrgID          int
	Interval       Duration // rule group interval: Grafana wants a multiple of 10s
	Pushover       *Pushover
	Policy         *Policy
}

// Pushover is a Grafana contact point whose secrets stay in files.
type Pushover struct {
	Pos          Pos
	Name         string `yaml:"name"`
	UserKeyFile  string `yaml:"user_key_file"`
	APITokenFile string `yaml:"api_token_file"`
	Priority     int    `yaml:"priority"`
}

// Policy is Grafana's notification policy tree root. Provisioning it
// replaces the whole tree, which is why it is optional.
type Policy struct {
	Pos            Pos
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by"`
	GroupWait      *Duration `yaml:"group_wait"`
	GroupInterval  *Duration `yaml:"group_interval"`
	RepeatInterval *Duration `yaml:"repeat_interval"`
}

// Timing is the resolved intervals and thresholds of one host.
type Timing struct {
	ScrapeInterval  Duration
	ScrapeTimeout   Duration
	For             Duration // how long a service must be down before it alerts
	RunnerFor       Duration // the same for Gitea runners
	HostFor         Duration // the same for a host or its vmagent
	AbsentAfter     Duration // a series without samples for this long is absent
	HandshakeMaxAge Duration // a WireGuard peer older than this is stale
}

// Host is one machine and the jobs its vmagent scrapes.
type Host struct {
	Name   string
	Pos    Pos
	Timing Timing
	Jobs   []Job // node first, then the built-in services, then custom jobs
}

// BasicAuth is HTTP basic auth for a scrape, password from a file.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// Runner is an expected Gitea Actions runner.
type Runner struct {
	Name string
	Unit string // systemd unit on the host, for node_exporter's systemd collector
}

// Job is one scrape job on one host.
type Job struct {
	Name            string
	Kind            string
	Pos             Pos
	Target          string
	Scheme          string
	MetricsPath     string
	BearerTokenFile string
	CAFile          string
	BasicAuth       *BasicAuth
	Interfaces      []string // wireguard: interfaces that must exist
	Runners         []Runner // gitea_runners
	Down            string   // custom: the expression that returns series when down
	Summary         string   // custom: what the job is
}

// SecretFiles lists every file the inventory names as holding a secret.
func (inv *Inventory) SecretFiles() []string {
	var files []string
	for _, h := range inv.Hosts {
		for _, j := range h.Jobs {
			if j.BearerTokenFile != "" {
				files = append(files, j.BearerTokenFile)
			}
			if j.BasicAuth != nil {
				files = append(files, j.BasicAuth.PasswordFile)
			}
		}
	}
	if p := inv.Grafana.Pushover; p != nil {
		files = append(files, p.UserKeyFile, p.APITokenFile)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// The file types below mirror the inventory's keys; the walker in decode.go
// fills them.

type fileInventory struct {
	RemoteWriteURL string               `yaml:"remote_write_url"`
	Grafana        *fileGrafana         `yaml:"grafana"`
	Defaults       *fileDefaults        `yaml:"defaults"`
	Hosts          map[string]*fileHost `yaml:"hosts"`
}

type fileGrafana struct {
	Pos            Pos
	DatasourceUID  string    `yaml:"datasource_uid"`
	DatasourceType string    `yaml:"datasource_type"`
	Folder         string    `yaml:"folder"`
	OrgID          *int      `yaml:"org_id"`
	Interval       *Duration `yaml:"interval"`
	Pushover       *Pushover `yaml:"pushover"`
	Policy         *Policy   `yaml:"policy"`
}

type fileTiming struct {
	ScrapeInterval  *Duration `yaml:"scrape_interval"`
	ScrapeTimeout   *Duration `yaml:"scrape_timeout"`
	For             *Duration `yaml:"for"`
	RunnerFor       *Duration `yaml:"runner_for"`
	HostFor         *Duration `yaml:"host_for"`
	AbsentAfter     *Duration `yaml:"absent_after"`
	HandshakeMaxAge *Duration `yaml:"handshake_max_age"`
}

type fileDefaults struct {
	Pos                Pos
	fileTiming         `yaml:",inline"`
	EvaluationInterval *Duration `yaml:"evaluation_interval"`
}

type fileHost struct {
	Pos          Pos
	fileTiming   `yaml:",inline"`
	Node         *fileService      `yaml:"node"`
	OpenLDAP     *fileService      `yaml:"openldap"`
	Postfix      *fileService      `yaml:"postfix"`
	Dovecot      *fileService      `yaml:"dovecot"`
	WireGuard    *fileWireGuard    `yaml:"wireguard"`
	Gitea        *fileService      `yaml:"gitea"`
	GiteaRunners *fileGiteaRunners `yaml:"gitea_runners"`
	Custom       []*fileCustom     `yaml:"custom"`
}

type fileEndpoint struct {
	Enabled         *bool      `yaml:"enabled"`
	Target          Target     `yaml:"target"`
	Scheme          string     `yaml:"scheme"`
	MetricsPath     string     `yaml:"metrics_path"`
	BearerTokenFile string     `yaml:"bearer_token_file"`
	CAFile          string     `yaml:"ca_file"`
	BasicAuth       *BasicAuth `yaml:"basic_auth"`
}

type fileService struct {
	Pos          Pos
	fileEndpoint `yaml:",inline"`
}

type fileWireGuard struct {
	Pos             Pos
	fileEndpoint    `yaml:",inline"`
	Interfaces      []string  `yaml:"interfaces"`
	HandshakeMaxAge *Duration `yaml:"handshake_max_age"`
}

type fileGiteaRunners struct {
	Pos          Pos
	fileEndpoint `yaml:",inline"`
	Runners      []fileRunner `yaml:"runners"`
}

type fileCustom struct {
	Pos          Pos
	Name         string `yaml:"name"`
	fileEndpoint `yaml:",inline"`
	Down         string `yaml:"down"`
	Summary      string `yaml:"summary"`
}

// Target is a scrape target, host:port; ":port" means localhost.
type Target string

var targetHostRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

func (t *Target) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return fmt.Errorf("want host:port, got %s", kindName(n))
	}
	s, err := ParseTarget(n.Value)
	if err != nil {
		return err
	}
	*t = Target(s)
	return nil
}

// ParseTarget checks a host:port target and fills in localhost for ":port".
func ParseTarget(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("bad target %q: want host:port such as localhost:9100", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || strings.HasPrefix(port, "0") {
		return "", fmt.Errorf("bad target %q: port must be a number from 1 to 65535", s)
	}
	switch {
	case host == "":
		host = "localhost"
	case net.ParseIP(host) != nil:
	case !targetHostRe.MatchString(host) || len(host) > 253:
		return "", fmt.Errorf("bad target %q: %q is not a host name or IP address", s, host)
	}
	return net.JoinHostPort(host, port), nil
}

func (d *Duration) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return fmt.Errorf("%v, got %s", errDuration, kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("bad duration %q: %v", n.Value, err)
	}
	*d = v
	return nil
}

// fileRunner is a runner name, or a mapping with its systemd unit.
type fileRunner struct {
	Runner
	Pos Pos
}

func (r *fileRunner) decodeNode(n *yaml.Node) error {
	r.Pos = Pos{n.Line, n.Column}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		r.Name = n.Value
		return nil
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return fmt.Errorf("%s: want a string, got %s", k.Value, kindName(v))
			}
			switch k.Value {
			case "name":
				r.Name = v.Value
			case "unit":
				r.Unit = v.Value
			default:
				return fmt.Errorf("unknown key %q (known: name, unit)", k.Value)
			}
		}
		return nil
	}
	return fmt.Errorf("want a runner name or {name, unit}, got %s", kindName(n))
}

// Load reads and checks an inventory file.
func Load(path string) (*Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, b)
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse checks an inventory held in memory; name is used in errors. On
// failure the error is an Errors with every problem found.
func Parse(name string, data []byte) (*Inventory, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Msg: "empty inventory"}}
		}
		e := &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			e.Pos, e.Msg = Pos{Line: line}, m[2]
		}
		return nil, Errors{e}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errors{{File: name, Pos: Pos{extra.Line, extra.Column}, Msg: "more than one YAML document"}}
	}
	w := &walker{file: name}
	var fi fileInventory
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w.decode(root, reflect.ValueOf(&fi).Elem(), "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	return resolve(name, root, &fi)
}

// resolver applies defaults and checks what the types alone cannot.
type resolver struct {
	file string
	errs Errors
}

func (r *resolver) errorf(pos Pos, path, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	hostNameRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$`)
	jobNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,62}$`)
	uidRe       = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	ifaceRe     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	unitRe      = regexp.MustCompile(`^[A-Za-z0-9:_.@-]{1,255}$`)
	labelNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// safeText is safeValue for free text that only reaches annotations,
// titles and the Grafana folder: a $ is allowed there (and escaped for
// Grafana).
func safeText(s string) bool { return safeValue(strings.ReplaceAll(s, "$", "S")) }

// safeValue reports whether s can go into a PromQL string and a Grafana
// label unchanged: no quotes, backslashes, dollars or control characters.
func safeValue(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '$' || c == '`' {
			return false
		}
	}
	return true
}

func pick(vals ...*Duration) Duration {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	panic("pick: no value")
}

func lineOf(root *yaml.Node, keys ...string) Pos {
	n := root
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			break
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return Pos{n.Line, n.Column}
}

func resolve(name string, root *yaml.Node, fi *fileInventory) (*Inventory, error) {
	r := &resolver{file: name}
	inv := &Inventory{File: name, RemoteWriteURL: fi.RemoteWriteURL}

	if fi.RemoteWriteURL != "" {
		u, err := url.Parse(fi.RemoteWriteURL)
		pos := lineOf(root, "remote_write_url")
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			r.errorf(pos, "remote_write_url", "want an http:// or https:// URL, got %q", fi.RemoteWriteURL)
		case u.User != nil:
			r.errorf(pos, "remote_write_url", "must not hold credentials: give them to vmagent from a secret file")
		}
	}

	fg := fi.Grafana
	if fg == nil {
		r.errorf(Pos{root.Line, root.Column}, "", "missing key \"grafana\" (at least grafana.datasource_uid)")
		fg = &fileGrafana{}
	}
	d := fi.Defaults
	if d == nil {
		d = &fileDefaults{}
	}
	inv.EvaluationInterval = pick(d.EvaluationInterval, &DefaultEvaluationInterval)
	if inv.EvaluationInterval <= 0 {
		r.errorf(lineOf(root, "defaults", "evaluation_interval"), "defaults.evaluation_interval", "must be more than 0")
	}
	g := Grafana{
		DatasourceUID:  fg.DatasourceUID,
		DatasourceType: fg.DatasourceType,
		Folder:         fg.Folder,
		OrgID:          1,
		Interval:       pick(fg.Interval, &inv.EvaluationInterval),
		Pushover:       fg.Pushover,
		Policy:         fg.Policy,
	}
	if fg.OrgID != nil {
		g.OrgID = *fg.OrgID
	}
	if g.DatasourceType == "" {
		g.DatasourceType = DefaultDatasourceType
	}
	if g.Folder == "" {
		g.Folder = DefaultFolder
	}
	if fi.Grafana != nil {
		if !uidRe.MatchString(g.DatasourceUID) {
			r.errorf(lineOf(root, "grafana", "datasource_uid"), "grafana.datasource_uid", "want the datasource's UID (1 to 40 of A-Z a-z 0-9 _ -), got %q", g.DatasourceUID)
		}
		if !safeText(g.Folder) {
			r.errorf(lineOf(root, "grafana", "folder"), "grafana.folder", "must not be empty nor hold quotes, backslashes or control characters")
		}
		if g.OrgID < 1 {
			r.errorf(lineOf(root, "grafana", "org_id"), "grafana.org_id", "must be 1 or more")
		}
		if !safeValue(g.DatasourceType) {
			r.errorf(lineOf(root, "grafana", "datasource_type"), "grafana.datasource_type", "bad value %q", g.DatasourceType)
		}
	}
	if p := g.Pushover; p != nil {
		if !uidRe.MatchString(p.Name) {
			r.errorf(p.Pos, "grafana.pushover.name", "want a contact point name (1 to 40 of A-Z a-z 0-9 _ -), got %q", p.Name)
		}
		r.secretFile(p.Pos, "grafana.pushover.user_key_file", p.UserKeyFile, true)
		r.secretFile(p.Pos, "grafana.pushover.api_token_file", p.APITokenFile, true)
		if p.Priority < -2 || p.Priority > 2 {
			r.errorf(p.Pos, "grafana.pushover.priority", "Pushover priorities are -2 to 2, got %d", p.Priority)
		}
	}
	if p := g.Policy; p != nil {
		if p.Receiver == "" && g.Pushover != nil {
			p.Receiver = g.Pushover.Name
		}
		if !safeValue(p.Receiver) {
			r.errorf(p.Pos, "grafana.policy.receiver", "want a contact point name (or set grafana.pushover)")
		}
		for i, l := range p.GroupBy {
			if !labelNameRe.MatchString(l) && l != "..." {
				r.errorf(p.Pos, fmt.Sprintf("grafana.policy.group_by[%d]", i), "%q is not a label name", l)
			}
		}
	}
	inv.Grafana = g

	def := Timing{
		ScrapeInterval:  pick(d.ScrapeInterval, &DefaultScrapeInterval),
		For:             pick(d.For, &DefaultFor),
		RunnerFor:       pick(d.RunnerFor, &DefaultRunnerFor),
		HostFor:         pick(d.HostFor, &DefaultHostFor),
		AbsentAfter:     pick(d.AbsentAfter, &DefaultAbsentAfter),
		HandshakeMaxAge: pick(d.HandshakeMaxAge, &DefaultHandshakeMaxAge),
	}
	if d.ScrapeTimeout != nil {
		def.ScrapeTimeout = *d.ScrapeTimeout
	}

	dt := def
	if dt.ScrapeTimeout == 0 {
		dt.ScrapeTimeout = min(DefaultScrapeTimeout, dt.ScrapeInterval)
	}
	r.timing(dt, lineOf(root, "defaults"), "defaults")
	if len(fi.Hosts) == 0 {
		r.errorf(lineOf(root, "hosts"), "hosts", "no hosts")
	}
	names := make([]string, 0, len(fi.Hosts))
	for n := range fi.Hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, hn := range names {
		fh := fi.Hosts[hn]
		if fh == nil {
			fh = &fileHost{Pos: lineOf(root, "hosts", hn)}
		}
		inv.Hosts = append(inv.Hosts, r.host(hn, fh, def))
	}
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b *Error) int {
			if a.Pos.Line != b.Pos.Line {
				return a.Pos.Line - b.Pos.Line
			}
			return a.Pos.Column - b.Pos.Column
		})
		return nil, r.errs
	}
	return inv, nil
}

func (r *resolver) secretFile(pos Pos, path, file string, required bool) {
	switch {
	case file == "" && required:
		r.errorf(pos, path, "missing: name the file that holds the secret")
	case file != "" && (!strings.HasPrefix(file, "/") || strings.ContainsAny(file, "\n{}$\"")):
		r.errorf(pos, path, "want an absolute file path, got %q", file)
	}
}

// timing checks intervals against each other.
func (r *resolver) timing(t Timing, pos Pos, path string) {
	if t.ScrapeInterval <= 0 {
		r.errorf(pos, path+".scrape_interval", "must be more than 0")
		return
	}
	if t.ScrapeTimeout <= 0 || t.ScrapeTimeout > t.ScrapeInterval {
		r.errorf(pos, path+".scrape_timeout", "%s must be more than 0 and at most the scrape interval %s", t.ScrapeTimeout, t.ScrapeInterval)
	}
	if t.AbsentAfter < t.ScrapeInterval {
		r.errorf(pos, path+".absent_after", "%s is shorter than the scrape interval %s: every series would look absent between scrapes", t.AbsentAfter, t.ScrapeInterval)
	}
	if t.HandshakeMaxAge <= 0 {
		r.errorf(pos, path+".handshake_max_age", "must be more than 0")
	}
}

func (r *resolver) host(name string, fh *fileHost, def Timing) Host {
	path := "hosts." + name
	if !hostNameRe.MatchString(name) {
		r.errorf(fh.Pos, path, "bad host name: want letters, digits, '.', '_' or '-', up to 63 characters")
	}
	t := Timing{
		ScrapeInterval:  pick(fh.ScrapeInterval, &def.ScrapeInterval),
		For:             pick(fh.For, &def.For),
		RunnerFor:       pick(fh.RunnerFor, &def.RunnerFor),
		HostFor:         pick(fh.HostFor, &def.HostFor),
		AbsentAfter:     pick(fh.AbsentAfter, &def.AbsentAfter),
		HandshakeMaxAge: pick(fh.HandshakeMaxAge, &def.HandshakeMaxAge),
	}
	if fh.WireGuard != nil && fh.WireGuard.HandshakeMaxAge != nil {
		t.HandshakeMaxAge = *fh.WireGuard.HandshakeMaxAge
	}
	switch {
	case fh.ScrapeTimeout != nil:
		t.ScrapeTimeout = *fh.ScrapeTimeout
	case def.ScrapeTimeout != 0:
		t.ScrapeTimeout = def.ScrapeTimeout
	default:
		t.ScrapeTimeout = min(DefaultScrapeTimeout, t.ScrapeInterval)
	}
	if fh.fileTiming != (fileTiming{}) || (fh.WireGuard != nil && fh.WireGuard.HandshakeMaxAge != nil) {
		// Defaults are checked once; a host only when it changes them.
		r.timing(t, fh.Pos, path)
	}
	h := Host{Name: name, Pos: fh.Pos, Timing: t}

	node := fh.Node
	if node == nil {
		node = &fileService{Pos: fh.Pos} // every host runs node_exporter
	}
	builtins := []struct {
		kind string
		svc  *fileService
		ep   *fileEndpoint
		pos  Pos
	}{
		{KindNode, node, &node.fileEndpoint, node.Pos},
		{KindOpenLDAP, fh.OpenLDAP, nil, Pos{}},
		{KindPostfix, fh.Postfix, nil, Pos{}},
		{KindDovecot, fh.Dovecot, nil, Pos{}},
	}
	jobs := map[string]Pos{}
	targets := map[string]string{}
	add := func(j Job, ep *fileEndpoint, jpath string) {
		if ep.Enabled != nil && !*ep.Enabled {
			return
		}
		if first, dup := jobs[j.Name]; dup {
			r.errorf(j.Pos, jpath, "duplicate job %q on host %s (first at line %d)", j.Name, name, first.Line)
			return
		}
		jobs[j.Name] = j.Pos
		r.endpoint(&j, ep, jpath)
		key := j.Scheme + "://" + j.Target + j.MetricsPath
		if other, dup := targets[key]; dup {
			r.errorf(j.Pos, jpath+".target", "bad target %s: job %q on host %s scrapes it already", j.Target, other, name)
		}
		targets[key] = j.Name
		h.Jobs = append(h.Jobs, j)
	}
	for _, b := range builtins {
		if b.svc == nil {
			continue
		}
		add(Job{Name: b.kind, Kind: b.kind, Pos: b.svc.Pos}, &b.svc.fileEndpoint, path+"."+b.kind)
	}
	if wg := fh.WireGuard; wg != nil {
		j := Job{Name: KindWireGuard, Kind: KindWireGuard, Pos: wg.Pos, Interfaces: wg.Interfaces}
		seen := map[string]bool{}
		for i, ifc := range wg.Interfaces {
			if !ifaceRe.MatchString(ifc) {
				r.errorf(wg.Pos, fmt.Sprintf("%s.wireguard.interfaces[%d]", path, i), "bad interface name %q", ifc)
			}
			if seen[ifc] {
				r.errorf(wg.Pos, fmt.Sprintf("%s.wireguard.interfaces[%d]", path, i), "duplicate interface %q", ifc)
			}
			seen[ifc] = true
		}
		add(j, &wg.fileEndpoint, path+".wireguard")
	}
	if fh.Gitea != nil {
		add(Job{Name: KindGitea, Kind: KindGitea, Pos: fh.Gitea.Pos}, &fh.Gitea.fileEndpoint, path+".gitea")
	}
	if gr := fh.GiteaRunners; gr != nil {
		j := Job{Name: KindGiteaRunners, Kind: KindGiteaRunners, Pos: gr.Pos}
		seen := map[string]bool{}
		for i, fr := range gr.Runners {
			rp := fmt.Sprintf("%s.gitea_runners.runners[%d]", path, i)
			if !safeValue(fr.Name) || len(fr.Name) > 255 {
				r.errorf(fr.Pos, rp, "bad runner name %q", fr.Name)
			}
			if seen[fr.Name] {
				r.errorf(fr.Pos, rp, "duplicate runner %q", fr.Name)
			}
			seen[fr.Name] = true
			if fr.Unit != "" && !unitRe.MatchString(fr.Unit) {
				r.errorf(fr.Pos, rp+".unit", "bad systemd unit name %q", fr.Unit)
			}
			if fr.Unit != "" && fh.Node != nil && fh.Node.Enabled != nil && !*fh.Node.Enabled {
				r.errorf(fr.Pos, rp+".unit", "the unit is watched through node_exporter, which is disabled on this host")
			}
			j.Runners = append(j.Runners, fr.Runner)
		}
		if len(gr.Runners) == 0 {
			r.errorf(gr.Pos, path+".gitea_runners.runners", "name the runners that must be online")
		}
		add(j, &gr.fileEndpoint, path+".gitea_runners")
	}
	for i, c := range fh.Custom {
		cp := fmt.Sprintf("%s.custom[%d]", path, i)
		if c == nil {
			r.errorf(fh.Pos, cp, "want a mapping with name, target and down")
			continue
		}
		if !jobNameRe.MatchString(c.Name) {
			r.errorf(c.Pos, cp+".name", "want a job name (letters, digits, '_' or '-', not starting with a digit), got %q", c.Name)
			continue
		}
		if c.Name == "hosts" {
			r.errorf(c.Pos, cp+".name", "%q is reserved for the host rules", c.Name)
		}
		if c.Target == "" {
			r.errorf(c.Pos, cp+".target", "missing: a custom job has no default target")
		}
		if c.Down == "" {
			r.errorf(c.Pos, cp+".down", "missing: the expression that returns series when the service is down")
		} else if _, err := metricsql.Parse(c.Down); err != nil {
			r.errorf(c.Pos, cp+".down", "does not parse as MetricsQL: %v", err)
		} else if strings.Contains(c.Down, "$") {
			r.errorf(c.Pos, cp+".down", "must not contain $")
		}
		if c.Summary != "" && !safeText(c.Summary) {
			r.errorf(c.Pos, cp+".summary", "must not hold quotes, backslashes or control characters")
		}
		add(Job{Name: c.Name, Kind: KindCustom, Pos: c.Pos, Down: c.Down, Summary: c.Summary}, &c.fileEndpoint, cp)
	}
	return h
}

func (r *resolver) endpoint(j *Job, ep *fileEndpoint, path string) {
	j.Target = string(ep.Target)
	if j.Target == "" {
		if p, ok := defaultPorts[j.Kind]; ok {
			j.Target = "localhost:" + strconv.Itoa(p)
		}
	}
	j.Scheme = ep.Scheme
	switch j.Scheme {
	case "":
		j.Scheme = "http"
	case "http", "https":
	default:
		r.errorf(j.Pos, path+".scheme", "want http or https, got %q", ep.Scheme)
	}
	j.MetricsPath = ep.MetricsPath
	if j.MetricsPath == "" {
		j.MetricsPath = "/metrics"
	} else if !strings.HasPrefix(j.MetricsPath, "/") || !safeValue(j.MetricsPath) || strings.ContainsAny(j.MetricsPath, " ?#") {
		r.errorf(j.Pos, path+".metrics_path", "want a path starting with /, got %q", ep.MetricsPath)
	}
	j.BearerTokenFile = ep.BearerTokenFile
	r.secretFile(j.Pos, path+".bearer_token_file", ep.BearerTokenFile, false)
	j.CAFile = ep.CAFile
	r.secretFile(j.Pos, path+".ca_file", ep.CAFile, false)
	if ba := ep.BasicAuth; ba != nil {
		if !safeValue(ba.Username) {
			r.errorf(j.Pos, path+".basic_auth.username", "missing or holds quotes, backslashes or $")
		}
		r.secretFile(j.Pos, path+".basic_auth.password_file", ba.PasswordFile, true)
		if ep.BearerTokenFile != "" {
			r.errorf(j.Pos, path+".basic_auth", "use either basic_auth or bearer_token_file, not both")
		}
		j.BasicAuth = ba
	}
}
