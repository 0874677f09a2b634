package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// FreeAddress returns a loopback address, "127.0.0.1:PORT", whose port was
// free a moment ago, for peers that cannot pick a free port themselves.
func FreeAddress(t testing.TB) string {
	t.Helper()
	addr, err := freePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return addr
}

// TestCertificate is a self-signed certificate for 127.0.0.1 and
// localhost, made for one test.
type TestCertificate struct {
	// PEMFile holds the certificate followed by its private key, as
	// HAProxy's "crt" and nginx's ssl_certificate(_key) take them.
	PEMFile string
	// Pool trusts the certificate, for an http.Client's tls.Config.
	Pool *x509.CertPool
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
}

// ClientTLS returns a TLS configuration that trusts only c.
func (c *TestCertificate) ClientTLS() *tls.Config { return &tls.Config{RootCAs: c.Pool} }

// NewTestCertificate makes a self-signed ECDSA certificate valid for an
// hour for 127.0.0.1, ::1 and localhost, and writes it with its key to a
// file in the test's temporary directory.
func NewTestCertificate(t testing.TB) *TestCertificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "httpoidc test"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(t.TempDir(), "test-cert.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &TestCertificate{PEMFile: path, Pool: pool, Certificate: cert}
}

// StartHAProxy runs Debian's haproxy in the foreground with config (a
// complete haproxy.cfg without "daemon", chroot or user settings), waits
// until every address in listen accepts connections and stops it when the
// test ends.
func StartHAProxy(t testing.TB, config string, listen ...string) {
	t.Helper()
	bin := lookTool(t, "haproxy", "apt-get install -y haproxy")
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("testenv: haproxy refuses the configuration: %v\n%s\n%s", err, out, config)
	}
	startServer(t, "haproxy", exec.Command(bin, "-db", "-f", path), listen)
}

// StartNginx runs Debian's nginx in the foreground with config, the body
// of an nginx.conf without "daemon", "pid" or "error_log" (the helper sets
// them, in a temporary directory that is also nginx's prefix), waits until
// every address in listen accepts connections and stops it when the test
// ends.
func StartNginx(t testing.TB, config string, listen ...string) {
	t.Helper()
	bin := lookTool(t, "nginx", "apt-get install -y nginx")
	dir := t.TempDir()
	full := "daemon off;\npid " + filepath.Join(dir, "nginx.pid") + ";\nerror_log stderr notice;\n" + config
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	args := []string{"-p", dir, "-c", path, "-e", "stderr"}
	if out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: nginx refuses the configuration: %v\n%s\n%s", err, out, full)
	}
	startServer(t, "nginx", exec.Command(bin, args...), listen)
}

// startServer starts cmd and waits until it accepts connections on every
// address of listen.
func startServer(t testing.TB, name string, cmd *exec.Cmd, listen []string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	proc, err := startProcess(cmd)
	if err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		proc.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	for _, addr := range listen {
		err := proc.waitFor(ctx, func(ctx context.Context) error {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				conn.Close()
			}
			return err
		})
		if err != nil {
			t.Fatalf("testenv: %s does not accept connections on %s: %v\n%s", name, addr, err, out.String())
		}
	}
}
