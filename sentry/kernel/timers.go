package kernel

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Timers: the Timer that interval timers (setitimer(2), alarm(2)), POSIX timers
// (timer_create(2)) and timerfd share, and the process's timers.
//
// A Timer counts on a Clock, in nanoseconds. On a wall clock (REALTIME, MONOTONIC,
// BOOTTIME, TAI) a Go timer fires it. On a CPU-time clock nothing can: CPU time grows only
// while the application runs, and a busy loop never traps. Such a timer, while armed, is
// in the cpuTimerSet of the process whose time it counts, which checks its timers when a
// task of that process comes back from application code (at most once per
// cpuCheckPeriod; one atomic load when no CPU timer is armed) and from a ticker goroutine
// that runs while the set is not empty, as Linux checks them at each scheduler tick.
//
// A Timer tells its owner of expirations (how many since the last time) under its own
// lock, so that the owner sees them in order and never after the timer was set again.
//
// Lock order: groupTimers.mu, then Timer.mu, then Kernel.mu and ThreadGroup.mu (a POSIX
// timer queues its signal, a CPU clock reads its process) or the lock of a timerfd;
// cpuTimerSet.mu is taken under Timer.mu and nothing is taken under it.

// Clock is a time source for a Timer.
type Clock interface {
	// Now is the clock's reading in nanoseconds.
	Now() int64
}

// wallClock is one of the host's clocks.
type wallClock int32

// Now implements Clock.
func (c wallClock) Now() int64 {
	switch c {
	case unix.CLOCK_MONOTONIC:
		return nanotime()
	case unix.CLOCK_REALTIME:
		return time.Now().UnixNano()
	}
	var ts unix.Timespec
	unix.ClockGettime(int32(c), &ts)
	return ts.Nano()
}

// WallClock returns the clock id for timers (timerfd_create, timer_create): REALTIME,
// MONOTONIC, BOOTTIME, TAI, and the alarm clocks as their ordinary ones (the sandbox
// never suspends). It returns false for any other clock.
func WallClock(id int32) (Clock, bool) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_ALARM:
		return wallClock(unix.CLOCK_REALTIME), true
	case unix.CLOCK_MONOTONIC:
		return wallClock(unix.CLOCK_MONOTONIC), true
	case unix.CLOCK_BOOTTIME, unix.CLOCK_BOOTTIME_ALARM:
		return wallClock(unix.CLOCK_BOOTTIME), true
	case unix.CLOCK_TAI:
		return wallClock(unix.CLOCK_TAI), true
	}
	return nil, false
}

// What a CPU-time clock counts: the low bits of a CPU clock ID (clock_getcpuclockid(3)).
const (
	cpuProf  = 0 // user and system time
	cpuVirt  = 1 // user time
	cpuSched = 2 // all the time it ran: user and system time here
)

// cpuClock is the CPU time of a thread (task set) or of a process.
type cpuClock struct {
	tg    *ThreadGroup // the process whose cpuTimerSet checks timers on this clock
	task  *Task
	which int32
}

// Now implements Clock: the time counted so far, including the stretch in application
// code under way.
func (c *cpuClock) Now() int64 {
	now := nanotime()
	if c.task != nil {
		return c.sample(c.task, now)
	}
	tg := c.tg
	tg.mu.Lock()
	exited := tg.cpu.exited
	tasks := append([]*Task(nil), tg.tasks...)
	tg.mu.Unlock()
	total := int64(exited.User)
	if c.which != cpuVirt {
		total += int64(exited.Sys)
	}
	for _, t := range tasks {
		total += c.sample(t, now)
	}
	return total
}

func (c *cpuClock) sample(t *Task, now int64) int64 {
	user := t.cpu.liveUser(now)
	if c.which == cpuVirt {
		return user
	}
	return user + int64(t.cpu.usage().Sys)
}

// stale reports whether the clock stopped for good: its thread exited.
func (c *cpuClock) stale() bool {
	if c.task == nil {
		return false
	}
	c.task.cpu.mu.Lock()
	defer c.task.cpu.mu.Unlock()
	return c.task.cpu.done
}

// Timer is an interval timer: it expires at a time on its clock and then, if it has an
// interval, every interval after that.
type Timer struct {
	clock Clock
	// notify is told of n expirations, under mu; nil makes the timer passive (SIGEV_NONE):
	// nothing fires it, reading it counts its expirations.
	notify func(n uint64)
	// cpu is the set that checks the timer when its clock is a CPU-time clock.
	cpu *cpuTimerSet

	mu       sync.Mutex
	armed    bool
	next     int64 // the next expiration, on the clock; valid when armed
	interval int64
	// seq changes whenever the timer is set, so that a Go timer armed before is ignored.
	seq  uint64
	host *time.Timer
	// stopped: the timer was deleted and can never be armed again.
	stopped bool
}

// minRearm is the shortest wait between two firings of a periodic timer on a wall clock:
// a shorter interval costs no more than this in wake-ups, and the expirations in between
// are counted (as overruns, or timerfd ticks) all the same.
const minRearm = 100 * time.Microsecond

// NewTimer returns a disarmed timer on clock c that tells notify of its expirations
// (nil: a passive timer).
func NewTimer(c Clock, notify func(n uint64)) *Timer {
	tm := &Timer{clock: c, notify: notify}
	if cc, ok := c.(*cpuClock); ok {
		tm.cpu = &cc.tg.cpuTimers
	}
	return tm
}

// Set arms the timer to expire at value (a time on the clock if abs, else from now) and
// then every interval (0: once). A value of 0 disarms it; the interval is kept, as
// getitimer shows it for the CPU-time interval timers. It returns the time that was left
// (0 if disarmed) and the old interval. then, if not nil, runs under the timer's lock once
// the timer is set, before any expiration of the new setting is told.
func (tm *Timer) Set(value, interval int64, abs bool, then func()) (oldValue, oldInterval int64) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	now := tm.clock.Now()
	oldValue, oldInterval = tm.getLocked(now)
	tm.disarmLocked()
	tm.interval = interval
	if value != 0 && !tm.stopped {
		tm.armed = true
		if abs {
			tm.next = value
		} else {
			tm.next = satAdd(now, value)
		}
		tm.scheduleLocked(now, false)
	}
	if then != nil {
		then()
	}
	return oldValue, oldInterval
}

// Get returns the time left until the next expiration (0 if disarmed; at least 1 if
// armed) and the interval.
func (tm *Timer) Get() (value, interval int64) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.getLocked(tm.clock.Now())
}

func (tm *Timer) getLocked(now int64) (int64, int64) {
	if tm.notify == nil {
		tm.expireLocked(now) // passive: move on to the next expiration
	}
	if !tm.armed {
		return 0, tm.interval
	}
	return max(tm.next-now, 1), tm.interval
}

// Stop disarms the timer for good (timer_delete, close of a timerfd, exit). then, if not
// nil, runs under the timer's lock once it is stopped.
func (tm *Timer) Stop(then func()) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.disarmLocked()
	tm.stopped = true
	if then != nil {
		then()
	}
}

func (tm *Timer) disarmLocked() {
	tm.seq++
	tm.armed = false
	if tm.host != nil {
		tm.host.Stop()
		tm.host = nil
	}
	if tm.cpu != nil {
		tm.cpu.remove(tm)
	}
}

// scheduleLocked arranges for the armed timer to be fired at tm.next; rearm (a periodic
// timer that just fired) waits at least minRearm.
func (tm *Timer) scheduleLocked(now int64, rearm bool) {
	if tm.notify == nil {
		return
	}
	if tm.cpu != nil {
		tm.cpu.add(tm)
		return
	}
	d := time.Duration(tm.next - now)
	if rearm && d < minRearm {
		d = minRearm
	}
	seq := tm.seq
	tm.host = time.AfterFunc(d, func() { tm.hostFire(seq) })
}

// expireLocked counts the expirations up to now and moves on to the next one (or
// disarms a one-shot timer).
func (tm *Timer) expireLocked(now int64) uint64 {
	if !tm.armed || now < tm.next {
		return 0
	}
	if tm.interval <= 0 {
		tm.armed = false
		return 1
	}
	n := uint64((now-tm.next)/tm.interval) + 1
	tm.next = satAdd(tm.next, int64(min(n, math.MaxInt64/uint64(tm.interval)))*tm.interval)
	return n
}

// hostFire runs when the Go timer armed for setting seq fires.
func (tm *Timer) hostFire(seq uint64) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if seq != tm.seq || !tm.armed {
		return
	}
	now := tm.clock.Now()
	if now < tm.next {
		// A clock other than the Go timers' (REALTIME, BOOTTIME) is behind: wait more.
		tm.scheduleLocked(now, false)
		return
	}
	n := tm.expireLocked(now)
	if tm.armed {
		tm.scheduleLocked(now, true)
	} else {
		tm.host = nil
	}
	tm.notify(n)
}

// checkCPU fires a CPU-time timer that is due. It returns the CPU time left until the
// next expiration, and false when the set need no longer check the timer.
func (tm *Timer) checkCPU() (left int64, keep bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.armed {
		return 0, false
	}
	if cc := tm.clock.(*cpuClock); cc.stale() {
		tm.cpu.remove(tm)
		return 0, false
	}
	now := tm.clock.Now()
	if n := tm.expireLocked(now); n > 0 {
		if !tm.armed {
			tm.cpu.remove(tm)
		}
		tm.notify(n)
	}
	if !tm.armed {
		return 0, false
	}
	return tm.next - now, true
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// cpuTimerSet is a process's armed timers on CPU-time clocks (its own, or its threads').
type cpuTimerSet struct {
	// armed is set while the set is not empty: the trap path reads only it.
	armed atomic.Bool
	// lastCheck is when the set was last checked (nanotime).
	lastCheck atomic.Int64

	mu      sync.Mutex
	timers  map[*Timer]struct{}
	ticking bool
}

// How often CPU timers are checked: on return from application code at most every
// cpuCheckPeriod, and by the ticker between cpuTickMin and cpuTickMax apart (sooner when
// a timer is due sooner), about as often as Linux's scheduler tick.
const (
	cpuCheckPeriod = int64(time.Millisecond)
	cpuTickMin     = time.Millisecond
	cpuTickMax     = 4 * time.Millisecond
)

func (s *cpuTimerSet) add(tm *Timer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timers == nil {
		s.timers = make(map[*Timer]struct{})
	}
	s.timers[tm] = struct{}{}
	s.armed.Store(true)
	if !s.ticking {
		s.ticking = true
		go s.tick()
	}
}

func (s *cpuTimerSet) remove(tm *Timer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.timers, tm)
	if len(s.timers) == 0 {
		s.armed.Store(false)
	}
}

// clear forgets every timer (the process exited: its CPU time no longer grows).
func (s *cpuTimerSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.timers)
	s.armed.Store(false)
}

// afterSwitch is called by a task of the process when it comes back from application
// code, with the time (nanotime).
func (s *cpuTimerSet) afterSwitch(now int64) {
	if !s.armed.Load() {
		return
	}
	last := s.lastCheck.Load()
	if now-last < cpuCheckPeriod || !s.lastCheck.CompareAndSwap(last, now) {
		return
	}
	s.check()
}

// check fires the due timers; it returns the least CPU time left until one expires.
func (s *cpuTimerSet) check() int64 {
	s.mu.Lock()
	list := make([]*Timer, 0, len(s.timers))
	for tm := range s.timers {
		list = append(list, tm)
	}
	s.mu.Unlock()
	least := int64(math.MaxInt64)
	for _, tm := range list {
		if left, ok := tm.checkCPU(); ok {
			least = min(least, left)
		}
	}
	return least
}

// tick is the ticker goroutine: it checks the timers until the set is empty.
func (s *cpuTimerSet) tick() {
	d := cpuTickMin
	for {
		time.Sleep(d)
		s.mu.Lock()
		if len(s.timers) == 0 {
			s.ticking = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.lastCheck.Store(nanotime())
		d = min(max(time.Duration(s.check()), cpuTickMin), cpuTickMax)
	}
}

// Interval timers (setitimer(2)).
const (
	ITimerReal    = 0
	ITimerVirtual = 1
	ITimerProf    = 2
)

// groupTimers are a process's timers. A forked child starts with none; execve keeps the
// interval timers and deletes the POSIX timers.
type groupTimers struct {
	mu      sync.Mutex
	itimers [3]*Timer
	posix   map[int32]*PosixTimer
	nextID  int32
}

// itimer returns interval timer which (0..2), creating it on first use.
func (tg *ThreadGroup) itimer(which int) *Timer {
	tg.timers.mu.Lock()
	defer tg.timers.mu.Unlock()
	if tm := tg.timers.itimers[which]; tm != nil {
		return tm
	}
	var c Clock
	var sig unix.Signal
	switch which {
	case ITimerReal:
		c, sig = wallClock(unix.CLOCK_MONOTONIC), unix.SIGALRM
	case ITimerVirtual:
		c, sig = &cpuClock{tg: tg, which: cpuVirt}, unix.SIGVTALRM
	default:
		c, sig = &cpuClock{tg: tg, which: cpuProf}, unix.SIGPROF
	}
	tm := NewTimer(c, func(uint64) {
		// Expirations while the signal is pending are lost, as on Linux.
		tg.SendSignal(&SignalInfo{Signo: int32(sig), Code: SI_KERNEL})
	})
	tg.timers.itimers[which] = tm
	return tm
}

// ITimer returns interval timer which's time left and interval, in nanoseconds (getitimer).
func (tg *ThreadGroup) ITimer(which int) (value, interval int64, err error) {
	if which < ITimerReal || which > ITimerProf {
		return 0, 0, unix.EINVAL
	}
	value, interval = tg.itimer(which).Get()
	return value, interval, nil
}

// SetITimer sets interval timer which to expire after value and then every interval
// (setitimer, alarm); it returns the old setting. A zero value disarms the timer; the real
// timer then forgets its interval, the CPU-time ones keep it, as on Linux.
func (tg *ThreadGroup) SetITimer(which int, value, interval int64) (oldValue, oldInterval int64, err error) {
	if which < ITimerReal || which > ITimerProf {
		return 0, 0, unix.EINVAL
	}
	if which == ITimerReal && value == 0 {
		interval = 0
	}
	oldValue, oldInterval = tg.itimer(which).Set(value, interval, false, nil)
	return oldValue, oldInterval, nil
}

// sigevent notification kinds (sigev_notify).
const (
	SIGEV_SIGNAL    = 0
	SIGEV_NONE      = 1
	SIGEV_THREAD    = 2 // the C library's; to the kernel it is SIGEV_SIGNAL
	SIGEV_THREAD_ID = 4
)

// SigEvent is a struct sigevent.
type SigEvent struct {
	Value  uint64
	Signo  int32
	Notify int32
	TID    int32
}

// PosixTimer is a timer of timer_create(2).
type PosixTimer struct {
	id     int32
	tg     *ThreadGroup
	target *Task // SIGEV_THREAD_ID
	signo  int32
	value  uint64
	timer  *Timer
	// overrunLast is timer_getoverrun's answer: the overrun of the last signal the timer
	// delivered. Protected by tg.mu.
	overrunLast int32
}

// TimerClock returns the clock that timer_create's clockid names: EINVAL for an unknown
// clock or CPU clock of no task, EOPNOTSUPP for a clock without timers.
func (t *Task) TimerClock(id int32) (Clock, error) {
	if id < 0 {
		// A CPU clock by ID (clock_getcpuclockid(3), pthread_getcpuclockid(3)).
		which, perThread, pid := id&3, id&4 != 0, ^(id >> 3)
		if which == 3 {
			return nil, unix.EINVAL
		}
		if perThread {
			o := t
			if pid != 0 {
				o = t.k.TaskByTID(pid)
				if o == nil || o.tg != t.tg {
					return nil, unix.EINVAL
				}
			}
			return &cpuClock{tg: o.tg, task: o, which: which}, nil
		}
		tg := t.tg
		if pid != 0 {
			if tg = t.k.ThreadGroupByPID(pid); tg == nil {
				return nil, unix.EINVAL
			}
		}
		return &cpuClock{tg: tg, which: which}, nil
	}
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
		c, _ := WallClock(id)
		return c, nil
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		return &cpuClock{tg: t.tg, which: cpuSched}, nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return &cpuClock{tg: t.tg, task: t, which: cpuSched}, nil
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		return nil, unix.EOPNOTSUPP
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		// Alarm timers need a real-time clock device, which the sandbox has not.
		return nil, unix.EOPNOTSUPP
	}
	return nil, unix.EINVAL
}

// CreatePosixTimer creates a POSIX timer on clock c (timer_create). A nil sev means
// SIGEV_SIGNAL with SIGALRM and the timer's ID as the value.
func (t *Task) CreatePosixTimer(c Clock, sev *SigEvent) (int32, error) {
	tg := t.tg
	pt := &PosixTimer{tg: tg, signo: int32(unix.SIGALRM)}
	notify := true
	if sev != nil {
		switch sev.Notify {
		case SIGEV_SIGNAL | SIGEV_THREAD_ID:
			pt.target = t.k.TaskByTID(sev.TID)
			if pt.target == nil || pt.target.tg != tg {
				return 0, unix.EINVAL
			}
			fallthrough
		case SIGEV_SIGNAL, SIGEV_THREAD:
			if !ValidSignal(int(sev.Signo)) {
				return 0, unix.EINVAL
			}
		case SIGEV_NONE:
			notify = false
		default:
			return 0, unix.EINVAL
		}
		pt.signo, pt.value = sev.Signo, sev.Value
	}
	var fn func(uint64)
	if notify {
		fn = pt.expired
	}
	pt.timer = NewTimer(c, fn)

	limit := tg.Rlimit(unix.RLIMIT_SIGPENDING).Cur
	tg.timers.mu.Lock()
	defer tg.timers.mu.Unlock()
	if tg.timers.posix == nil {
		tg.timers.posix = make(map[int32]*PosixTimer)
	}
	if uint64(len(tg.timers.posix)) >= limit || len(tg.timers.posix) == math.MaxInt32 {
		return 0, unix.EAGAIN
	}
	// IDs count up from 0 and are not reused until they wrap, as Linux's.
	for {
		id := tg.timers.nextID
		tg.timers.nextID = (tg.timers.nextID + 1) & math.MaxInt32
		if _, used := tg.timers.posix[id]; !used {
			pt.id = id
			break
		}
	}
	if sev == nil {
		pt.value = uint64(pt.id)
	}
	tg.timers.posix[pt.id] = pt
	return pt.id, nil
}

func (tg *ThreadGroup) posixTimer(id int32) (*PosixTimer, error) {
	tg.timers.mu.Lock()
	defer tg.timers.mu.Unlock()
	pt, ok := tg.timers.posix[id]
	if !ok {
		return nil, unix.EINVAL
	}
	return pt, nil
}

// SetPosixTimer arms timer id (timer_settime): it expires at value (absolute on the
// timer's clock if abs) and then every interval; a zero value disarms it. A signal the
// timer queued and that is still pending is dropped, as in Linux since 6.13. It returns
// the old setting.
func (tg *ThreadGroup) SetPosixTimer(id int32, value, interval int64, abs bool) (oldValue, oldInterval int64, err error) {
	pt, err := tg.posixTimer(id)
	if err != nil {
		return 0, 0, err
	}
	if value == 0 {
		interval = 0
	}
	oldValue, oldInterval = pt.timer.Set(value, interval, abs, pt.resetSignal)
	return oldValue, oldInterval, nil
}

// GetPosixTimer returns timer id's time left and interval (timer_gettime).
func (tg *ThreadGroup) GetPosixTimer(id int32) (value, interval int64, err error) {
	pt, err := tg.posixTimer(id)
	if err != nil {
		return 0, 0, err
	}
	value, interval = pt.timer.Get()
	return value, interval, nil
}

// PosixTimerOverrun returns the overrun count of the last signal timer id delivered
// (timer_getoverrun).
func (tg *ThreadGroup) PosixTimerOverrun(id int32) (int32, error) {
	pt, err := tg.posixTimer(id)
	if err != nil {
		return 0, err
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return pt.overrunLast, nil
}

// DeletePosixTimer deletes timer id (timer_delete), and its pending signal.
func (tg *ThreadGroup) DeletePosixTimer(id int32) error {
	tg.timers.mu.Lock()
	pt, ok := tg.timers.posix[id]
	delete(tg.timers.posix, id)
	tg.timers.mu.Unlock()
	if !ok {
		return unix.EINVAL
	}
	pt.timer.Stop(pt.resetSignal)
	return nil
}

// expired is the timer's notify: it queues the timer's signal, or, while one is still
// queued, counts the expirations as its overrun. Called under the Timer's lock.
func (pt *PosixTimer) expired(n uint64) {
	tg := pt.tg
	tg.mu.Lock()
	if q := pt.queuedLocked(); q != nil {
		q.Overrun = addOverrun(q.Overrun, n)
		tg.mu.Unlock()
		return
	}
	tg.mu.Unlock()
	info := &SignalInfo{Signo: pt.signo, Code: SI_TIMER, TimerID: pt.id, Overrun: addOverrun(0, n-1), Value: pt.value, timer: pt}
	if pt.target == nil {
		tg.SendSignal(info)
	} else if tg.k.TaskByTID(pt.target.tid) == pt.target {
		pt.target.SendSignal(info)
	}
}

// addOverrun adds n to an overrun count, which stops at DELAYTIMER_MAX (INT_MAX).
func addOverrun(o int32, n uint64) int32 {
	if n >= uint64(math.MaxInt32-o) {
		return math.MaxInt32
	}
	return o + int32(n)
}

// queuedLocked returns the timer's queued signal, or nil; tg.mu held.
func (pt *PosixTimer) queuedLocked() *SignalInfo {
	q := pt.tg.queue
	if pt.target != nil {
		q = pt.target.queue
	}
	for i := range q {
		if q[i].timer == pt {
			return &q[i]
		}
	}
	return nil
}

// dequeuedLocked records the overrun of the timer's signal as it is taken; tg.mu held.
func (pt *PosixTimer) dequeuedLocked(info *SignalInfo) {
	pt.overrunLast = info.Overrun
}

// resetSignal drops the timer's pending signal and overrun count (the timer was set
// again or deleted). Called under the Timer's lock.
func (pt *PosixTimer) resetSignal() {
	tg := pt.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt.overrunLast = 0
	if pt.target != nil {
		pt.target.pending = dropTimerSignal(pt.target.pending, &pt.target.queue, pt)
	} else {
		tg.pending = dropTimerSignal(tg.pending, &tg.queue, pt)
	}
}

// dropTimerSignal removes pt's signal from queue and returns the pending set that remains.
func dropTimerSignal(pending SignalSet, queue *[]SignalInfo, pt *PosixTimer) SignalSet {
	q := *queue
	for i := range q {
		if q[i].timer != pt {
			continue
		}
		sig := q[i].Signo
		*queue = append(q[:i:i], q[i+1:]...)
		for _, o := range *queue {
			if o.Signo == sig {
				return pending
			}
		}
		return pending &^ SigBit(int(sig))
	}
	return pending
}

// execTimers deletes the POSIX timers at execve; the interval timers stay.
func (tg *ThreadGroup) execTimers() {
	tg.timers.mu.Lock()
	timers := tg.timers.posix
	tg.timers.posix = nil
	tg.timers.mu.Unlock()
	for _, pt := range timers {
		pt.timer.Stop(pt.resetSignal)
	}
}

// exitTimers stops the process's timers once its last task exited.
func (tg *ThreadGroup) exitTimers() {
	if tg.NumTasks() != 0 {
		return
	}
	tg.timers.mu.Lock()
	itimers := tg.timers.itimers
	posix := tg.timers.posix
	tg.timers.posix = nil
	tg.timers.mu.Unlock()
	for _, tm := range itimers {
		if tm != nil {
			tm.Stop(nil)
		}
	}
	for _, pt := range posix {
		pt.timer.Stop(nil)
	}
	tg.cpuTimers.clear()
}
