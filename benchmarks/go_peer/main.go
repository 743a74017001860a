// Command gopeer is the Go peer of pyhcs's benchmarks: the HCS callback path as a Go program built the way hcsshim
// is built (see hcs.go), run against the fake HCS (tests/fakes) and driven by benchmarks/run.py.
//
// It reads one command per line on stdin and answers one JSON object per line on stdout, so run.py can interleave
// its samples with the Python and C variants of the same run while this process sits idle in between:
//
//	hello                      -> {"go": version, "gomaxprocs": n, "pid": pid}
//	sync N                     -> {"ns": t}   N x system.PropertiesSync() (hcsshim v2 runOperation)
//	async N K goroutines|loop  -> {"ns": t}   N x Properties() through the completion callback, K in flight:
//	                                           goroutines: a goroutine per call, K at a time (idiomatic Go)
//	                                           loop: one goroutine starts K, then waits for each in turn
//	system_events N            -> {"ns": t}   N systems; time from the exit trigger to the last waitBackground done
//	quit                       -> {"counters": {...}, "idle": bool}   after closing everything (leak check)
//
// Times are nanoseconds of the measured section only (setup and teardown are never timed); a failure answers
// {"error": "..."}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const containerDoc = `{"SchemaVersion":{"Major":2,"Minor":1},"Container":{}}`

type peer struct {
	system *System // the running system of the sync and async benchmarks, created on first use
	nextID int
}

func (p *peer) newID(prefix string) string {
	p.nextID++
	return fmt.Sprintf("gopeer-%s-%d-%d", prefix, os.Getpid(), p.nextID)
}

func (p *peer) running() (*System, error) {
	if p.system == nil {
		s, err := CreateSystem(p.newID("props"), containerDoc, nil)
		if err != nil {
			return nil, err
		}
		p.system = s
	}
	return p.system, nil
}

func (p *peer) sync(n int) (int64, error) {
	s, err := p.running()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := s.PropertiesSync(); err != nil {
			return 0, err
		}
	}
	return time.Since(t0).Nanoseconds(), nil
}

func (p *peer) async(n, k int, mode string) (int64, error) {
	s, err := p.running()
	if err != nil {
		return 0, err
	}
	var first atomic.Value
	fail := func(err error) { first.CompareAndSwap(nil, err) }
	t0 := time.Now()
	for left := n; left > 0; {
		m := k
		if left < m {
			m = left
		}
		switch mode {
		case "goroutines":
			var wg sync.WaitGroup
			wg.Add(m)
			for i := 0; i < m; i++ {
				go func() {
					defer wg.Done()
					if _, err := s.Properties(); err != nil {
						fail(err)
					}
				}()
			}
			wg.Wait()
		case "loop":
			batch := make([]pending, 0, m)
			for i := 0; i < m; i++ {
				op, err := s.StartProperties()
				if err != nil {
					fail(err)
					break
				}
				batch = append(batch, op)
			}
			for _, op := range batch {
				if _, err := s.FinishProperties(op); err != nil {
					fail(err)
				}
			}
		default:
			return 0, fmt.Errorf("unknown async mode %q", mode)
		}
		if err, _ := first.Load().(error); err != nil {
			return 0, err
		}
		left -= m
	}
	return time.Since(t0).Nanoseconds(), nil
}

func (p *peer) systemEvents(n int) (int64, error) {
	var seen atomic.Int64
	var tLast time.Time
	done := make(chan struct{})
	onExit := func() { // runs at the end of each system's waitBackground
		if seen.Add(1) == int64(n) {
			tLast = time.Now()
			close(done)
		}
	}
	systems := make([]*System, 0, n)
	ids := make([]string, 0, n)
	defer func() {
		for _, s := range systems {
			s.Close()
		}
	}()
	for i := 0; i < n; i++ {
		s, err := CreateSystem(p.newID("sysev"), containerDoc, onExit)
		if err != nil {
			return 0, err
		}
		systems = append(systems, s)
		ids = append(ids, s.id)
	}
	t0 := time.Now()
	found, err := triggerExits(ids)
	if err != nil {
		return 0, err
	}
	if found != n {
		return 0, fmt.Errorf("FakeHcsSimulateUnexpectedExit found %d of %d systems", found, n)
	}
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		return 0, fmt.Errorf("only %d of %d SystemExited events after 120 s", seen.Load(), n)
	}
	for _, s := range systems {
		if s.exitErr != nil || s.exit.ExitType != "UnexpectedExit" {
			return 0, fmt.Errorf("system %s: exit %+v, error %v", s.id, s.exit, s.exitErr)
		}
	}
	return tLast.Sub(t0).Nanoseconds(), nil
}

func (p *peer) quit() map[string]any {
	var terminateErr error
	if p.system != nil {
		terminateErr = p.system.Terminate()
		p.system.Close()
		p.system = nil
	}
	idle := waitIdle(5000)
	out := map[string]any{"counters": counters(), "idle": idle}
	if terminateErr != nil {
		out["terminate_error"] = terminateErr.Error()
	}
	return out
}

func atoi(fields []string, i int) (int, error) {
	if i >= len(fields) {
		return 0, fmt.Errorf("missing argument %d", i)
	}
	v, err := strconv.Atoi(fields[i])
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad count %q", fields[i])
	}
	return v, nil
}

func (p *peer) handle(line string) (map[string]any, bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return map[string]any{"error": "empty command"}, false
	}
	timed := func(ns int64, err error) map[string]any {
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		return map[string]any{"ns": ns}
	}
	switch fields[0] {
	case "hello":
		return map[string]any{"go": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0), "pid": os.Getpid()}, false
	case "sync":
		n, err := atoi(fields, 1)
		if err != nil {
			return timed(0, err), false
		}
		return timed(p.sync(n)), false
	case "async":
		n, err := atoi(fields, 1)
		if err != nil {
			return timed(0, err), false
		}
		k, err := atoi(fields, 2)
		if err != nil {
			return timed(0, err), false
		}
		mode := "goroutines"
		if len(fields) > 3 {
			mode = fields[3]
		}
		return timed(p.async(n, k, mode)), false
	case "system_events":
		n, err := atoi(fields, 1)
		if err != nil {
			return timed(0, err), false
		}
		return timed(p.systemEvents(n)), false
	case "quit":
		return p.quit(), true
	}
	return map[string]any{"error": fmt.Sprintf("unknown command %q", fields[0])}, false
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	p := &peer{}
	noMinimumDurations()
	for in.Scan() {
		reply, last := p.handle(in.Text())
		if err := out.Encode(reply); err != nil {
			os.Exit(1)
		}
		if last {
			return
		}
	}
	p.quit() // stdin closed without quit: still close every handle
}
