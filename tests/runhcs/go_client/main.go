// A Go client of the runhcs command line shaped like hcsshim's pkg/go-runhcs (which containerd used): global
// flags in its order, the same argv per call, results collected as it collects them (state and ps parsed from
// stdout and stderr combined, list from stdout alone, create and exec with the caller's pipes), and
// encoding/json into a ContainerState whose "created" is a time.Time. It runs the same scenario as
// tests/runhcs/gorunhcs.py and writes what it saw as JSON; tests/runhcs/test_e2e_go_runhcs.py compares.
//
// The executable is found as go-runhcs finds runhcs.exe: exec.LookPath of the name (here "runhcs", the console
// script on PATH), made absolute. Settings come from the environment (GORUNHCS_*).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const safePipePrefix = `\\.\pipe\ProtectedPrefix\Administrators\`

// ContainerState is what runhcs prints for state and list (hcsshim internal/runhcs/container.go's fields).
type ContainerState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// Client holds go-runhcs's global settings.
type Client struct {
	Path      string
	Debug     bool
	Log       string
	LogFormat string
	Owner     string
	Root      string
	Calls     [][]string
}

func (c *Client) globals() []string {
	var out []string
	if c.Debug {
		out = append(out, "--debug")
	}
	if c.Log != "" {
		if strings.HasPrefix(c.Log, safePipePrefix) {
			out = append(out, "--log", c.Log)
		} else if abs, err := filepath.Abs(c.Log); err == nil {
			out = append(out, "--log", abs)
		}
	}
	if c.LogFormat != "" {
		out = append(out, "--log-format", c.LogFormat)
	}
	if c.Owner != "" {
		out = append(out, "--owner", c.Owner)
	}
	if c.Root != "" {
		out = append(out, "--root", c.Root)
	}
	return out
}

func (c *Client) cmd(args ...string) *exec.Cmd {
	full := append(c.globals(), args...)
	c.Calls = append(c.Calls, full)
	cmd := exec.Command(c.Path, full...)
	cmd.Env = os.Environ()
	return cmd
}

// output runs cmd with stdout (and stderr when combined) into one buffer; a non-zero exit is an error.
func output(cmd *exec.Cmd, combined bool) ([]byte, error) {
	var b bytes.Buffer
	cmd.Stdout = &b
	if combined {
		cmd.Stderr = &b
	}
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		err = fmt.Errorf("%s did not terminate successfully", cmd.Args[0])
	}
	return b.Bytes(), err
}

func runOrError(cmd *exec.Cmd) error {
	data, err := output(cmd, true)
	if err != nil {
		return fmt.Errorf("%s: %s", err, data)
	}
	return nil
}

func absOrPipe(path string) string {
	if strings.HasPrefix(path, safePipePrefix) {
		return path
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// PipeIO is go-runc's pipe IO as hcsshim's e2e test builds it: the child's stdout and stderr, read into buffers.
type PipeIO struct {
	or, ow, er, ew *os.File
	out, err       bytes.Buffer
	wg             sync.WaitGroup
}

func newPipeIO() *PipeIO {
	p := &PipeIO{}
	p.or, p.ow, _ = os.Pipe()
	p.er, p.ew, _ = os.Pipe()
	p.wg.Add(2)
	go func() { io.Copy(&p.out, p.or); p.wg.Done() }()
	go func() { io.Copy(&p.err, p.er); p.wg.Done() }()
	return p
}

// runWithIO starts cmd on the pipes and closes their write ends right after the start (runc.StartCloser).
func runWithIO(cmd *exec.Cmd, p *PipeIO) error {
	cmd.Stdout, cmd.Stderr = p.ow, p.ew
	if err := cmd.Start(); err != nil {
		return err
	}
	p.ow.Close()
	p.ew.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s did not terminate successfully", cmd.Args[0])
	}
	return nil
}

func (c *Client) Create(id, bundle, pidFile, shimLog string, p *PipeIO) error {
	args := []string{"create", "--bundle", bundle}
	if pidFile != "" {
		abs, _ := filepath.Abs(pidFile)
		args = append(args, "--pid-file", abs)
	}
	if shimLog != "" {
		args = append(args, "--shim-log", absOrPipe(shimLog))
	}
	return runWithIO(c.cmd(append(args, id)...), p)
}

func (c *Client) Exec(id, processFile string, detach bool, pidFile string, p *PipeIO) error {
	args := []string{"exec", "--process", processFile}
	if detach {
		args = append(args, "--detach")
	}
	if pidFile != "" {
		abs, _ := filepath.Abs(pidFile)
		args = append(args, "--pid-file", abs)
	}
	return runWithIO(c.cmd(append(args, id)...), p)
}

func (c *Client) Start(id string) error          { return runOrError(c.cmd("start", id)) }
func (c *Client) Kill(id, signal string) error   { return runOrError(c.cmd("kill", id, signal)) }
func (c *Client) Pause(id string) error          { return runOrError(c.cmd("pause", id)) }
func (c *Client) Resume(id string) error         { return runOrError(c.cmd("resume", id)) }
func (c *Client) ResizeTTY(id string, w, h uint16) error {
	return runOrError(c.cmd("resize-tty", id, strconv.FormatUint(uint64(w), 10), strconv.FormatUint(uint64(h), 10)))
}

func (c *Client) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	return runOrError(c.cmd(append(args, id)...))
}

func (c *Client) State(id string) (*ContainerState, error) {
	data, err := output(c.cmd("state", id), true)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", err, data)
	}
	var s ContainerState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("unmarshal state %q: %w", data, err)
	}
	return &s, nil
}

func (c *Client) List() ([]*ContainerState, error) {
	data, err := output(c.cmd("list", "--format=json"), false)
	if err != nil {
		return nil, err
	}
	var out []*ContainerState
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("unmarshal list %q: %w", data, err)
	}
	return out, nil
}

func (c *Client) Ps(id string) ([]int, error) {
	data, err := output(c.cmd("ps", "--format=json", id), true)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", err, data)
	}
	var pids []int
	if err := json.Unmarshal(data, &pids); err != nil {
		return nil, fmt.Errorf("unmarshal ps %q: %w", data, err)
	}
	return pids, nil
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(string(data))
}

// waitPid is os.FindProcess(pid).Wait(): the exit code of the process the pid file names.
func waitPid(pid int) (int, error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return -1, err
	}
	state, err := p.Wait()
	if err != nil {
		return -1, err
	}
	return state.Sys().(syscall.WaitStatus).ExitStatus(), nil
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func ids(states []*ContainerState) []string {
	out := []string{}
	for _, s := range states {
		out = append(out, s.ID)
	}
	return out
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goclient REPORT.json (settings in GORUNHCS_*)")
		os.Exit(2)
	}
	must(becomeSubreaper(), "becoming a subreaper")
	path, err := exec.LookPath("runhcs")
	must(err, "finding runhcs on PATH")
	path, _ = filepath.Abs(path)
	work := os.Getenv("GORUNHCS_WORK")
	c := &Client{Path: path, Debug: true, Log: os.Getenv("GORUNHCS_LOG"), LogFormat: "json",
		Owner: "containerd-runhcs-shim-v1", Root: os.Getenv("GORUNHCS_ROOT")}
	report := map[string]interface{}{}

	before, err := c.List()
	must(err, "list")
	report["list_before"] = ids(before)

	// hcsshim's e2e matrix test: create with IO, pid and shim log files; start; wait for the pid file's process.
	p := newPipeIO()
	must(c.Create("hello", os.Getenv("GORUNHCS_HELLO"), filepath.Join(work, "pid-file.txt"),
		filepath.Join(work, "shim-log.txt"), p), "create hello")
	pid, err := readPidFile(filepath.Join(work, "pid-file.txt"))
	must(err, "pid file")
	created, err := c.State("hello")
	must(err, "state hello")
	report["created"] = map[string]interface{}{"status": created.Status, "pid_is_pid_file": created.Pid == pid,
		"owner": created.Owner}
	report["created_time_is_recent"] = time.Since(created.Created) < 10*time.Minute && !created.Created.IsZero()
	must(c.Start("hello"), "start hello")
	report["hello_exit"], err = waitPid(pid)
	must(err, "wait hello")
	p.wg.Wait()
	report["hello_io_closed"] = true
	report["hello_stdout"] = p.out.String()
	report["hello_stderr"] = p.err.String()
	stopped, err := c.State("hello")
	must(err, "state hello stopped")
	report["hello_stopped"] = map[string]interface{}{"status": stopped.Status, "pid": stopped.Pid}
	must(c.Delete("hello", true), "delete hello")

	// Every other call, on a running container.
	p = newPipeIO()
	must(c.Create("busy", os.Getenv("GORUNHCS_SLEEPER"), filepath.Join(work, "busy.pid"), "", p), "create busy")
	busyPid, err := readPidFile(filepath.Join(work, "busy.pid"))
	must(err, "busy pid file")
	must(c.Start("busy"), "start busy")
	running, err := c.State("busy")
	must(err, "state busy")
	report["running"] = running.Status
	report["ps"], err = c.Ps("busy")
	must(err, "ps")
	listed, err := c.List()
	must(err, "list")
	rows := [][]interface{}{}
	for _, s := range listed {
		rows = append(rows, []interface{}{s.ID, s.Status, s.Pid == busyPid, s.Created.Location() == time.UTC})
	}
	report["list"] = rows
	ep := newPipeIO()
	must(c.Exec("busy", os.Getenv("GORUNHCS_EXEC"), false, "", ep), "exec")
	ep.wg.Wait()
	report["exec_stdout"] = ep.out.String()
	ep = newPipeIO()
	must(c.Exec("busy", os.Getenv("GORUNHCS_EXIT4"), true, filepath.Join(work, "exec.pid"), ep), "exec -d")
	execPid, err := readPidFile(filepath.Join(work, "exec.pid"))
	must(err, "exec pid file")
	report["exec_detached_exit"], err = waitPid(execPid)
	must(err, "wait exec")
	ep.wg.Wait()
	must(c.Pause("busy"), "pause")
	paused, err := c.State("busy")
	must(err, "state paused")
	report["paused"] = paused.Status
	must(c.Resume("busy"), "resume")
	report["resize_tty"] = errText(c.ResizeTTY("busy", 80, 25))
	report["kill_sigkill"] = errText(c.Kill("busy", "SIGKILL"))
	must(c.Kill("busy", ""), "kill")
	_, err = waitPid(busyPid)
	report["busy_exited"] = err == nil
	p.wg.Wait()
	stoppedBusy, err := c.State("busy")
	must(err, "state busy stopped")
	report["busy_stopped"] = stoppedBusy.Status
	report["kill_stopped"] = errText(c.Kill("busy", ""))
	must(c.Delete("busy", false), "delete busy")
	_, err = c.State("busy")
	report["state_deleted"] = errText(err)
	after, err := c.List()
	must(err, "list after")
	report["list_after"] = ids(after)
	report["argv"] = c.Calls

	data, _ := json.Marshal(report)
	must(os.WriteFile(os.Args[1], data, 0o644), "writing the report")
}
