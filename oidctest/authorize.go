package oidctest

import (
	"crypto/rand"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authRequest is a validated authorization request, kept while the login
// page is shown and then inside its authorization code.
type authRequest struct {
	clientID        string
	redirectURI     string
	state           string
	nonce           string
	scopes          []string
	resources       []string
	challenge       string
	challengeMethod string
	expiry          time.Time // of the pending login
}

type authCode struct {
	req    authRequest
	grant  grant
	expiry time.Time
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var form url.Values
	switch r.Method {
	case http.MethodGet:
		form = r.URL.Query()
	case http.MethodPost:
		var err error
		if form, err = parseForm(w, r, true); err != nil {
			s.errorPage(w, http.StatusBadRequest, err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "The authorization endpoint accepts GET and POST only.")
		return
	}
	form, msg := s.pushedForm(form)
	if msg != "" {
		s.errorPage(w, http.StatusBadRequest, msg)
		return
	}
	c, redirectURI, msg := s.checkClient(form)
	if msg != "" {
		// RFC 6749 §4.1.2.1: never redirect to an unverified URI.
		s.errorPage(w, http.StatusBadRequest, msg)
		return
	}
	// state goes back even with an invalid request, so the client can match
	// the error to its request; with a repeated state the first one is used.
	state := form.Get("state")
	req, err := newAuthRequest(form, c, redirectURI)
	if err != nil {
		s.redirectError(w, r, redirectURI, state, err)
		return
	}
	s.mu.Lock()
	fs, auto := s.faults, s.autoLogin
	s.mu.Unlock()
	switch {
	case fs.has(FaultAccessDenied):
		s.redirectError(w, r, redirectURI, state, accessDenied("the user denied the request (fault injected)"))
	case auto != "":
		s.approve(w, r, req, auto)
	case slices.Contains(strings.Fields(form.Get("prompt")), "none"):
		s.redirectError(w, r, redirectURI, state, &oauthError{code: "login_required", description: "prompt=none but no user is logged in (use AutoLogin)"})
	default:
		id := rand.Text()
		s.mu.Lock()
		req.expiry = s.nowLocked().Add(loginTTL)
		s.pending[id] = req
		s.sweepLocked()
		s.mu.Unlock()
		s.renderPage(w, http.StatusOK, "login", loginPage{ClientID: c.ID, Action: s.URL + pathLogin, RequestID: id, Users: s.demoUsers()})
	}
}

// checkClient validates client_id and redirect_uri, the two parameters that
// decide whether errors may be redirected. It returns a message for the
// error page when they are not acceptable.
func (s *Server) checkClient(form url.Values) (Client, string, string) {
	p, err := params(form, "client_id", "redirect_uri")
	if err != nil {
		return Client{}, "", err.Error()
	}
	if p["client_id"] == "" {
		return Client{}, "", "The request has no client_id."
	}
	c, ok := s.client(p["client_id"])
	if !ok {
		return Client{}, "", "Unknown client_id " + p["client_id"] + "."
	}
	redirectURI := p["redirect_uri"]
	if redirectURI == "" {
		return Client{}, "", "The request has no redirect_uri."
	}
	if !slices.Contains(c.RedirectURIs, redirectURI) {
		return Client{}, "", "The redirect_uri is not registered for client " + c.ID + "."
	}
	if !absoluteURL(redirectURI) {
		return Client{}, "", "The registered redirect_uri is not an absolute URL without fragment."
	}
	return c, redirectURI, ""
}

func newAuthRequest(form url.Values, c Client, redirectURI string) (*authRequest, error) {
	p, err := params(form, "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "prompt", "response_mode")
	if err != nil {
		return nil, err
	}
	switch p["response_type"] {
	case "code":
	case "":
		return nil, invalidRequest("response_type is required")
	default:
		return nil, &oauthError{code: "unsupported_response_type", description: "only response_type=code is supported"}
	}
	if m := p["response_mode"]; m != "" && m != "query" {
		return nil, invalidRequest("only response_mode=query is supported")
	}
	scopes := strings.Fields(p["scope"])
	if err := checkScopes(c, scopes); err != nil {
		return nil, err
	}
	method, challenge := p["code_challenge_method"], p["code_challenge"]
	switch {
	case challenge == "" && method != "":
		return nil, invalidRequest("code_challenge_method without code_challenge")
	case challenge == "":
	case method == "":
		method = "plain" // RFC 7636 §4.3
	case method != "S256" && method != "plain":
		return nil, invalidRequest("code_challenge_method must be S256 or plain")
	}
	if challenge != "" && !validPKCEString(challenge) {
		return nil, invalidRequest("code_challenge must be 43 to 128 unreserved characters")
	}
	resources, err := checkResources(form["resource"])
	if err != nil {
		return nil, err
	}
	return &authRequest{
		clientID:        c.ID,
		redirectURI:     redirectURI,
		state:           p["state"],
		nonce:           p["nonce"],
		scopes:          scopes,
		resources:       resources,
		challenge:       challenge,
		challengeMethod: method,
	}, nil
}

// checkScopes enforces Client.Scopes.
func checkScopes(c Client, scopes []string) error {
	if len(c.Scopes) == 0 {
		return nil
	}
	for _, sc := range scopes {
		if sc != "openid" && !slices.Contains(c.Scopes, sc) {
			return invalidScope("scope %q is not allowed for client %s", sc, c.ID)
		}
	}
	return nil
}

// checkResources validates RFC 8707 resource indicators.
func checkResources(rs []string) ([]string, error) {
	for _, r := range rs {
		if !absoluteURL(r) {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_target", description: "resource must be an absolute URI without fragment"}
		}
	}
	return slices.Clone(rs), nil
}

// validPKCEString checks the RFC 7636 syntax shared by code_verifier and
// code_challenge.
func validPKCEString(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

func accessDenied(desc string) error {
	return &oauthError{code: "access_denied", description: desc}
}

// approve ends a successful authorization: a new OP session for subject and
// a one-minute code, redirected back to the client.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req *authRequest, subject string) {
	code := rand.Text()
	s.mu.Lock()
	now := s.nowLocked()
	s.codes[code] = &authCode{
		req: *req,
		grant: grant{
			id:        rand.Text(),
			clientID:  req.clientID,
			subject:   subject,
			scopes:    req.scopes,
			resources: req.resources,
			sid:       rand.Text(),
			authTime:  now,
		},
		expiry: now.Add(codeTTL),
	}
	s.sweepLocked()
	s.mu.Unlock()
	v := url.Values{"code": {code}}
	if req.state != "" {
		v.Set("state", req.state)
	}
	s.redirectAuthResponse(w, r, req.redirectURI, v)
}

// redirectError sends an authorization error back to the client
// (RFC 6749 §4.1.2.1).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, err error) {
	e := &oauthError{code: "server_error", description: err.Error()}
	errors.As(err, &e)
	v := url.Values{"error": {e.code}, "error_description": {e.description}}
	if state != "" {
		v.Set("state", state)
	}
	s.redirectAuthResponse(w, r, redirectURI, v)
}

// redirectAuthResponse adds the RFC 9207 iss parameter, which every
// authorization response carries, and redirects.
func (s *Server) redirectAuthResponse(w http.ResponseWriter, r *http.Request, redirectURI string, v url.Values) {
	iss := s.URL
	if s.faultsNow().has(FaultWrongAuthResponseIssuer) {
		iss = WrongIssuerURL
	}
	v.Set("iss", iss)
	u, err := url.Parse(redirectURI)
	if err != nil {
		// checkClient accepted the URI, so this is a bug, not bad input.
		s.errorPage(w, http.StatusInternalServerError, "The redirect URI cannot be parsed.")
		return
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.errorPage(w, http.StatusMethodNotAllowed, "The login form must be submitted with POST.")
		return
	}
	form, err := parseForm(w, r, true)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	id := form.Get("request_id")
	if form.Get("action") == "deny" {
		req, ok := s.takePending(id)
		if !ok {
			s.errorPage(w, http.StatusBadRequest, loginExpired)
			return
		}
		s.redirectError(w, r, req.redirectURI, req.state, accessDenied("the user denied the request"))
		return
	}
	// A click on a demo user sends user; the field typed in is username.
	username := strings.TrimSpace(form.Get("user"))
	if username == "" {
		username = strings.TrimSpace(form.Get("username"))
	}
	subject, known := s.findUser(username)
	if !known {
		req, ok := s.peekPending(id)
		if !ok {
			s.errorPage(w, http.StatusBadRequest, loginExpired)
			return
		}
		msg := "Unknown user " + username + "."
		if username == "" {
			msg = "Enter a username."
		}
		// 200 with the form again: a typo is not a server error.
		s.renderPage(w, http.StatusOK, "login", loginPage{
			ClientID: req.clientID, Action: s.URL + pathLogin, RequestID: id, Username: username, Error: msg, Users: s.demoUsers(),
		})
		return
	}
	req, ok := s.takePending(id)
	if !ok {
		s.errorPage(w, http.StatusBadRequest, loginExpired)
		return
	}
	s.approve(w, r, req, subject)
}

const loginExpired = "This login request is unknown or has expired. Start again from the application."

func (s *Server) peekPending(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.pending[id]
	if !ok || !s.nowLocked().Before(req.expiry) {
		return nil, false
	}
	return req, true
}

// takePending removes the pending request so that a form submitted twice
// cannot yield two codes.
func (s *Server) takePending(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.pending[id]
	if !ok {
		return nil, false
	}
	delete(s.pending, id)
	return req, s.nowLocked().Before(req.expiry)
}

// findUser resolves a login name: the Subject, or else a user's
// preferred_username or (case-insensitively) email claim.
func (s *Server) findUser(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return name, true
	}
	for sub, u := range s.users {
		if pu, _ := u.Claims["preferred_username"].(string); pu == name {
			return sub, true
		}
		if email, _ := u.Claims["email"].(string); strings.EqualFold(email, name) {
			return sub, true
		}
	}
	return "", false
}

// maxListedUsers bounds the hint on the login page; a server with more users
// is not a demo.
const maxListedUsers = 10

// demoUsers lists the registered users by subject, sorted, for the login
// page.
func (s *Server) demoUsers() []demoUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.users) > maxListedUsers {
		return nil
	}
	var list []demoUser
	for _, sub := range slices.Sorted(maps.Keys(s.users)) {
		email, _ := s.users[sub].Claims["email"].(string)
		list = append(list, demoUser{Subject: sub, Email: email})
	}
	return list
}
