// Package gofer owns the gofer: the file server process that alone touches the
// host files of a container's root. Confine locks the process into that root
// (private mount namespace, bind mount, pivot_root, capabilities dropped, no
// new privileges); Serve answers the sentry's requests (package
// runsc.dev/gofer/proto) on a SOCK_SEQPACKET socket.
//
// Files are addressed by handles, each a table entry (a node) with an
// O_PATH|O_NOFOLLOW fd. Every path is resolved one component at a time with
// openat(O_NOFOLLOW) from a node's fd; names containing '/' or equal to "",
// "." or ".." are refused, so a request can never follow a symlink or climb
// out of the root. Every node remembers its parent node and name, so that
// Open can reopen a non-directory with real flags (there is no /proc after
// Confine; directories reopen themselves through "."), and so that the node's
// O_PATH fd can be closed and reopened: node fds are a bounded LRU cache
// (fdcache.go), since the sentry keeps a handle for every file it looked up.
// A reopened file must be the same file (dev/ino, and the file handle where
// the filesystem has one), else ESTALE. Renames and unlinks done through the
// gofer update the remembered names; a node whose name was removed keeps its
// fd. Requests pin the fds they use, so that an fd is never closed (and its
// number reused) under a request.
//
// Requests are served concurrently (a bounded number of goroutines), replies
// may leave out of order and are matched by tag.
//
// Lock order: table.nameMu before table.mu, node.dirMu before table.mu
// (nameMu and dirMu are never held together). nameMu orders the requests
// that bind names to nodes (Walk, creations: shared) with those that change
// names (Rename, Unlink: exclusive), so that the name index follows the
// host's order of events. table.mu guards the handle table,
// every node's reference count, parent/name, fd, pins and LRU links, and the
// name index; no system call that can block on the filesystem is made while
// holding it (closing an O_PATH fd and name_to_handle_at on one are the only
// ones; the fd cache closes the fds it evicts after releasing it).
package gofer
