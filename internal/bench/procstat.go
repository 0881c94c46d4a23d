package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procSample is a process's CPU time and resident memory, from /proc
// (Linux): how the load generator watches a server on the same machine.
type procSample struct {
	cpu    float64 // user + system seconds
	rssKiB int64
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

func sampleProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	// Fields after the command (which may hold spaces) closed by ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("server process %d: unreadable stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return procSample{}, fmt.Errorf("server process %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64) // field 14
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("server process %d: unreadable CPU times", pid)
	}
	s := procSample{cpu: float64(utime+stime) / clockTicks}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kib := bytes.Fields(rest)
			if len(kib) > 0 {
				s.rssKiB, _ = strconv.ParseInt(string(kib[0]), 10, 64)
			}
		}
	}
	return s, nil
}
