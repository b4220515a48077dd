// Package supervise runs an outside client's command so that nothing it
// starts can outlive the harness.
//
// The harness starts the supervisor (the wschaos binary again, `wschaos
// supervise -- CMD...`) instead of the client; the supervisor starts the
// client in a process group of its own and waits. When it is told to stop
// (SIGTERM from the harness, or the parent-death signal the kernel sends when
// the harness dies, even by SIGKILL), it sends the group SIGTERM, then
// SIGKILL after a grace, and then ends every process still descended from
// it, naming each on standard error: a process that left the group (setsid,
// a daemon that double-forks) is found all the same, because on Linux the
// supervisor is a child subreaper, so orphans of its descendants become its
// own children instead of init's. When the client exits on its own the
// supervisor ends and names whatever it left behind the same way.
//
// What other systems get: on other Unix systems there is no subreaper and
// no parent-death signal, so the process group is ended on a stop, but a
// process that left the group, or everything after the harness is killed
// with SIGKILL, is out of reach; on Windows outside clients are not
// supported.
package supervise
