// Package vfs owns the sentry's virtual filesystem: the mount tree of a mount namespace,
// the dentry cache, path resolution (symlinks, "..", trailing slashes, permission checks
// on every searched directory, read-only mounts), file descriptions (reference counted,
// with a shared offset and status flags), file descriptor tables and a task's filesystem
// context (root, working directory, umask).
//
// Filesystems (sentry/fs/...) plug in through the Inode and FileImpl interfaces: the VFS
// walks paths itself, asks a directory's Inode to Lookup the names it has not cached
// (several names at once, so that a remote filesystem can batch its walk), and calls the
// Inode to create, remove and rename entries, keeping its cache in step.
//
// Errors are Linux errnos (unix.Errno). Nothing here panics on application input.
//
// Lock order (outermost first):
//
//	VirtualFilesystem.renameMu (writer: rename; readers: path-to-root computations)
//	  Dentry.mu of a directory (ancestor before descendant; two unrelated
//	  directories, only under renameMu held for writing, in address order)
//	    VirtualFilesystem.mountMu
//	FileDescription.offMu, then anything a FileImpl takes
//	FDTable.mu and FSContext.mu are leaves (file references are dropped after unlocking).
//	WaitQueue.mu is held while its waiters' callbacks run (waiter.go); a file's release
//	hooks run with no VFS lock held.
package vfs
