package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// StartRedis runs redis-server on 127.0.0.1 with a free port and no
// persistence, waits until it answers PING and stops it when the test ends.
// It returns the server's address, "127.0.0.1:PORT".
func StartRedis(t testing.TB) string {
	t.Helper()
	bin := lookTool(t, "redis-server", "apt-get install -y redis-server")
	// redis-server cannot pick a free port itself (--port 0 turns TCP off),
	// so another process may take the one found here first: try again then.
	var err error
	for range 3 {
		var addr string
		if addr, err = startRedis(t, bin); err == nil {
			return addr
		}
	}
	t.Fatalf("testenv: %v", err)
	return ""
}

// startRedis makes one attempt at StartRedis.
func startRedis(t testing.TB, bin string) (string, error) {
	addr, err := freePort()
	if err != nil {
		return "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout = out
	cmd.Stderr = out
	proc, err := startProcess(cmd)
	if err != nil {
		return "", fmt.Errorf("start redis-server: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	if err := proc.waitFor(ctx, func(ctx context.Context) error { return ping(ctx, addr) }); err != nil {
		proc.stop()
		return "", fmt.Errorf("redis-server on %s did not answer PING: %w\n%s", addr, err, out.String())
	}
	t.Cleanup(func() {
		proc.stop()
		if t.Failed() {
			t.Logf("redis-server output:\n%s", out.String())
		}
	})
	return addr, nil
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ping speaks just enough RESP to see that Redis is ready, so that this
// package does not choose a client library for its users.
func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %s", strconv.Quote(line))
	}
	return nil
}
