package chaos

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// killer SIGKILLs the controller and starts it again after a short random pause, one kill at a time. While paused
// (the outage: a controller cannot become ready without CloudStack) kills wait.
type killer struct {
	env *environment.Environment
	log *slog.Logger

	mu       sync.Mutex
	paused   bool
	resumed  *sync.Cond
	kills    []Kill
	restarts int
}

// Kill is one SIGKILL of the controller.
type Kill struct {
	At   time.Time
	Kind string
	Note string
	// Restart is how long the new controller took to become ready.
	Restart time.Duration
	Error   string
}

func (k *killer) pause() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.paused = true
}

func (k *killer) resume() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.paused = false
	if k.resumed != nil {
		k.resumed.Broadcast()
	}
}

// kill kills the controller and restarts it; failures to restart are retried, then recorded.
func (k *killer) kill(ctx context.Context, kind, note string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.resumed == nil {
		k.resumed = sync.NewCond(&k.mu)
	}
	for k.paused {
		k.resumed.Wait()
	}
	kl := Kill{At: time.Now(), Kind: kind, Note: note}
	if err := k.env.KillController(); err != nil {
		kl.Error = err.Error()
		k.kills = append(k.kills, kl)
		k.log.Error("killing the controller", "error", err)
		return
	}
	k.log.Info("killed the controller", "kind", kind, "note", note)
	// A rescheduled pod starts within seconds.
	time.Sleep(time.Duration(500+rand.IntN(2500)) * time.Millisecond)
	began := time.Now()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = k.env.EnsureController(ctx); err == nil {
			break
		}
		k.log.Error("restarting the controller", "attempt", attempt+1, "error", err)
	}
	if err != nil {
		kl.Error = "restart: " + err.Error()
	} else {
		k.restarts++
		kl.Restart = time.Since(began).Round(100 * time.Millisecond)
	}
	k.kills = append(k.kills, kl)
}

func (k *killer) history() ([]Kill, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Kill{}, k.kills...), k.restarts
}
