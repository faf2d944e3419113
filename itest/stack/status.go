// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/smtp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/dovecot"
	"github.com/downwatch/downwatch/itest/daemon/postfix"
	"github.com/downwatch/downwatch/itest/daemon/victoria"
)

// Row is one line of the demo's table: what VictoriaMetrics holds about a
// service and what vmalert thinks of it.
type Row struct {
	Service    string
	Host       string
	ExporterUp string // up{job}: "1", "0", or "-" for no recent sample
	ServiceUp  string // the exporter's own view of its service
	Alert      string // "ok", or "firing: Name" / "pending: Name", comma-joined
}

// rowSpec says where a row's values come from. Alerts match when every
// label in match is equal; a row without a more specific label excludes
// alerts that carry one (the interface and runner rows own those).
type rowSpec struct {
	service, host, job string
	serviceExpr        string
	match              map[string]string
}

func (s *Stack) rowSpecs() []rowSpec {
	w := s.Timing.AbsentAfter.String()
	lo := func(sel string) string { return "last_over_time(" + sel + "[" + w + "])" }
	specs := []rowSpec{
		{"OpenLDAP (slapd)", HostMail, JobOpenLDAP, lo(`openldap_up{job="openldap"}`), map[string]string{"service": JobOpenLDAP}},
		{"Postfix", HostMail, JobPostfix, lo(`postfix_up{job="postfix"}`), map[string]string{"service": JobPostfix}},
		{"Dovecot", HostMail, JobDovecot, "min(" + lo(`dovecot_probe_success{job="dovecot"}`) + ")", map[string]string{"service": JobDovecot}},
		{"WireGuard", HostFW, JobWireGuard, lo(`wireguard_up{job="wireguard"}`), map[string]string{"service": JobWireGuard, "interface": ""}},
	}
	for _, d := range []string{s.WG.A.Name, s.WG.B.Name} {
		specs = append(specs, rowSpec{"  interface " + d, HostFW, JobWireGuard,
			lo(`wireguard_device_present{job="wireguard",device="` + d + `"}`),
			map[string]string{"service": JobWireGuard, "interface": d}})
	}
	specs = append(specs, rowSpec{"Gitea runner API", HostFW, JobGiteaRunners, lo(`gitea_runner_up{job="gitea_runners"}`),
		map[string]string{"service": JobGiteaRunners, "runner": ""}})
	for _, r := range Runners {
		specs = append(specs, rowSpec{"  runner " + r, HostFW, JobGiteaRunners,
			lo(`gitea_actions_runner_online{job="gitea_runners",runner="` + r + `"}`),
			map[string]string{"service": JobGiteaRunners, "runner": r}})
	}
	for _, h := range Hosts {
		specs = append(specs, rowSpec{"vmagent", h, "", `count(` + lo(`up{host="`+h+`"}`) + `) > bool 0`,
			map[string]string{"service": "vmagent", "host": h}})
	}
	return specs
}

// Status queries VictoriaMetrics and vmalert for the table. A value is "-"
// when no sample came within the host's absent_after window.
func (s *Stack) Status(ctx context.Context) ([]Row, error) {
	alerts, aerr := s.Alert.Alerts(ctx)
	var rows []Row
	var errs []error
	if aerr != nil {
		errs = append(errs, aerr)
	}
	one := func(expr string) string {
		res, err := s.VM.Query(ctx, expr)
		if err != nil {
			errs = append(errs, err)
			return "?"
		}
		if len(res) == 0 {
			return "-"
		}
		return strconv.FormatFloat(res[0].Value, 'g', -1, 64)
	}
	w := s.Timing.AbsentAfter.String()
	for _, sp := range s.rowSpecs() {
		r := Row{Service: sp.service, Host: sp.host, ExporterUp: "n/a", ServiceUp: one(sp.serviceExpr), Alert: "ok"}
		if sp.job != "" {
			r.ExporterUp = one(`last_over_time(up{host="` + sp.host + `",job="` + sp.job + `"}[` + w + `])`)
		} else if r.ServiceUp == "-" {
			r.ServiceUp = "0"
		}
		if aerr != nil {
			r.Alert = "?"
		} else if a := matching(alerts, sp.host, sp.match); len(a) > 0 {
			r.Alert = strings.Join(a, ", ")
		}
		rows = append(rows, r)
	}
	return rows, errors.Join(errs...)
}

// matching lists the alerts of a row as "state: name", firing first.
func matching(alerts []victoria.Alert, host string, match map[string]string) []string {
	var out []string
	for _, a := range alerts {
		if a.Labels["host"] != host {
			continue
		}
		ok := true
		for k, v := range match {
			if a.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, a.State+": "+a.Name)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		fi, fj := strings.HasPrefix(out[i], "firing"), strings.HasPrefix(out[j], "firing")
		if fi != fj {
			return fi
		}
		return out[i] < out[j]
	})
	return slices.Compact(out)
}

// FormatTable renders rows as a fixed-width text table.
func FormatTable(rows []Row) string {
	head := Row{"SERVICE", "HOST", "EXPORTER UP", "SERVICE UP", "ALERT"}
	all := append([]Row{head}, rows...)
	width := [5]int{}
	cells := func(r Row) [5]string { return [5]string{r.Service, r.Host, r.ExporterUp, r.ServiceUp, r.Alert} }
	for _, r := range all {
		for i, c := range cells(r) {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range all {
		c := cells(r)
		for i := range c {
			if i == len(c)-1 {
				b.WriteString(c[i])
				break
			}
			fmt.Fprintf(&b, "%-*s  ", width[i], c[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// URLs lists what a person can open in a browser, by name.
func (s *Stack) URLs() map[string]string {
	u := map[string]string{
		"VictoriaMetrics UI (vmui)": s.VM.URL + "/vmui/",
		"vmalert alerts":            s.Alert.URL + "/vmalert/alerts",
		"vmalert groups (rules)":    s.Alert.URL + "/vmalert/groups",
		"Gitea runner API (fake)":   s.Gitea.URL + "api/v1/admin/actions/runners",
	}
	for _, h := range Hosts {
		u["vmagent "+h+" targets"] = s.Agents[h].URL + "/targets"
	}
	for _, e := range s.Exporters {
		u[e.Name] = "http://" + e.Addr + "/"
	}
	return u
}

// SortedURLs is URLs as "name  url" lines in name order.
func (s *Stack) SortedURLs() []string {
	u := s.URLs()
	keys := slices.Sorted(maps.Keys(u))
	w := 0
	for _, k := range keys {
		w = max(w, len(k))
	}
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%-*s  %s", w, k, u[k])
	}
	return lines
}

// Traffic does one round of real use: a mail through Postfix's smtpd, an
// IMAP login with a mailbox select on Dovecot, an LDAP write on slapd, and
// an echo through the WireGuard tunnel. It returns every failure.
func (s *Stack) Traffic(ctx context.Context) error {
	var errs []error
	msg := fmt.Sprintf("From: demo@%s\r\nTo: %s\r\nSubject: downwatch traffic %s\r\n\r\nhello\r\n",
		postfix.Domain, postfix.Mailbox, time.Now().UTC().Format(time.RFC3339))
	if err := smtp.SendMail(s.Postfix.SMTPAddr, nil, "demo@"+postfix.Domain, []string{postfix.Mailbox}, []byte(msg)); err != nil {
		errs = append(errs, fmt.Errorf("smtp: %w", err))
	}
	u := dovecot.DefaultUsers[0]
	if ok, err := s.Dovecot.IMAPLogin(u.Name, u.Password); err != nil || !ok {
		errs = append(errs, fmt.Errorf("imap login %s: ok=%v: %v", u.Name, ok, err))
	}
	if err := s.Slapd.Touch(ctx); err != nil {
		errs = append(errs, fmt.Errorf("ldap: %w", err))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.WG.Ping(pctx, 512); err != nil {
		errs = append(errs, fmt.Errorf("tunnel: %w", err))
	}
	return errors.Join(errs...)
}
