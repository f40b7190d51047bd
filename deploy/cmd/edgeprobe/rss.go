package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// memory is what /proc/<pid>/status says of a process, in KiB: VmRSS now
// and VmHWM, the peak resident set since it started.
type memory struct{ RSS, HWM int64 }

// ingestPID finds the ingest process: the dev stack's pid file first, else
// the one process named ingest (several, e.g. tests' own, is an error
// rather than a guess).
func ingestPID(pidFile string) (int, error) {
	if pidFile != "" {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return 0, fmt.Errorf("read the pid in %s: %w", pidFile, err)
			}
			return pid, nil
		}
	}
	out, err := exec.Command("pgrep", "-x", "ingest").Output()
	if err != nil {
		return 0, fmt.Errorf("find ingest with pgrep (no pid file %q): %w", pidFile, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 1 {
		return 0, fmt.Errorf("pgrep -x ingest found %d processes: give --pid-file", len(fields))
	}
	return strconv.Atoi(fields[0])
}

// readMemory reads the memory figures of pid.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("open the status of pid %d: %w", pid, err)
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

// parseStatus picks VmRSS and VmHWM ("VmRSS:	  126072 kB") out of a
// /proc/<pid>/status.
func parseStatus(sc *bufio.Scanner) (memory, error) {
	var m memory
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return memory{}, fmt.Errorf("read %s %q: want <n> kB", name, rest)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("read %s %q: %w", name, rest, err)
		}
		if name == "VmRSS" {
			m.RSS = n
		} else {
			m.HWM = n
		}
	}
	if err := sc.Err(); err != nil {
		return memory{}, fmt.Errorf("read the process status: %w", err)
	}
	if m.RSS == 0 {
		return memory{}, errors.New("no VmRSS in the process status")
	}
	return m, nil
}
