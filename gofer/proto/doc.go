// Package proto owns the wire protocol between the sentry and the gofer: the
// message types, their little-endian binary encoding and decoding, the
// SOCK_SEQPACKET transport that carries one message per datagram with host file
// descriptors passed by SCM_RIGHTS, and the Client the sentry uses.
//
// # Message format
//
// Every datagram is one message: an 8-byte header followed by a body.
//
//	offset size field
//	0      4    tag    chosen by the client, copied into the reply
//	4      1    type   MsgType; replies carry the request type | ReplyBit
//	5      1    nfds   number of file descriptors attached (SCM_RIGHTS)
//	6      2    errno  0 in requests; a Linux errno in a failed reply
//
// Integers are little-endian. A name is a u8 length then that many bytes (so at
// most MaxNameLen); a symlink target is a u16 length then the bytes (at most
// MaxSymlinkLen); lists are a count (u16 or u32) then the elements. A Stat is 116
// bytes (see encodeStat). A failed reply has an empty body, except a Walk reply
// which carries the components walked before the error (if there are any). A message that is
// truncated, oversized (more than MaxMessageSize), has trailing bytes, an unknown
// type, or a field beyond its limit is rejected by Decode with an error; the
// decoder never panics and never allocates more than the message's own size
// suggests.
//
// # Concurrency
//
// Client is safe for concurrent use. Requests are multiplexed by tag over the
// one socket: each caller sends its request and waits for its reply, which a
// single reader goroutine routes by tag, so many requests are in flight at once
// and the gofer may answer them in any order.
//
// Lock order: Client.sendMu before Client.mu. Nothing else is locked while
// either is held, except that Client.mu is held while delivering to a buffered
// reply channel (which never blocks).
package proto
