package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// maxPages bounds a walk through the provider's pages, so that a page that
// keeps coming back fails instead of looping.
const maxPages = 10

// Login signs in at the provider with a plain http.Client, the way a person
// would in a browser: it GETs startURL (typically an app URL that redirects to
// the provider, or an authorization URL), fills in the login form, submits the
// consent form if one is shown, and follows redirects until a response comes
// from outside the provider. That response is returned with its body unread.
//
// client must have a cookie jar, since the provider keeps the login in
// cookies. If client does not follow redirects, Login follows those within
// the provider and returns the redirect that leaves it, e.g. to the
// redirect_uri with the code.
// A rejected password or an error page of the provider is an error.
func (p *Provider) Login(ctx context.Context, client *http.Client, startURL, username, password string) (*http.Response, error) {
	logins := 0
	resp, left, err := p.walk(ctx, client, startURL, func(f *htmlForm) error {
		if !f.fields.Has("password") {
			return nil
		}
		if logins++; logins > 1 {
			return errors.New("testenv: login rejected: invalid username or password")
		}
		f.fields.Set("username", username)
		f.fields.Set("password", password)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !left {
		defer resp.Body.Close()
		return nil, fmt.Errorf("testenv: login stopped at %s (%s): %s", resp.Request.URL, resp.Status, pageText(resp))
	}
	return resp, nil
}

// ConfirmLogout GETs startURL (the provider's end_session URL, or an app URL
// that redirects there) and answers "Yes, sign me out" on the confirmation
// page. It returns the first response from outside the provider (the
// post_logout_redirect_uri) or, when there is none, the provider's
// signed-out page, with its body unread. client must have a cookie jar.
func (p *Provider) ConfirmLogout(ctx context.Context, client *http.Client, startURL string) (*http.Response, error) {
	resp, _, err := p.walk(ctx, client, startURL, func(f *htmlForm) error {
		if f.fields.Has("password") {
			return errors.New("testenv: expected a logout confirmation, got a login form")
		}
		if f.id == "op.logoutForm" {
			f.fields.Set("logout", "yes")
		}
		return nil
	})
	return resp, err
}

// walk GETs startURL and, while on the provider, submits the first form of
// each page after fill has had its say. It returns the first response from
// outside the provider or a redirect there (left is true then), or a
// provider page without a form.
func (p *Provider) walk(ctx context.Context, client *http.Client, startURL string, fill func(*htmlForm) error) (resp *http.Response, left bool, err error) {
	if client.Jar == nil {
		return nil, false, errors.New("testenv: the http.Client needs a cookie jar")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, false, err
	}
	// The walk starts as a user typing the URL: browsers say so with Fetch
	// Metadata, which httpoidc's /logout needs to log out without asking.
	req.Header.Set("Sec-Fetch-Site", "none")
	for range maxPages {
		if resp, err = client.Do(req); err != nil {
			return nil, false, err
		}
		if !p.owns(resp.Request.URL) {
			return resp, true, nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, false, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if loc, err := resp.Location(); err == nil && resp.StatusCode/100 == 3 {
			if !p.owns(loc) {
				// client does not follow redirects: its caller wants
				// the redirect itself, e.g. to read the code off it.
				return resp, true, nil
			}
			if req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil); err != nil {
				return nil, false, err
			}
			continue
		}
		forms := parseForms(body)
		if len(forms) == 0 {
			return resp, false, nil
		}
		f := forms[0]
		if err := fill(&f); err != nil {
			return nil, false, err
		}
		if req, err = f.request(ctx, resp.Request.URL); err != nil {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("testenv: still on the provider after %d pages", maxPages)
}

// htmlForm is a form of one of the provider's pages, with the values its
// inputs would submit.
type htmlForm struct {
	id, method, action string
	fields             url.Values
}

// request builds the request that submitting f from page base sends.
func (f *htmlForm) request(ctx context.Context, base *url.URL) (*http.Request, error) {
	target, err := base.Parse(f.action)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(f.method, http.MethodPost) {
		target.RawQuery = f.fields.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(f.fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// parseForms reads the forms of a page. Regular expressions suffice because
// the pages are small and known: interop/server.mjs writes them, and
// oidc-provider's form_post page is a single form of hidden inputs.
func parseForms(page []byte) []htmlForm {
	formRE := regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE := regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	var forms []htmlForm
	for _, m := range formRE.FindAllSubmatch(page, -1) {
		a := attributes(m[1])
		f := htmlForm{id: a["id"], method: a["method"], action: a["action"], fields: url.Values{}}
		for _, in := range inputRE.FindAllSubmatch(m[2], -1) {
			ia := attributes(in[1])
			if name := ia["name"]; name != "" {
				f.fields.Add(name, ia["value"])
			}
		}
		forms = append(forms, f)
	}
	return forms
}

// attributes parses the attributes of one tag, unescaping their values.
func attributes(tag []byte) map[string]string {
	attrRE := regexp.MustCompile(`([a-zA-Z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	attrs := map[string]string{}
	for _, m := range attrRE.FindAllSubmatch(tag, -1) {
		attrs[strings.ToLower(string(m[1]))] = html.UnescapeString(string(m[2]) + string(m[3]) + string(m[4]))
	}
	return attrs
}

// pageText returns the visible text of a response, shortened, for error messages.
func pageText(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	text := regexp.MustCompile(`(?s)<style.*?</style>|<script.*?</script>|<[^>]*>`).ReplaceAll(body, []byte(" "))
	s := strings.Join(strings.Fields(html.UnescapeString(string(text))), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
