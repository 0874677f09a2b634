package testenv_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

// backend answers with the headers a front proxy added.
func backend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHAProxyTerminatesTLSWithTestCertificate(t *testing.T) {
	srv := backend(t)
	cert := testenv.NewTestCertificate(t)
	front := testenv.FreeAddress(t)
	testenv.StartHAProxy(t, `
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend tls
    bind `+front+` ssl crt `+cert.PEMFile+`
    http-request set-header X-Forwarded-Proto https
    default_backend app
backend app
    server app `+strings.TrimPrefix(srv.URL, "http://")+`
`, front)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.ClientTLS()}}
	resp, err := client.Get("https://" + front + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "proto=https", string(body))
	require.Equal(t, cert.Certificate.Raw, resp.TLS.PeerCertificates[0].Raw)
}

func TestNginxProxies(t *testing.T) {
	srv := backend(t)
	front := testenv.FreeAddress(t)
	testenv.StartNginx(t, `
events {}
http {
    access_log off;
    server {
        listen `+front+`;
        location / {
            proxy_set_header X-Forwarded-Proto nginx;
            proxy_pass `+srv.URL+`;
        }
    }
}
`, front)
	resp, err := http.Get("http://" + front + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "proto=nginx", string(body))
}
