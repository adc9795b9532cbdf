package proc

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// clockTicks is USER_HZ, the unit of the times in /proc/stat and /proc/PID/stat.
const clockTicks = 100

// numCPU is the number of CPUs the sandbox reports (as sched_getaffinity does).
func numCPU() int { return runtime.NumCPU() }

// sortedPIDs returns the PIDs of the kernel's processes in increasing order.
func sortedPIDs(k *kernel.Kernel) []int32 {
	var pids []int32
	for _, tg := range k.ThreadGroups() {
		pids = append(pids, tg.PID())
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	return pids
}

var (
	cpuinfoOnce sync.Once
	cpuinfoData []byte
)

// cpuinfo is the host's description of the CPUs the sandbox runs on (their model and
// features are what CPUID shows the application anyway), limited to numCPU entries;
// a minimal one is synthesized if the host's cannot be read.
func cpuinfo(ctx vfs.Context) ([]byte, error) {
	cpuinfoOnce.Do(func() {
		b, err := os.ReadFile("/proc/cpuinfo")
		n := numCPU()
		if err == nil && len(b) > 0 {
			blocks := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n\n"))
			if len(blocks) > n {
				blocks = blocks[:n]
			}
			cpuinfoData = append(bytes.Join(blocks, []byte("\n\n")), "\n\n"...)
			return
		}
		var sb strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "processor\t: %d\nvendor_id\t: unknown\nmodel name\t: unknown\ncpu cores\t: %d\n\n", i, n)
		}
		cpuinfoData = []byte(sb.String())
	})
	return cpuinfoData, nil
}

// meminfo reports the host's memory as the sandbox's (the sandbox has no limit of its
// own yet).
func meminfo(ctx vfs.Context) ([]byte, error) {
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	kb := func(v uint64) uint64 { return v * uint64(si.Unit) / 1024 }
	total, free, buffers, shared := kb(si.Totalram), kb(si.Freeram), kb(si.Bufferram), kb(si.Sharedram)
	var b bytes.Buffer
	for _, f := range []struct {
		name string
		v    uint64
	}{
		{"MemTotal", total}, {"MemFree", free}, {"MemAvailable", free + buffers},
		{"Buffers", buffers}, {"Cached", 0}, {"SwapCached", 0},
		{"Active", total - free}, {"Inactive", 0}, {"Active(anon)", total - free}, {"Inactive(anon)", 0},
		{"Active(file)", 0}, {"Inactive(file)", 0}, {"Unevictable", 0}, {"Mlocked", 0},
		{"SwapTotal", kb(si.Totalswap)}, {"SwapFree", kb(si.Freeswap)}, {"Dirty", 0}, {"Writeback", 0},
		{"AnonPages", total - free}, {"Mapped", 0}, {"Shmem", shared}, {"KReclaimable", 0},
		{"Slab", 0}, {"SReclaimable", 0}, {"SUnreclaim", 0}, {"KernelStack", 0}, {"PageTables", 0},
		{"CommitLimit", total / 2}, {"Committed_AS", total - free}, {"VmallocTotal", 34359738367},
		{"VmallocUsed", 0}, {"VmallocChunk", 0}, {"HugePages_Total", 0}, {"HugePages_Free", 0},
		{"HugePages_Rsvd", 0}, {"HugePages_Surp", 0}, {"Hugepagesize", 2048},
	} {
		if strings.HasPrefix(f.name, "HugePages_") {
			fmt.Fprintf(&b, "%-16s%8d\n", f.name+":", f.v)
		} else {
			fmt.Fprintf(&b, "%-16s%8d kB\n", f.name+":", f.v)
		}
	}
	return b.Bytes(), nil
}

func kernelOf(ctx vfs.Context) *kernel.Kernel {
	if t := taskOf(ctx); t != nil {
		return t.Kernel()
	}
	return nil
}

// uptimeOf returns the sandbox's uptime (since its kernel started).
func uptimeOf(ctx vfs.Context) time.Duration {
	if k := kernelOf(ctx); k != nil {
		return k.Uptime()
	}
	return 0
}

// statFile is /proc/stat: the CPUs have been idle all along as far as the sandbox
// accounts (the application's time is the host's to count).
func statFile(ctx vfs.Context) ([]byte, error) {
	up := uptimeOf(ctx)
	idle := uint64(up.Seconds() * clockTicks)
	var b bytes.Buffer
	n := numCPU()
	fmt.Fprintf(&b, "cpu  0 0 0 %d 0 0 0 0 0 0\n", idle*uint64(n))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "cpu%d 0 0 0 %d 0 0 0 0 0 0\n", i, idle)
	}
	var btime int64
	procs, running := 0, 0
	if k := kernelOf(ctx); k != nil {
		btime = k.BootTime().Unix()
		procs = int(k.LastPID())
		running = k.NumTasks()
	}
	fmt.Fprintf(&b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n", btime, procs, running)
	return b.Bytes(), nil
}

func uptime(ctx vfs.Context) ([]byte, error) {
	up := uptimeOf(ctx).Seconds()
	return []byte(fmt.Sprintf("%.2f %.2f\n", up, up*float64(numCPU()))), nil
}

func loadavg(ctx vfs.Context) ([]byte, error) {
	total, last := 0, int32(0)
	if k := kernelOf(ctx); k != nil {
		total, last = k.NumTasks(), k.LastPID()
	}
	return []byte(fmt.Sprintf("0.00 0.00 0.00 1/%d %d\n", total, last)), nil
}

func version(ctx vfs.Context) ([]byte, error) {
	return []byte("Linux version " + osRelease + " (runsc@runsc) (gcc) " + osVersion + "\n"), nil
}

// filesystems lists the filesystem types the sandbox can mount.
func filesystems(ctx vfs.Context) ([]byte, error) {
	return []byte("nodev\tsysfs\nnodev\ttmpfs\nnodev\tbind\nnodev\tproc\nnodev\tdevpts\nnodev\toverlay\nnodev\t9p\n"), nil
}

func kernelCmdline(ctx vfs.Context) ([]byte, error) {
	return []byte("BOOT_IMAGE=/vmlinuz-" + osRelease + " ro\n"), nil
}
