// Package flood holds TCP connections open against an address from a child
// process, for tests of how the chain survives a connection flood: the
// flood's own sockets and the descriptors the chain spends on them would
// not fit in one process's open-file limit.
//
// The test binary is the child: its TestMain calls Child first, which runs
// the flood instead of the tests when the binary was started by Start.
// Start is Linux only (the child dies with its parent through Pdeathsig,
// and the tests that use it count descriptors in /proc).
package flood
