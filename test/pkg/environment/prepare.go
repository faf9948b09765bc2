package environment

import (
	"context"
	"time"
)

// Prepare does Start's one-time work ahead of it: it builds (or finds) the control-plane binaries and builds the
// controller and simulator. A caller that bounds Start with a deadline (the demo) calls it first, so that the first
// run on a fresh machine, which compiles for 10-20 minutes, does not eat the deadline. It returns opts with AssetsDir
// set. Progress, with the elapsed time and what to expect, goes to opts.Log.
func Prepare(ctx context.Context, opts Options) (Options, error) {
	root, err := repoRoot()
	if err != nil {
		return opts, err
	}
	e := &Environment{opts: withDefaults(opts, root), root: root}
	began := time.Now()
	assets, err := e.assetsDir(ctx)
	if err != nil {
		return opts, err
	}
	opts.AssetsDir = assets
	e.opts.Log.Info("control-plane binaries ready", "dir", assets, "took", time.Since(began).Round(time.Second).String())

	began = time.Now()
	stop := ticker(e, "building the controller and the simulator (go build; about 4 min the first time on 2 cores, seconds after)")
	err = e.buildBinaries(ctx)
	stop()
	if err != nil {
		return opts, err
	}
	e.opts.Log.Info("controller and simulator built", "took", time.Since(began).Round(time.Second).String())
	return opts, nil
}

// ticker logs what is being waited for every 30 s, with the elapsed time, until the returned function is called.
func ticker(e *Environment, what string) (stop func()) {
	began := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				e.opts.Log.Info("still "+what, "elapsed", time.Since(began).Round(time.Second).String())
			}
		}
	}()
	return func() { close(done) }
}
