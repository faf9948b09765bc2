package environment

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child process whose output goes to <logDir>/<name>.log.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// logOffset is where this run's output starts in the log, which restarts append to.
	logOffset int64
	done      chan struct{}
	err       error
}

func startProcess(logDir, name string, env []string, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s, %w", name, err)
	}
	var offset int64
	if info, err := logFile.Stat(); err == nil {
		offset = info.Size()
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: a test binary or demo killed without a chance to clean up must not leave servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s), %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logOffset: offset, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, with its exit error.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and, after the grace period, SIGKILL; it returns once the process is gone.
func (p *process) stop(grace time.Duration) {
	if ok, _ := p.exited(); ok {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *process) kill() {
	if ok, _ := p.exited(); ok {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitHealthy polls url until it answers 200, the process exits, or the timeout passes.
func (p *process) waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	// Components serve their health endpoints on loopback with self-signed certificates.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if ok, err := p.exited(); ok {
			return fmt.Errorf("%s exited before it was healthy (%v); see %s", p.name, err, p.logPath)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not healthy after %s (%v); see %s", p.name, timeout, last, p.logPath)
}

// maxPortAttempts bounds how often a server is started again on other ports after losing one.
const maxPortAttempts = 5

// startOnFreePorts starts a server on n fresh loopback ports and waits until it is healthy. freePort can only
// promise a port that was free a moment ago: another process (go test runs packages in parallel) may bind it before
// the child does. The child then exits saying "address already in use", and it is started again on other ports.
// start returns the process and its health URL for the ports it was given.
func startOnFreePorts(ctx context.Context, n int, timeout time.Duration, start func(ports []int) (*process, string, error)) (*process, error) {
	for attempt := 1; ; attempt++ {
		ports := make([]int, n)
		for i := range ports {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			ports[i] = port
		}
		p, healthURL, err := start(ports)
		if err != nil {
			return nil, err
		}
		err = p.waitHealthy(ctx, healthURL, timeout)
		if err == nil {
			// Another process that took the port may answer the health check too (a kube-apiserver of a parallel
			// package serves /healthz): healthy counts only when the child itself listens on it.
			if owned, ownErr := p.listensOn(healthURL); ownErr != nil || owned {
				return p, ownErr
			}
			err = fmt.Errorf("another process answers %s; %s does not listen on it", healthURL, p.name)
		}
		lost := p.lostPort() || strings.HasPrefix(err.Error(), "another process answers")
		p.kill()
		if !lost || attempt == maxPortAttempts {
			return nil, err
		}
	}
}

// lostPort reports whether the process exited because a port was taken: the message Go's and etcd's listeners
// print.
func (p *process) lostPort() bool {
	if ok, _ := p.exited(); !ok {
		return false
	}
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return false
	}
	return strings.Contains(string(data[min(p.logOffset, int64(len(data))):]), "address already in use")
}

// listensOn reports whether the child holds the listening socket of rawURL's port, from /proc: the socket inodes
// listening on that port (/proc/net/tcp{,6}) against the child's open file descriptors.
func (p *process) listensOn(rawURL string) (bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false, fmt.Errorf("parsing health URL %q, %w", rawURL, err)
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		return false, fmt.Errorf("health URL %q has no port, %w", rawURL, err)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			local := f[1]
			if p, err := strconv.ParseUint(local[strings.LastIndex(local, ":")+1:], 16, 16); err == nil && p == port {
				inodes[f[9]] = true
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		return false, fmt.Errorf("reading the open files of %s, %w", p.name, err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.cmd.Process.Pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true, nil
		}
	}
	return false, nil
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port, %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot is the directory holding the module's go.mod, found from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from inside the repository")
		}
		dir = parent
	}
}
