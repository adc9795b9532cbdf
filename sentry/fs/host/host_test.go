package host

import (
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

func TestPipe(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	r, err := NewFile(v, p[0])
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewFile(v, p[1])
	if err != nil {
		t.Fatal(err)
	}
	ctx := vfs.NewKernelContext()
	if n, err := w.Write(ctx, [][]byte{[]byte("ab"), []byte("cd")}); n != 4 || err != nil {
		t.Fatalf("write %d %v", n, err)
	}
	a, b := make([]byte, 1), make([]byte, 8)
	if n, err := r.Read(ctx, [][]byte{a, b}); n != 4 || err != nil || string(a)+string(b[:3]) != "abcd" {
		t.Fatalf("read %d %v", n, err)
	}
	if _, err := r.Seek(ctx, 0, unix.SEEK_SET); err != unix.ESPIPE {
		t.Errorf("seek pipe: %v", err)
	}
	if _, err := r.PRead(ctx, [][]byte{a}, 0); err != unix.ESPIPE {
		t.Errorf("pread pipe: %v", err)
	}
	if _, err := r.Ioctl(ctx, unix.TCGETS, 0); err != unix.ENOTTY {
		t.Errorf("TCGETS on pipe: %v", err)
	}
	st, err := r.Stat()
	if err != nil || st.Type() != unix.S_IFIFO {
		t.Errorf("stat: %v %o", err, st.Mode)
	}
	if r.StatusFlags()&unix.O_ACCMODE != unix.O_RDONLY || w.StatusFlags()&unix.O_ACCMODE != unix.O_WRONLY {
		t.Errorf("flags %o %o", r.StatusFlags(), w.StatusFlags())
	}
	r.DecRef()
	w.DecRef()
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("host fd not closed: %v", err)
	}
}

func TestManyIovecs(t *testing.T) {
	f, err := unix.Open(t.TempDir()+"/f", unix.O_RDWR|unix.O_CREAT, 0600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f)
	bufs := make([][]byte, 3000)
	for i := range bufs {
		bufs[i] = []byte{byte(i)}
	}
	if n, err := Writev(f, bufs, 0); n != 3000 || err != nil {
		t.Fatalf("writev %d %v", n, err)
	}
	out := make([][]byte, 3000)
	for i := range out {
		out[i] = make([]byte, 1)
	}
	if n, err := Readv(f, out, 0); n != 3000 || err != nil || out[2999][0] != byte(2999%256) {
		t.Fatalf("readv %d %v", n, err)
	}
}

func TestNonblock(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	r, _ := NewFile(v, p[0])
	w, _ := NewFile(v, p[1])
	defer r.DecRef()
	defer w.DecRef()
	ctx := vfs.NewKernelContext()
	r.SetStatusFlags(r.StatusFlags() | unix.O_NONBLOCK)
	if _, err := r.Read(ctx, [][]byte{make([]byte, 1)}); err != unix.EAGAIN {
		t.Errorf("empty nonblocking read: %v", err)
	}
	w.Write(ctx, [][]byte{[]byte("x")})
	if n, err := r.Read(ctx, [][]byte{make([]byte, 1)}); n != 1 || err != nil {
		t.Errorf("read: %d %v", n, err)
	}
}
