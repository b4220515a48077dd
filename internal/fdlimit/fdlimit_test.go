package fdlimit

import (
	"os"
	"testing"
)

// Open counts the descriptors the process holds: opening some more adds
// exactly that many, and the count agrees with a listing of /proc/self/fd
// (what Open falls back to before Linux 6.2).
func TestOpenCounts(t *testing.T) {
	before, ok := Open()
	if !ok {
		t.Skip("no /proc/self/fd")
	}
	const more = 50
	for range more {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	after, _ := Open()
	// Nothing else in this test binary opens or closes descriptors now.
	if after-before != more {
		t.Errorf("Open: %d before, %d after opening %d", before, after, more)
	}
	if n, _ := listed(); n != after {
		t.Errorf("Open says %d, a listing of /proc/self/fd %d", after, n)
	}
}
