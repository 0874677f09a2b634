// Package bench measures oidc-proxy side by side with oauth2-proxy, the
// program it replaces, and (tokens_test.go) httpoidc's request paths beside
// the Go libraries for the same jobs. It is a module of its own so that oauth2-proxy
// never becomes a dependency of httpoidc: go.mod pins oauth2-proxy v7.15.6
// as a tool, built from the Go module proxy.
//
//	cd bench && go test -run '^$' -bench . -benchtime 20s
//
// Each proxy runs as its own process in front of the same upstream, logged
// in to the same oidctest provider, with cookie sessions and with Redis
// sessions. Each benchmark reports requests per second (req/s), the 99th
// percentile latency (p99-ms) and the proxy's resident memory after the
// run (rss-MiB).
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httpoidc/httpoidc/internal/testenv"
	"github.com/httpoidc/httpoidc/oidctest"
)

// cookieSecret is 32 bytes, as both proxies accept.
const cookieSecret = "0123456789abcdef0123456789abcdef"

// proxyProgram is how one of the compared proxies is built and started.
type proxyProgram struct {
	name string
	pkg  string
	// args are the flags for a proxy at addr; redisURL is empty for
	// cookie sessions.
	args func(addr, issuer, upstream, redisURL string) []string
}

var programs = []proxyProgram{
	{
		name: "oidc-proxy",
		pkg:  "github.com/httpoidc/httpoidc/cmd/oidc-proxy",
		args: func(addr, issuer, upstream, redisURL string) []string {
			args := commonArgs(addr, issuer, upstream)
			if redisURL != "" {
				args = append(args, "--redis-url="+redisURL)
			}
			return args
		},
	},
	{
		name: "oauth2-proxy",
		pkg:  "github.com/oauth2-proxy/oauth2-proxy/v7",
		args: func(addr, issuer, upstream, redisURL string) []string {
			// Request logs off: oidc-proxy leaves them to HAProxy or nginx,
			// and writing them is not what is being compared.
			args := append(commonArgs(addr, issuer, upstream), "--request-logging=false", "--code-challenge-method=S256")
			if redisURL != "" {
				args = append(args, "--session-store-type=redis", "--redis-connection-url="+redisURL)
			}
			return args
		},
	},
}

// commonArgs are the flags both proxies take under the same names.
func commonArgs(addr, issuer, upstream string) []string {
	return []string{
		"--provider=oidc", "--oidc-issuer-url=" + issuer, "--client-id=proxy", "--client-secret=proxy-secret",
		"--http-address=" + addr, "--upstream=" + upstream + "/", "--redirect-url=http://" + addr + "/oauth2/callback",
		"--cookie-secret=" + cookieSecret, "--cookie-secure=false", "--email-domain=*",
		"--skip-provider-button=true", "--pass-access-token=true", "--pass-user-headers=true",
	}
}

// build compiles the program into dir once per run.
func build(b *testing.B, dir string, p proxyProgram) string {
	b.Helper()
	bin := filepath.Join(dir, p.name)
	cmd := exec.Command("go", "build", "-o", bin, p.pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", p.pkg, err, out)
	}
	return bin
}

// running is a started proxy process.
type running struct {
	cmd    *exec.Cmd
	origin string
	out    *syncBuffer
}

func start(b *testing.B, bin string, args []string, addr string) *running {
	b.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	b.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not listen on %s:\n%s", bin, addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &running{cmd: cmd, origin: "http://" + addr, out: out}
}

// rssMiB reads the process's resident memory now and at its peak.
func (r *running) rssMiB(b *testing.B) (now, peak float64) {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("%v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			now = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return now, peak
}

// client returns a logged-in client for the proxy: it follows the login
// through oidctest (AutoLogin) and checks that the upstream answered.
func (r *running) client(b *testing.B, transport http.RoundTripper) *http.Client {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second}
	resp, err := c.Get(r.origin + "/login-first")
	if err != nil {
		b.Fatalf("login through %s: %v\n%s", r.origin, err, r.out.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello alice@example.com" {
		b.Fatalf("login through %s ended with %s: %q\n%s", r.origin, resp.Status, body, r.out.String())
	}
	// From now on only the session cookie goes: no redirect is followed.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// BenchmarkProxies measures each proxy with cookie and Redis sessions, in
// one run against the same provider and upstream.
func BenchmarkProxies(b *testing.B) {
	dir := b.TempDir()
	op := oidctest.NewServer(oidctest.WithLogger(slog.New(slog.DiscardHandler)))
	b.Cleanup(op.Close)
	op.AddUser(oidctest.User{Subject: "alice", Claims: map[string]any{"email": "alice@example.com", "email_verified": true}})
	op.AutoLogin("alice")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.Header.Get("X-Forwarded-Email"))
	}))
	b.Cleanup(upstream.Close)
	redisAddr := testenv.StartRedis(b)
	redisURL := "redis://" + redisAddr + "/0"

	type target struct {
		name string
		run  *running
	}
	var targets []target
	var redirects []string
	addrs := map[string]string{}
	for _, store := range []string{"cookie", "redis"} {
		for _, p := range programs {
			name := p.name + "/" + store
			addrs[name] = testenv.FreeAddress(b)
			redirects = append(redirects, "http://"+addrs[name]+"/oauth2/callback")
		}
	}
	op.AddClient(oidctest.Client{ID: "proxy", Secret: "proxy-secret", RedirectURIs: redirects})
	for _, p := range programs {
		bin := build(b, dir, p)
		for _, store := range []string{"cookie", "redis"} {
			name := p.name + "/" + store
			url := ""
			if store == "redis" {
				url = redisURL
			}
			targets = append(targets, target{name, start(b, bin, p.args(addrs[name], op.URL, upstream.URL, url), addrs[name])})
		}
	}
	// Interleave the programs, so that neither always runs on a warmer or
	// a busier machine.
	slices.SortStableFunc(targets, func(a, c target) int {
		return strings.Compare(a.name[strings.Index(a.name, "/"):], c.name[strings.Index(c.name, "/"):])
	})
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			transport := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
			defer transport.CloseIdleConnections()
			client := tg.run.client(b, transport)
			var mu sync.Mutex
			var latencies []time.Duration
			commandsBefore := redisCommands(b, redisAddr)
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				own := make([]time.Duration, 0, 1024)
				ctx := context.Background()
				for pb.Next() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.run.origin+"/bench", nil)
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					own = append(own, time.Since(t0))
					if resp.StatusCode != http.StatusOK {
						b.Errorf("%s answered %s", tg.name, resp.Status)
						return
					}
				}
				mu.Lock()
				latencies = append(latencies, own...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(latencies)
			if len(latencies) > 0 {
				p99 := latencies[(len(latencies)*99)/100]
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			if strings.HasSuffix(tg.name, "/redis") {
				b.ReportMetric(float64(redisCommands(b, redisAddr)-commandsBefore)/float64(b.N), "redis-cmds/op")
			}
			rss, peak := tg.run.rssMiB(b)
			b.ReportMetric(rss, "rss-MiB")
			b.ReportMetric(peak, "peak-rss-MiB")
		})
	}
}

// redisCommands returns how many commands Redis has run, from INFO
// commandstats, spoken in plain RESP.
func redisCommands(b *testing.B, addr string) int {
	b.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		b.Fatalf("redis: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "INFO commandstats\r\n"); err != nil {
		b.Fatalf("redis: %v", err)
	}
	r := bufio.NewReader(conn)
	header, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(header, "$") {
		b.Fatalf("redis: INFO answered %q: %v", header, err)
	}
	size, _ := strconv.Atoi(strings.TrimSpace(header[1:]))
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		b.Fatalf("redis: %v", err)
	}
	total := 0
	for line := range strings.SplitSeq(string(body), "\n") {
		// cmdstat_get:calls=12,usec=...
		_, stats, found := strings.Cut(line, ":calls=")
		if !found || strings.HasPrefix(line, "cmdstat_info") {
			continue
		}
		calls, _, _ := strings.Cut(stats, ",")
		n, _ := strconv.Atoi(calls)
		total += n
	}
	return total
}

// syncBuffer collects a process's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
