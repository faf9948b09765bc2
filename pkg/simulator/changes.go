package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// VMChanges is what changed among the VMs since a revision: the answer of GET /vms/changes. A watcher (the test
// node agent) keeps its own view of the VMs with it instead of re-reading every VM, userData included, on each pass.
type VMChanges struct {
	// Epoch names this server process: a watcher that saw another epoch (the simulator restarted) starts over.
	Epoch string `json:"epoch"`
	// Revision is the revision the answer brings the watcher to; pass it as since next time.
	Revision uint64 `json:"revision"`
	// Full is true when VMs is every VM that has not been expunged (since was 0, or of another epoch): the watcher
	// replaces its view rather than updating it.
	Full bool `json:"full"`
	// VMs are the VMs created or changed after since, as they are now.
	VMs []VM `json:"vms"`
	// Removed are the IDs of the VMs expunged after since.
	Removed []string `json:"removed"`
}

// vmChangeLog records at which revision each VM last changed, and the expunged VMs with theirs. Every change of a
// VM goes through touch: its state (setState), its creation, its tags, a reboot, its removal.
type vmChangeLog struct {
	epoch   string
	rev     uint64
	removed []removal
	// wake is closed (and replaced) by every change, for watchers waiting on a revision.
	wake chan struct{}
}

type removal struct {
	id  string
	rev uint64
}

func newVMChangeLog() vmChangeLog {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	// Revisions start at 1: since=0 asks for everything, so an empty cloud's answer must not be revision 0.
	return vmChangeLog{epoch: hex.EncodeToString(b), rev: 1, wake: make(chan struct{})}
}

func (l *vmChangeLog) bump() uint64 {
	l.rev++
	close(l.wake)
	l.wake = make(chan struct{})
	return l.rev
}

// touch records that v changed. The caller holds the server's lock.
func (st *cloud) touch(v *vm) {
	if st != nil {
		v.rev = st.changes.bump()
	}
}

// touchIDs records a change of the VMs among ids (a tag request names resources of any type).
func (st *cloud) touchIDs(ids []string) {
	for _, id := range ids {
		if v, ok := st.vmByID[id]; ok {
			st.touch(v)
		}
	}
}

// VirtualMachineChanges answers what changed since revision since of epoch (every VM when since is 0 or the epoch
// is not this server's). When nothing changed it waits up to wait for a change, so that a watcher learns of one
// at once without polling.
func (s *Server) VirtualMachineChanges(ctx context.Context, epoch string, since uint64, wait time.Duration) VMChanges {
	s.mu.Lock()
	st := s.st
	if epoch == st.changes.epoch && since != 0 && st.changes.rev <= since && wait > 0 {
		wake := st.changes.wake
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	out := VMChanges{Epoch: st.changes.epoch, Revision: st.changes.rev, VMs: []VM{}, Removed: []string{}}
	if epoch != st.changes.epoch || since == 0 || since > st.changes.rev {
		out.Full = true
		since = 0
	}
	for _, v := range st.vms {
		if v.rev > since || out.Full {
			out.VMs = append(out.VMs, st.snapshot(v))
		}
	}
	if !out.Full {
		for i := len(st.changes.removed) - 1; i >= 0 && st.changes.removed[i].rev > since; i-- {
			out.Removed = append(out.Removed, st.changes.removed[i].id)
		}
	}
	return out
}
