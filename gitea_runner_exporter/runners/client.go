// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package runners reads the state of Gitea Actions runners from Gitea's REST
// API (Gitea 1.24 and later) and turns it into Prometheus metrics.
package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Defaults of a Client.
const (
	// DefaultPageSize is Gitea's default [api] MAX_RESPONSE_ITEMS: asking
	// for more gets no more per page.
	DefaultPageSize = 50
	// maxPages stops a server that keeps answering full pages (or a
	// total_count that never comes true) from holding a scrape forever.
	maxPages = 1000
	// maxBody bounds one answer; a page of 50 runners is a few kilobytes.
	maxBody = 8 << 20
)

// Client lists the runners of one scope.
type Client struct {
	// BaseURL is Gitea's root URL, e.g. https://git.example.com/ or
	// http://localhost:3000/gitea/ behind a path prefix.
	BaseURL *url.URL
	Scope   Scope
	// HTTP sends the requests; nil means http.DefaultClient. Its deadline
	// comes from the context passed to List.
	HTTP *http.Client
	// Token returns the API token, read each time so that a rotated token
	// file needs no restart. Nil or "" sends no Authorization header.
	Token func() (string, error)
	// PageSize is the limit asked for per page; 0 means DefaultPageSize.
	PageSize int
	// UserAgent is sent with every request when set.
	UserAgent string
}

// StatusError is an answer other than 200 OK.
type StatusError struct {
	URL  string
	Code int
	// Message is Gitea's JSON "message" when it sent one.
	Message string
}

// Error implements error, with the hint for operators appended.
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		fmt.Fprintf(&b, " (%q)", e.Message)
	}
	if h := e.Hint(); h != "" {
		b.WriteString(": ")
		b.WriteString(h)
	}
	return b.String()
}

// Hint explains the likely cause of the status in operator terms.
func (e *StatusError) Hint() string {
	switch e.Code {
	case http.StatusUnauthorized:
		return "Gitea rejected the token: check --gitea.token-file (sent as \"Authorization: token <t>\")"
	case http.StatusForbidden:
		return "the token may not read this runner list: scope admin needs a site administrator's token, org: and repo: need an owner's or admin's token"
	case http.StatusNotFound:
		return "no runner list API here: Gitea older than 1.24 does not have it, or --gitea.url is not Gitea's root URL, or the org/repo in --gitea.scope does not exist"
	}
	return ""
}

// DecodeError is a 200 answer whose body is not a runner list.
type DecodeError struct {
	URL         string
	ContentType string
	Err         error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("GET %s: answer (Content-Type %q) is not a Gitea runner list: %v", e.URL, e.ContentType, e.Err)
}

// Unwrap returns the parse error.
func (e *DecodeError) Unwrap() error { return e.Err }

// List reads every page of the scope's runner list. A runner that shows up
// on two pages (the list moved while it was read) is kept once.
func (c *Client) List(ctx context.Context) ([]Runner, error) {
	token := ""
	if c.Token != nil {
		t, err := c.Token()
		if err != nil {
			return nil, err
		}
		token = t
	}
	size := c.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	var (
		all  []Runner
		seen = map[int64]bool{}
	)
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("runner list still not complete after %d pages of %d", maxPages, size)
		}
		p, err := c.page(ctx, token, page, size)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Runners {
			if !seen[r.ID] {
				seen[r.ID] = true
				all = append(all, r)
			}
		}
		switch {
		case len(p.Runners) == 0:
			// Past the end (or the list shrank while it was read).
			return all, nil
		case p.TotalCount >= 0 && int64(len(all)) >= p.TotalCount:
			return all, nil
		case p.TotalCount < 0 && len(p.Runners) < size:
			// No count at all: a short page is the last one.
			return all, nil
		}
	}
}

// pageURL is the URL of one page of the list.
func (c *Client) pageURL(page, size int) string {
	u := *c.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/" + c.Scope.path()
	u.RawPath = ""
	u.RawQuery = url.Values{
		"page":  {strconv.Itoa(page)},
		"limit": {strconv.Itoa(size)},
	}.Encode()
	u.Fragment = ""
	return u.String()
}

func (c *Client) page(ctx context.Context, token string, page, size int) (Page, error) {
	u := c.pageURL(page, size)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Page{}, withTimeout(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return Page{}, withTimeout(ctx, fmt.Errorf("GET %s: reading the answer: %w", u, err))
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, &StatusError{URL: u, Code: resp.StatusCode, Message: giteaMessage(body)}
	}
	ct := resp.Header.Get("Content-Type")
	if len(body) > maxBody {
		return Page{}, &DecodeError{URL: u, ContentType: ct, Err: fmt.Errorf("longer than %d bytes", maxBody)}
	}
	p, err := DecodePage(body)
	if err != nil {
		return Page{}, &DecodeError{URL: u, ContentType: ct, Err: err}
	}
	if p.TotalCount < 0 {
		// Gitea puts the count in the body; some versions and proxies
		// only send the header.
		if n, err := strconv.ParseInt(resp.Header.Get("X-Total-Count"), 10, 64); err == nil && n >= 0 {
			p.TotalCount = n
		}
	}
	return p, nil
}

// giteaMessage returns the "message" of Gitea's JSON error answers
// ({"message": "...", "url": "..."}), or "" for anything else.
func giteaMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if len(body) == 0 || json.Unmarshal(body, &m) != nil {
		return ""
	}
	const max = 200
	if len(m.Message) > max {
		return m.Message[:max] + "…"
	}
	return m.Message
}

// withTimeout says plainly that the scrape ran out of time when it did:
// net/http's own message for that is "context deadline exceeded".
func withTimeout(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the scrape timeout: %w", err)
	}
	return err
}

// IsTimeout reports whether err means the scrape's deadline passed.
func IsTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}
