// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/downwatch/downwatch/scrapegen/inventory"
)

// Grafana noDataState values used here.
const (
	noDataAlerting = "Alerting"
	noDataOK       = "OK"
)

// Rule is one alert, before it is written for Grafana or for vmalert.
type Rule struct {
	UID      string   // Grafana uid, stable for the same host, job and check
	Check    string   // what the rule checks, e.g. "exporter-down", "runner-offline-r1"
	Group    string   // job name, or "hosts"
	Hosts    []string // the hosts the rule covers; one host: Host is a static label
	Alert    string   // vmalert alert name
	Title    string   // Grafana title, unique in the folder
	Host     string
	Service  string
	Severity string
	Labels   map[string]string // extra labels (runner, interface, unit)

	// Grafana: Query is refId A; the threshold Op ("lt" or "gt") with
	// Value is the condition; NoData is what missing data means.
	Query  string
	Op     string
	Value  float64
	NoData string
	Window inventory.Duration // how far back query A looks

	Expr string // vmalert/Prometheus expression
	For  inventory.Duration

	Summary, Description, CheckFirst string

	noMerge bool // a rule that must stay per host (host gone, custom expressions)
}

// hostMarker stands for the host in a rule's queries and text until Rules
// knows which hosts share the rule.
const hostMarker = "\x00host\x00"

// Rules derives every alert rule from an inventory. A check with the same
// parameters on several hosts becomes one rule over all of them, with the
// host as a label of each alert: a thousand hosts give tens of rules, not
// tens of thousands, for Grafana and vmalert to evaluate. The order is
// fixed: hosts by name, each host's jobs in inventory order, and a shared
// rule where its first host puts it.
func Rules(inv *inventory.Inventory) []Rule {
	// Jobs with the same settings and timing give the same rules but for
	// the host, so each is built once, with its merge keys.
	type built struct {
		rules []Rule
		keys  []string
	}
	cache := map[string]*built{}
	var rules []Rule
	index := map[string]int{}
	add := func(r Rule, key string) {
		if r.noMerge {
			rules = append(rules, r)
			return
		}
		if i, ok := index[key]; ok {
			rules[i].Hosts = append(rules[i].Hosts, r.Host)
			return
		}
		index[key] = len(rules)
		rules = append(rules, r)
	}
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		for _, r := range hostRules(h) {
			add(r, "")
		}
		for j := range h.Jobs {
			job := &h.Jobs[j]
			key := *job
			key.Pos = inventory.Pos{} // where it was written does not change its rules
			sig := fmt.Sprintf("%+v\x00%+v", key, h.Timing)
			b, ok := cache[sig]
			if !ok {
				b = &built{rules: jobRules(h, job)}
				for k := range b.rules {
					b.keys = append(b.keys, b.rules[k].mergeKey())
				}
				cache[sig] = b
			}
			for k, r := range b.rules {
				r.Host, r.Hosts = h.Name, []string{h.Name}
				r.UID = uid(h.Name, job.Name, r.Check)
				add(r, b.keys[k])
			}
		}
	}
	titles := map[string]int{}
	for i := range rules {
		rules[i].render()
		titles[rules[i].Title]++
	}
	for i := range rules {
		r := &rules[i]
		if titles[r.Title] > 1 { // the same check with other parameters elsewhere
			r.Title += " (" + hostList(r.Hosts) + ")"
		}
	}
	return rules
}

func (r *Rule) mergeKey() string {
	labels := make([]string, 0, len(r.Labels))
	for k, v := range r.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	return strings.Join([]string{r.Check, r.Group, r.Alert, r.Title, r.Service, r.Severity, strings.Join(labels, ","),
		r.Query, r.Op, strconv.FormatFloat(r.Value, 'g', -1, 64), r.NoData, r.Window.String(), r.Expr, r.For.String(),
		r.Summary, r.Description, r.CheckFirst}, "\x01")
}

func hostList(hosts []string) string {
	if len(hosts) <= 3 {
		return strings.Join(hosts, ", ")
	}
	return fmt.Sprintf("%s, %s and %d more", hosts[0], hosts[1], len(hosts)-2)
}

// render puts the hosts into the marker's places: a matcher in queries, the
// name (or, for several hosts, the alert's host label) in text.
func (r *Rule) render() {
	matcher := `host="` + hostMarker + `"`
	var hostMatch, text, title string
	if len(r.Hosts) == 1 {
		hostMatch = `host="` + r.Hosts[0] + `"`
		text, title = r.Hosts[0], r.Hosts[0]+": "
	} else {
		alts := make([]string, len(r.Hosts))
		for i, h := range r.Hosts {
			alts[i] = regexp.QuoteMeta(h)
		}
		// Inside a PromQL string a backslash is written twice.
		hostMatch = `host=~"` + strings.ReplaceAll(strings.Join(alts, "|"), `\`, `\\`) + `"`
		text = "{{ .Labels.host }}"
		r.UID = uid(r.Group, r.Check, r.For.String(), r.Window.String(), strconv.FormatFloat(r.Value, 'g', -1, 64))
		r.Host = ""
	}
	r.Query = strings.ReplaceAll(r.Query, matcher, hostMatch)
	r.Expr = strings.ReplaceAll(r.Expr, matcher, hostMatch)
	r.Title = strings.ReplaceAll(r.Title, hostMarker+": ", title)
	for _, s := range []*string{&r.Title, &r.Summary, &r.Description, &r.CheckFirst} {
		*s = strings.ReplaceAll(*s, hostMarker, text)
	}
}

// sel writes a PromQL selector with equality matchers, in the order given.
func sel(metric string, kv ...string) string {
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(kv[i+1]) // the inventory admits no quotes or backslashes
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// present is 1 or 0 from the newest sample of s, 0 when s has no sample
// within w while guard has one, and empty when guard has none either.
// The last case belongs to another rule (exporter down, host gone), so one
// failure raises one alert, not one per series that went with it.
func present(s, guard string, w inventory.Duration) string {
	return fmt.Sprintf("min by (host) (last_over_time(%s[%s])) or on(host) (0 * count by (host) (last_over_time(%s[%s])))", s, w, guard, w)
}

func presentUp(s, guardUp string, w inventory.Duration) string {
	return fmt.Sprintf("min by (host) (last_over_time(%s[%s])) or on(host) (0 * count by (host) (last_over_time(%s[%s]) == 1))", s, w, guardUp, w)
}

// uid is readable where it can be and unique by its hash: at most 40
// characters of [a-z0-9-], as Grafana requires.
func uid(parts ...string) string {
	id := strings.Join(parts, "\x00")
	sum := sha256.Sum256([]byte(id))
	var b strings.Builder
	b.WriteString("dw-")
	for _, p := range parts {
		for _, c := range strings.ToLower(p) {
			if b.Len() >= 27 {
				break
			}
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
				b.WriteRune(c)
			default:
				if !strings.HasSuffix(b.String(), "-") {
					b.WriteByte('-')
				}
			}
		}
		if b.Len() < 27 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	return s + "-" + hex.EncodeToString(sum[:])[:40-len(s)-1]
}

// serviceNames are how people name the services in alert titles.
var serviceNames = map[string]string{
	inventory.KindNode:         "node_exporter",
	inventory.KindOpenLDAP:     "OpenLDAP",
	inventory.KindPostfix:      "Postfix",
	inventory.KindDovecot:      "Dovecot",
	inventory.KindWireGuard:    "WireGuard",
	inventory.KindGitea:        "Gitea",
	inventory.KindGiteaRunners: "Gitea runners",
}

func displayName(j *inventory.Job) string {
	if n, ok := serviceNames[j.Kind]; ok {
		return n
	}
	if j.Summary != "" {
		return j.Summary
	}
	return j.Name
}

func hostRules(h *inventory.Host) []Rule {
	w := h.Timing.AbsentAfter
	up := sel("up", "host", h.Name)
	// A host that sends nothing cannot be told apart inside a query over
	// many hosts, so this rule stays one per host.
	return []Rule{{
		UID:      uid(h.Name, "host-gone"),
		Check:    "host-gone",
		Group:    "hosts",
		noMerge:  true,
		Alert:    "HostGone",
		Title:    h.Name + ": no data from the host or its vmagent",
		Host:     h.Name,
		Hosts:    []string{h.Name},
		Service:  "vmagent",
		Severity: "critical",
		Query:    fmt.Sprintf("count(last_over_time(%s[%s]))", up, w),
		Op:       "lt",
		Value:    1, // never true while data comes: the alert is the no-data state
		NoData:   noDataAlerting,
		Window:   w,
		Expr:     fmt.Sprintf("absent_over_time(%s[%s])", up, w),
		For:      h.Timing.HostFor,
		Summary:  fmt.Sprintf("No samples from %s for %s", h.Name, w),
		Description: fmt.Sprintf("No scrape of any job on %s reached VictoriaMetrics for %s: the host, its network, "+
			"vmagent, or vmagent's remote write is down.", h.Name, w),
		CheckFirst: fmt.Sprintf("Does %s answer (ping, ssh)? Then systemctl status vmagent and the remote-write "+
			"errors in journalctl -u vmagent on it.", h.Name),
	}}
}

func jobRules(h *inventory.Host, j *inventory.Job) []Rule {
	// Text and queries name the host through hostMarker; Rules replaces it
	// once it knows which hosts share the rule.
	hn := hostMarker
	t := h.Timing
	w := t.AbsentAfter
	name := displayName(j)
	up := sel("up", "host", hn, "job", j.Name)
	url := j.Scheme + "://" + j.Target + j.MetricsPath
	base := func(check string) Rule {
		return Rule{
			UID:      uid(h.Name, j.Name, check),
			Check:    check,
			Hosts:    []string{h.Name},
			Group:    j.Name,
			Host:     h.Name,
			Service:  j.Name,
			Severity: "critical",
			Op:       "lt",
			Value:    1,
			NoData:   noDataOK,
			Window:   w,
			For:      t.For,
		}
	}

	exporter := base("exporter-down")
	exporter.Alert = "ExporterDown"
	exporter.Query = present(up, sel("up", "host", hn), w)
	exporter.Expr = "(" + exporter.Query + ") < 1"
	exporter.Title = fmt.Sprintf("%s: %s exporter down", hn, name)
	exporter.Summary = fmt.Sprintf("vmagent on %s cannot scrape job %s at %s", hn, j.Name, url)
	exporter.Description = fmt.Sprintf("up is 0, or the job has no up series for %s while other jobs on %s report: "+
		"the exporter is stopped, hangs past the scrape timeout, or the job is missing from vmagent's config.", w, hn)
	exporter.CheckFirst = fmt.Sprintf("curl -s %s on %s; the exporter's systemd unit and its journal.", url, hn)
	switch j.Kind {
	case inventory.KindGitea:
		exporter.Title = fmt.Sprintf("%s: Gitea down (metrics endpoint not answering)", hn)
		exporter.Description = fmt.Sprintf("Gitea's own /metrics did not answer vmagent on %s (up is 0 or missing for %s): "+
			"Gitea or its container is down, or the metrics token was refused.", hn, w)
		exporter.CheckFirst = fmt.Sprintf("The Gitea container on %s (systemctl status container@...), then curl -s -H 'Authorization: Bearer <token>' %s.", hn, url)
	case inventory.KindNode:
		exporter.Title = fmt.Sprintf("%s: node_exporter down", hn)
	case inventory.KindGiteaRunners:
		exporter.Title = fmt.Sprintf("%s: gitea_runner_exporter down", hn)
	}
	rules := []Rule{exporter}

	serviceUp := func(metric, what, check string) Rule {
		r := base("service-down")
		r.Alert = "ServiceDown"
		r.Query = presentUp(sel(metric, "host", hn, "job", j.Name), up, w)
		r.Expr = "(" + r.Query + ") < 1"
		r.Title = fmt.Sprintf("%s: %s down", hn, name)
		r.Summary = fmt.Sprintf("%s on %s is down: %s is 0", name, hn, metric)
		r.Description = fmt.Sprintf("The exporter answers, but %s. A missing %s series while the exporter answers counts as down too.", what, metric)
		r.CheckFirst = check
		return r
	}
	switch j.Kind {
	case inventory.KindOpenLDAP:
		rules = append(rules, serviceUp("openldap_up",
			"slapd did not answer its cn=Monitor search in the last scrape",
			fmt.Sprintf("systemctl status slapd on %s; ldapsearch -H ldapi:/// -Y EXTERNAL -b cn=Monitor -s base.", hn)))
	case inventory.KindPostfix:
		rules = append(rules, serviceUp("postfix_up",
			"Postfix's showq service did not answer in the last scrape",
			fmt.Sprintf("systemctl status postfix on %s; postqueue -p; the master process in the mail log.", hn)))
	case inventory.KindDovecot:
		r := serviceUp("dovecot_probe_success",
			"a listener probe (IMAP, POP3, LMTP...) failed: Dovecot does not greet clients",
			fmt.Sprintf("systemctl status dovecot on %s; which probe failed: dovecot_probe_success{host=\"%s\"}; doveadm log errors.", hn, hn))
		r.Summary = fmt.Sprintf("Dovecot on %s does not answer a listener probe", hn)
		r.Description += " The exporter must run with at least one --probe."
		rules = append(rules, r)
		stats := serviceUp("dovecot_up",
			"Dovecot's stats socket did not answer, so its statistics are missing",
			fmt.Sprintf("The stats socket's path and permissions on %s (the exporter's --dovecot.stats-socket flag); doveadm stats dump.", hn))
		stats.UID = uid(h.Name, j.Name, "stats-down")
		stats.Check = "stats-down"
		stats.Alert = "DovecotStatsDown"
		stats.Title = fmt.Sprintf("%s: Dovecot statistics unavailable", hn)
		stats.Summary = fmt.Sprintf("Dovecot's stats socket on %s does not answer: dovecot_up is 0", hn)
		stats.Severity = "warning"
		rules = append(rules, stats)
	case inventory.KindWireGuard:
		rules = append(rules, serviceUp("wireguard_up",
			"it could not read the WireGuard devices",
			fmt.Sprintf("wg show on %s; the exporter's CAP_NET_ADMIN (kernel devices) or access to /var/run/wireguard (userspace).", hn)))
		wgUp := sel("wireguard_up", "host", hn, "job", j.Name)
		for _, ifc := range j.Interfaces {
			r := base("interface-down-" + ifc)
			r.Alert = "WireGuardInterfaceDown"
			r.Labels = map[string]string{"interface": ifc}
			r.Query = presentUp(sel("wireguard_device_present", "host", hn, "job", j.Name, "device", ifc), wgUp, w)
			r.Expr = "(" + r.Query + ") < 1"
			r.Title = fmt.Sprintf("%s: WireGuard interface %s down", hn, ifc)
			r.Summary = fmt.Sprintf("WireGuard interface %s is missing on %s", ifc, hn)
			r.Description = fmt.Sprintf("The exporter reads the WireGuard devices on %s, but %s is not among them "+
				"(wireguard_device_present is 0, or missing; run the exporter with --wireguard.interface %s).", hn, ifc, ifc)
			r.CheckFirst = fmt.Sprintf("wg show %s and systemctl status wg-quick-%s (or wireguard-%s) on %s.", ifc, ifc, ifc, hn)
			rules = append(rules, r)
		}
		r := base("handshake-stale")
		r.Alert = "WireGuardPeerHandshakeStale"
		r.Severity = "warning"
		r.Query = "time() - " + sel("wireguard_peer_last_handshake_seconds", "host", hn, "job", j.Name)
		r.Op, r.Value = "gt", float64(t.HandshakeMaxAge.Seconds())
		r.Expr = r.Query + " > " + strconv.FormatInt(t.HandshakeMaxAge.Seconds(), 10)
		r.Title = fmt.Sprintf("%s: WireGuard peer without handshake for %s", hn, t.HandshakeMaxAge)
		r.Summary = fmt.Sprintf("A WireGuard peer on %s has not completed a handshake for more than %s", hn, t.HandshakeMaxAge)
		r.Description = "The peer's last handshake is older than the host's handshake_max_age (or it never had one). " +
			"A peer with traffic or a persistent keepalive renews its handshake every two minutes."
		r.CheckFirst = fmt.Sprintf("wg show on %s: the peer's endpoint and latest handshake; is the peer online and is its endpoint reachable?", hn)
		rules = append(rules, r)
	case inventory.KindGiteaRunners:
		api := serviceUp("gitea_runner_up",
			"Gitea's API did not answer with the runner list",
			fmt.Sprintf("Gitea on %s (>= 1.24 for the runners API); the exporter's token file and its log.", hn))
		api.Title = fmt.Sprintf("%s: Gitea runner API not answering", hn)
		api.Summary = fmt.Sprintf("Gitea's runner API does not answer the exporter on %s: gitea_runner_up is 0", hn)
		rules = append(rules, api)
		runnerUp := sel("gitea_runner_up", "host", hn, "job", j.Name)
		nodeUp := sel("up", "host", hn, "job", inventory.KindNode)
		for _, rn := range j.Runners {
			r := base("runner-offline-" + rn.Name)
			r.Alert = "GiteaRunnerOffline"
			r.Severity = "warning"
			r.For = t.RunnerFor
			r.Labels = map[string]string{"runner": rn.Name}
			r.Query = presentUp(sel("gitea_actions_runner_online", "host", hn, "job", j.Name, "runner", rn.Name), runnerUp, w)
			r.Expr = "(" + r.Query + ") < 1"
			r.Title = fmt.Sprintf("%s: Gitea runner %s offline", hn, rn.Name)
			r.Summary = fmt.Sprintf("Gitea reports runner %s offline (or does not list it)", rn.Name)
			r.Description = "Gitea marks a runner offline when it has not been seen for over a minute; a deleted or " +
				"re-registered runner is missing from the list and counts as offline."
			r.CheckFirst = fmt.Sprintf("The runner's VM or service on %s and its log (act_runner daemon); Site Administration > Actions > Runners in Gitea.", hn)
			if rn.Unit != "" {
				r.CheckFirst = fmt.Sprintf("systemctl status %s on %s and its journal; Site Administration > Actions > Runners in Gitea.", rn.Unit, hn)
			}
			rules = append(rules, r)
			if rn.Unit == "" {
				continue
			}
			u := base("runner-unit-" + rn.Name)
			u.Alert = "GiteaRunnerUnitInactive"
			u.Severity = "warning"
			u.For = t.RunnerFor
			u.Labels = map[string]string{"runner": rn.Name, "unit": rn.Unit}
			u.Query = presentUp(sel("node_systemd_unit_state", "host", hn, "job", inventory.KindNode, "name", rn.Unit, "state", "active"), nodeUp, w)
			u.Expr = "(" + u.Query + ") < 1"
			u.Title = fmt.Sprintf("%s: runner unit %s not active", hn, rn.Unit)
			u.Summary = fmt.Sprintf("systemd unit %s of runner %s is not active on %s", rn.Unit, rn.Name, hn)
			u.Description = "node_exporter's systemd collector reports the unit in a state other than active, or does not " +
				"report it (node_exporter needs --collector.systemd)."
			u.CheckFirst = fmt.Sprintf("systemctl status %s and journalctl -u %s on %s.", rn.Unit, rn.Unit, hn)
			rules = append(rules, u)
		}
	case inventory.KindCustom:
		r := base("service-down")
		r.noMerge = true
		r.Alert = "ServiceDown"
		r.Query = "(" + j.Down + ") * 0 + 1"
		r.Op, r.Value = "gt", 0
		r.Expr = j.Down
		r.Title = fmt.Sprintf("%s: %s down", hn, name)
		r.Summary = fmt.Sprintf("%s on %s is down", name, hn)
		r.Description = "The job's down expression returns series: " + j.Down
		r.CheckFirst = fmt.Sprintf("The service behind job %s on %s and its exporter at %s.", j.Name, hn, url)
		rules = append(rules, r)
	}
	return rules
}
