// Package gofer owns the gofer: the file server process that alone touches the
// host files of a container's root. Confine locks the process into that root
// (private mount namespace, bind mount, pivot_root, capabilities dropped, no
// new privileges); Serve answers the sentry's requests (package
// runsc.dev/gofer/proto) on a SOCK_SEQPACKET socket.
//
// Files are addressed by handles, each a table entry holding an
// O_PATH|O_NOFOLLOW fd. Every path is resolved one component at a time with
// openat(O_NOFOLLOW) from a handle's fd; names containing '/' or equal to "",
// "." or ".." are refused, so a request can never follow a symlink or climb
// out of the root. A non-directory handle also remembers its parent handle and
// name so that Open can reopen it with real flags (there is no /proc after
// Confine); the reopened file must have the same dev/ino, else ESTALE.
// Directories reopen themselves through ".". Renames and unlinks done through
// the gofer update the remembered names.
//
// Requests are served concurrently (a bounded number of goroutines), replies
// may leave out of order and are matched by tag.
//
// Lock order: node.dirMu before server.mu. server.mu guards the handle table,
// every node's reference count and its parent/name, and the name index; no
// system call that can block on the filesystem is made while holding it
// (closing an O_PATH fd is the only one).
package gofer
