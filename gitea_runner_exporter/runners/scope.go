// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind says which of Gitea's three runner lists a Scope reads.
type Kind int

// The runner lists of Gitea 1.24 and later.
const (
	Admin Kind = iota // every runner of the instance; needs a site admin's token
	Org               // runners registered to one organisation (or user)
	Repo              // runners registered to one repository
)

// Scope is a parsed --gitea.scope value.
type Scope struct {
	Kind  Kind
	Owner string // organisation, or the repository's owner
	Repo  string // repository name, for Kind Repo only
}

// Gitea allows letters, digits, '-', '_' and '.' in user, organisation and
// repository names; anything else would change the request path.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s name", what)
	}
	if s == "." || s == ".." || !namePattern.MatchString(s) {
		return fmt.Errorf("%s name %q: only letters, digits, '-', '_' and '.' are allowed", what, s)
	}
	return nil
}

// ParseScope reads "admin", "org:NAME" or "repo:OWNER/NAME".
func ParseScope(s string) (Scope, error) {
	kind, rest, found := strings.Cut(s, ":")
	switch {
	case s == "admin":
		return Scope{Kind: Admin}, nil
	case found && kind == "org":
		if err := checkName("organisation", rest); err != nil {
			return Scope{}, err
		}
		return Scope{Kind: Org, Owner: rest}, nil
	case found && kind == "repo":
		owner, repo, ok := strings.Cut(rest, "/")
		if !ok {
			return Scope{}, fmt.Errorf("%q: want repo:OWNER/NAME", s)
		}
		if err := checkName("owner", owner); err != nil {
			return Scope{}, err
		}
		if err := checkName("repository", repo); err != nil {
			return Scope{}, err
		}
		return Scope{Kind: Repo, Owner: owner, Repo: repo}, nil
	}
	return Scope{}, fmt.Errorf("want admin, org:NAME or repo:OWNER/NAME, got %q", s)
}

// String gives the scope back in the flag's syntax.
func (s Scope) String() string {
	switch s.Kind {
	case Org:
		return "org:" + s.Owner
	case Repo:
		return "repo:" + s.Owner + "/" + s.Repo
	}
	return "admin"
}

// path is the API path of the scope's runner list, below /api/v1/.
func (s Scope) path() string {
	switch s.Kind {
	case Org:
		return "orgs/" + url.PathEscape(s.Owner) + "/actions/runners"
	case Repo:
		return "repos/" + url.PathEscape(s.Owner) + "/" + url.PathEscape(s.Repo) + "/actions/runners"
	}
	return "admin/actions/runners"
}
