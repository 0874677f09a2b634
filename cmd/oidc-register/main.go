// Command oidc-register registers this application with an OpenID Provider
// by OpenID Connect Dynamic Client Registration (RFC 7591) and writes the
// client_secrets.json that httpoidc (and Flask-OIDC) read:
//
//	oidc-register [flags] ISSUER REDIRECT_URI...
//
// For example:
//
//	oidc-register https://accounts.example.com https://app.example.com/authorize
//
// The file is written with mode 0600 and an existing file is kept unless
// -force is given. Install with
//
//	go install github.com/httpoidc/httpoidc/cmd/oidc-register@latest
//
// or, from a clone of the repository (where the module proxy is out of
// reach),
//
//	go install ./cmd/oidc-register
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/httpoidc/httpoidc"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	output         string
	force          bool
	clientName     string
	postLogoutURIs []string
	timeout        time.Duration
	// keyFile is the client's private key: with it the client registers
	// its public key (jwks) for private_key_jwt and gets no secret.
	keyFile string
}

// run executes the command and returns its exit code: 0 on success, 1 when
// registration failed, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("oidc-register", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var opts options
	flags.StringVar(&opts.output, "output", "client_secrets.json", "file to write")
	flags.BoolVar(&opts.force, "force", false, "overwrite the output file if it exists")
	flags.StringVar(&opts.clientName, "name", "", "client_name to register (default: the host of the first redirect URI)")
	flags.Func("post-logout-uri", "post_logout_redirect_uri to register, repeatable (default: <origin of the first redirect URI>/logout)", func(s string) error {
		opts.postLogoutURIs = append(opts.postLogoutURIs, s)
		return nil
	})
	flags.StringVar(&opts.keyFile, "key", "", "private key file (PEM or JWK) whose public key to register for private_key_jwt instead of a client secret; give it to the app as OIDC_CLIENT_KEY_FILE")
	flags.DurationVar(&opts.timeout, "timeout", 30*time.Second, "time limit for talking to the provider")
	version := flags.Bool("version", false, "print the version and exit")
	// Parse reports errors but leaves the help to us: asked for with -h,
	// it goes to stdout and is not an error.
	flags.Usage = func() {}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			flags.SetOutput(stdout)
			usage(flags)
			return 0
		}
		usage(flags)
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, "oidc-register", moduleVersion())
		return 0
	}
	if flags.NArg() < 2 {
		usage(flags)
		return 2
	}
	issuer, redirectURIs := flags.Arg(0), flags.Args()[1:]
	if err := checkURLs(append([]string{issuer}, redirectURIs...)); err != nil {
		fmt.Fprintln(stderr, "oidc-register:", err)
		return 2
	}
	if !opts.force {
		if _, err := os.Stat(opts.output); err == nil {
			fmt.Fprintf(stderr, "oidc-register: %s already exists; use -force to overwrite it\n", opts.output)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	secrets, err := register(ctx, &http.Client{}, issuer, redirectURIs, opts)
	if err != nil {
		fmt.Fprintln(stderr, "oidc-register:", err)
		return 1
	}
	if err := writeSecrets(opts.output, secrets, opts.force); err != nil {
		fmt.Fprintln(stderr, "oidc-register:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Registered client %s at %s; wrote %s\n", secrets.ClientID, secrets.Issuer, opts.output)
	return 0
}

// usage describes the command on the flag set's output.
func usage(flags *flag.FlagSet) {
	fmt.Fprint(flags.Output(), `usage: oidc-register [flags] ISSUER REDIRECT_URI...

oidc-register registers a web application with an OpenID Provider by
Dynamic Client Registration (RFC 7591) and writes the client_secrets.json
that httpoidc (and Flask-OIDC) read. ISSUER is the provider's issuer URL;
each REDIRECT_URI is where the provider sends users back after login, the
application's /authorize. <origin>/logout is registered as the
post-logout redirect URI unless -post-logout-uri says otherwise.

The provider must allow open registration: Keycloak, Auth0 and Okta
switch it on per realm or tenant; Google and Entra ID do not offer it.

Example, for an Auth0 tenant with Dynamic Client Registration enabled:

  oidc-register https://dev-example.eu.auth0.com/ https://app.example.com/authorize

Flags:
`)
	flags.PrintDefaults()
}

// moduleVersion is the version of httpoidc this binary was built from:
// a release for go install ...@version, (devel) from a clone.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "(unknown)"
	}
	return info.Main.Version
}

func checkURLs(urls []string) error {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%q is not an absolute http(s) URL", raw)
		}
	}
	return nil
}

// register discovers the provider and registers a confidential web client.
func register(ctx context.Context, client *http.Client, issuer string, redirectURIs []string, opts options) (*httpoidc.ClientSecrets, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", issuer, err)
	}
	var meta struct {
		Issuer               string `json:"issuer"`
		AuthURL              string `json:"authorization_endpoint"`
		TokenURL             string `json:"token_endpoint"`
		UserInfoURL          string `json:"userinfo_endpoint"`
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("reading the discovery document of %s: %w", issuer, err)
	}
	if meta.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("%s does not support dynamic client registration (no registration_endpoint); register the client by hand and write client_secrets.json yourself", issuer)
	}
	first, _ := url.Parse(redirectURIs[0])
	name := opts.clientName
	if name == "" {
		name = first.Host
	}
	postLogout := opts.postLogoutURIs
	if len(postLogout) == 0 {
		postLogout = []string{first.Scheme + "://" + first.Host + "/logout"}
	}
	metadata := map[string]any{
		"application_type":           "web",
		"client_name":                name,
		"redirect_uris":              redirectURIs,
		"post_logout_redirect_uris":  postLogout,
		"response_types":             []string{"code"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "client_secret_post",
	}
	if opts.keyFile != "" {
		key, kid, err := httpoidc.LoadPrivateKey(opts.keyFile)
		if err != nil {
			return nil, err
		}
		// Only the public half leaves the machine, with the kid httpoidc
		// will put in its assertions.
		metadata["token_endpoint_auth_method"] = httpoidc.AuthPrivateKeyJWT
		metadata["jwks"] = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Use: "sig"}}}
	}
	body, _ := json.Marshal(metadata)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("registering at %s: %w", meta.RegistrationEndpoint, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the registration response: %w", err)
	}
	var registered struct {
		ClientID         string `json:"client_id"`
		ClientSecret     string `json:"client_secret"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(answer, &registered)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		if registered.Error != "" {
			return nil, fmt.Errorf("the provider refused the registration: %s: %s", registered.Error, registered.ErrorDescription)
		}
		return nil, fmt.Errorf("the provider refused the registration: %s", resp.Status)
	}
	if registered.ClientID == "" || (registered.ClientSecret == "" && opts.keyFile == "") {
		return nil, errors.New("the provider's registration response has no client_id or client_secret")
	}
	return &httpoidc.ClientSecrets{
		ClientID:     registered.ClientID,
		ClientSecret: registered.ClientSecret,
		Issuer:       meta.Issuer,
		AuthURI:      meta.AuthURL,
		TokenURI:     meta.TokenURL,
		UserInfoURI:  meta.UserInfoURL,
		RedirectURIs: redirectURIs,
	}, nil
}

// writeSecrets writes the Flask-OIDC document with mode 0600. Without force
// it fails if the file exists, even if it appeared during registration.
func writeSecrets(path string, secrets *httpoidc.ClientSecrets, force bool) error {
	doc, err := json.MarshalIndent(map[string]any{"web": secrets}, "", "  ")
	if err != nil {
		return err
	}
	doc = append(doc, '\n')
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write(doc); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".client_secrets-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(doc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
