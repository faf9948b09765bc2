package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

const (
	// followTimeout bounds waiting for one deploy or destroy, as the job poller's own timeout does.
	followTimeout = cloudstack.DefaultJobTimeout
	// jobCheckInterval is how often a job whose VM looks unfinished (Starting for long, or Running after a destroy
	// was accepted) is asked for directly, so that a job that ended without the expected state is not waited on
	// until followTimeout.
	jobCheckInterval = 30 * time.Second
)

// destroyRunningPolls is how many polls may see a destroyed VM still Running before its job is asked for: stopping
// takes a moment, while a refused destroy (expunge not allowed) leaves the VM Running for good.
const destroyRunningPolls = 3

// jobKind is what a followed job is to achieve.
type jobKind int

const (
	deployJob jobKind = iota
	destroyJob
	// tagJob is a createTags job, followed for each VM of its batch: it ended for the VM once the VM lists its tags.
	tagJob
)

// tagJobGrace is how long listings may show a started VM without the tags of its createTags job before the job is
// asked for (at least the longest poll interval). The job takes well under a second on a real server (a launch's
// deploy takes far longer, so its listings show the tags long before the VM runs) and is all-or-nothing: tags still
// missing after that mostly mean it failed. While the VM starts nobody needs its tags yet (the launch waits for the
// deploy first), so that time does not count. A count of polls instead of a time asked for jobs that a loaded
// machine had merely not finished yet: polls come sooner when other jobs join.
const tagJobGrace = time.Second

// follower waits for many deploy, destroy and tag jobs with one listVirtualMachines ids=... per poll instead of one
// queryAsyncJobResult per job: a job's end shows in its VM (Running after a deploy; gone, Destroyed or Expunging
// after a destroy; carrying the tags after a createTags). Only a job whose VM shows a failure (Error, missing after a deploy, still Running after
// a destroy) is asked for directly, which yields the error to classify (533 insufficient capacity, 531 expunge
// refused, ...). Polls start at the client's first job poll interval and back off to its maximum, starting over
// whenever a new job joins.
type follower struct {
	api cloudstack.API
	vms *vmCache

	mu       sync.Mutex
	inflight map[string]*followed // by followed.key
	running  bool
	joined   bool // a job joined since the last poll
	wake     chan struct{}
}

type followed struct {
	vmID, jobID string
	kind        jobKind
	tags        map[string]string // a tagJob's tags
	polls       int
	untagged    time.Time // when a tagJob's listing first showed the VM started without the tags
	jobPolls    int
	lastJobPoll time.Time
	done        chan followResult
}

// key tells followed jobs apart: a tag job is followed once for each VM of its batch.
func (j *followed) key() string { return j.jobID + "/" + j.vmID }

type followResult struct {
	vm  *csgo.VirtualMachine // the VM when the job succeeded (nil after a destroy that removed it)
	err error
}

func newFollower(api cloudstack.API, vms *vmCache) *follower {
	return &follower{api: api, vms: vms, inflight: map[string]*followed{}, wake: make(chan struct{}, 1)}
}

// wait blocks until the job ends, ctx ends or followTimeout passes. A failed job returns its error.
func (f *follower) wait(ctx context.Context, kind jobKind, vmID, jobID string) (*csgo.VirtualMachine, error) {
	return f.follow(ctx, &followed{vmID: vmID, jobID: jobID, kind: kind})
}

// waitTags blocks until the VM lists the tags its createTags job creates, or the job failed.
func (f *follower) waitTags(ctx context.Context, vmID, jobID string, tags map[string]string) error {
	_, err := f.follow(ctx, &followed{vmID: vmID, jobID: jobID, kind: tagJob, tags: tags})
	return err
}

func (f *follower) follow(ctx context.Context, j *followed) (*csgo.VirtualMachine, error) {
	vmID, jobID := j.vmID, j.jobID
	if jobID == "" {
		return nil, fmt.Errorf("waiting for the job of VM %s: the API returned no job ID", vmID)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, followTimeout, fmt.Errorf("async job %s did not finish within %s", jobID, followTimeout))
	defer cancel()
	j.lastJobPoll, j.done = time.Now(), make(chan followResult, 1)
	f.mu.Lock()
	f.inflight[j.key()] = j
	f.joined = true
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		go f.loop(log.IntoContext(context.Background(), log.FromContext(ctx)))
	} else {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	select {
	case r := <-j.done:
		return r.vm, r.err
	case <-ctx.Done():
		f.mu.Lock()
		delete(f.inflight, j.key())
		f.mu.Unlock()
		return nil, fmt.Errorf("waiting for async job %s of VM %s: %w", jobID, vmID, context.Cause(ctx))
	}
}

// destroyPollFactor stretches the first poll interval while only destroys are in flight. Nothing waits on a
// destroy's confirmation but core's next Delete, while a scale-down starts destroys one after another for seconds:
// at the deploy's first interval every join brought the next poll forward, and waiting cost 0.8 listings per
// deleted node (make scale, 100 pods). A deploy in flight brings the deploy's interval back.
const destroyPollFactor = 4

// firstInterval is the first poll interval of the jobs in flight: first while a deploy or a launch's tagging is among
// them, else destroyPollFactor times it. The caller holds f.mu.
func (f *follower) firstInterval(first time.Duration) time.Duration {
	for _, j := range f.inflight {
		if j.kind != destroyJob {
			return first
		}
	}
	return max(first, min(destroyPollFactor*first, longestPoll(f.api)))
}

func longestPoll(api cloudstack.API) time.Duration {
	_, longest := api.JobPollIntervals()
	return longest
}

// joinPollFactor spaces the polls while new jobs keep joining: at least this many first poll intervals apart (1 s
// at the defaults). A burst of 250 deploys joins over 10 s at 20 requests per second; polled a first interval after
// each join, its launches cost 0.17 listings each (make scale, 500 pods), against 0.04 a second apart.
const joinPollFactor = 4

func (f *follower) loop(ctx context.Context) {
	// Every poll settles jobs CloudStack has accepted, and launches wait for it: it must not queue behind a burst of
	// new deploys for the client's rate limit.
	ctx = cloudstack.Urgent(ctx)
	first, longest := f.api.JobPollIntervals()
	f.mu.Lock()
	interval := f.firstInterval(first)
	f.mu.Unlock()
	deadline := time.Now().Add(interval)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var lastPoll time.Time
	for {
		select {
		case <-timer.C:
		case <-f.wake:
			// A new job is polled no later than the first interval from now, or joinPollFactor first intervals
			// after the last poll if that is later; a poll due sooner stays as it is, so that a steady stream of
			// new jobs cannot postpone polls.
			f.mu.Lock()
			soon := f.firstInterval(first)
			f.mu.Unlock()
			next := time.Now().Add(soon)
			if spaced := lastPoll.Add(joinPollFactor * first); spaced.After(next) {
				next = spaced
			}
			if deadline.After(next) {
				deadline = next
				timer.Reset(time.Until(next))
			}
			continue
		}
		f.mu.Lock()
		if len(f.inflight) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		jobs := make([]*followed, 0, len(f.inflight))
		for _, j := range f.inflight {
			jobs = append(jobs, j)
		}
		joined := f.joined
		if joined {
			interval = f.firstInterval(first)
		}
		f.joined = false
		f.mu.Unlock()
		ended := f.poll(ctx, jobs)
		lastPoll = time.Now()
		interval = min(2*interval, longest)
		if ended > 0 {
			// Jobs started together end together: once some have ended, the others are likely close behind. With
			// 250 deploy jobs of 20 s, polls 5 s apart returned the launches in clumps up to 5 s late.
			interval = min(interval, joinPollFactor*first)
		}
		wait := interval
		if joined {
			// Jobs are still joining: more will, and the next poll serves them too.
			wait = max(wait, joinPollFactor*first)
		}
		deadline = time.Now().Add(wait)
		timer.Reset(wait)
	}
}

// poll lists the VMs of every job in flight and settles the jobs whose VM shows their end; it returns how many ended.
func (f *follower) poll(ctx context.Context, jobs []*followed) (ended int) {
	finish := func(j *followed, r followResult) {
		f.finish(j, r)
		ended++
	}
	ids := make([]string, 0, len(jobs))
	seen := map[string]bool{}
	for _, j := range jobs {
		if !seen[j.vmID] {
			seen[j.vmID] = true
			ids = append(ids, j.vmID)
		}
	}
	vms := map[string]*csgo.VirtualMachine{}
	listed := true
	for start := 0; start < len(ids); start += lookupBatchMax {
		batch, err := f.api.ListVMsByID(ctx, ids[start:min(start+lookupBatchMax, len(ids))])
		if err != nil {
			// Throttled or unreachable (the client already retried), or an ID CloudStack no longer resolves: ask the
			// jobs themselves this time.
			log.FromContext(ctx).V(1).Info("listing VMs of jobs in flight failed; polling their jobs", "error", err.Error())
			listed = false
			break
		}
		for _, vm := range batch {
			vms[vm.Id] = vm
			f.vms.put(vm)
		}
	}
	now := time.Now()
	_, longest := f.api.JobPollIntervals()
	// The VMs of one tag batch share its job: it is asked for once per poll.
	type answer struct {
		done   bool
		result json.RawMessage
		err    error
	}
	asked := map[string]answer{}
	for _, j := range jobs {
		j.polls++
		vm := vms[j.vmID]
		if listed {
			if settled, ok := j.settledBy(vm); ok {
				f.api.JobSucceeded(j.jobID)
				finish(j, followResult{vm: settled})
				continue
			}
			if !j.needsJob(vm, now, longest) {
				continue
			}
		}
		j.lastJobPoll = now
		j.jobPolls++
		a, ok := asked[j.jobID]
		if !ok {
			a.done, a.result, a.err = f.api.PollJob(ctx, j.jobID)
			asked[j.jobID] = a
		}
		done, result, err := a.done, a.result, a.err
		switch {
		case !done && err != nil:
			log.FromContext(ctx).V(1).Info("polling job failed; retrying", "job-id", j.jobID, "vm-id", j.vmID, "error", err.Error())
		case !done:
		case err != nil:
			finish(j, followResult{err: err})
		case j.kind == tagJob:
			finish(j, followResult{vm: vm})
		default:
			if v := vmFromJobResult(result); v != nil {
				vm = v
				f.vms.put(vm)
			}
			if vm == nil && j.kind == deployJob {
				finish(j, followResult{err: fmt.Errorf("deploy job %s of VM %s succeeded, but the VM is not listed", j.jobID, j.vmID)})
				continue
			}
			finish(j, followResult{vm: vm})
		}
	}
	return ended
}

// settledBy reports whether the VM's state proves the job succeeded.
func (j *followed) settledBy(vm *csgo.VirtualMachine) (*csgo.VirtualMachine, bool) {
	switch j.kind {
	case deployJob:
		return vm, vm != nil && strings.EqualFold(vm.State, StateRunning)
	case tagJob:
		if vm == nil {
			return nil, false
		}
		listed := cloudstack.TagMap(vm.Tags)
		for k, v := range j.tags {
			if listed[k] != v {
				return vm, false
			}
		}
		return vm, true
	default:
		return vm, vm == nil || isDestroyed(vm.State)
	}
}

// needsJob reports whether the job must be asked for: its VM shows a failure, or looks unfinished for long.
func (j *followed) needsJob(vm *csgo.VirtualMachine, now time.Time, longest time.Duration) bool {
	switch {
	case j.kind == tagJob:
		// Missing or gone, the VM cannot be tagged: the job says why. Listed started without its tags for
		// tagJobGrace, the job is asked for, then once per longest interval while it runs.
		if vm == nil || isGone(vm.State) {
			return true
		}
		if strings.EqualFold(vm.State, StateStarting) {
			return now.Sub(j.lastJobPoll) >= jobCheckInterval
		}
		if j.untagged.IsZero() {
			j.untagged = now
		}
		return now.Sub(j.untagged) >= max(longest, tagJobGrace) && (j.jobPolls == 0 || now.Sub(j.lastJobPoll) >= longest)
	case vm == nil, j.kind == deployJob && !strings.EqualFold(vm.State, StateStarting) && !strings.EqualFold(vm.State, StateStopped):
		// Missing after a deploy, in Error, or in a state a deploy does not pass through.
		return true
	case j.kind == destroyJob && strings.EqualFold(vm.State, StateRunning) && j.polls > destroyRunningPolls:
		// A destroy stops the VM first; still Running after a few polls, the job may have been refused. Asked once
		// per longest poll interval: a slow stop is not worth a query on every poll.
		return now.Sub(j.lastJobPoll) >= longest
	}
	return now.Sub(j.lastJobPoll) >= jobCheckInterval
}

func (f *follower) finish(j *followed, r followResult) {
	f.mu.Lock()
	delete(f.inflight, j.key())
	f.mu.Unlock()
	j.done <- r
}

// vmFromJobResult reads the VM from a deploy or destroy job's result, which CloudStack fills with the VM.
func vmFromJobResult(result json.RawMessage) *csgo.VirtualMachine {
	var r struct {
		VirtualMachine *csgo.VirtualMachine `json:"virtualmachine"`
	}
	if err := json.Unmarshal(result, &r); err == nil && r.VirtualMachine != nil && r.VirtualMachine.Id != "" {
		return r.VirtualMachine
	}
	return nil
}
