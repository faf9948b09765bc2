package nodeagent

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// defaultGracePeriod is the API's default terminationGracePeriodSeconds.
const defaultGracePeriod = 30 * time.Second

// sleepCommand finds the duration of an exec preStop hook that sleeps, e.g. ["/bin/sh", "-c", "sleep 10"].
var sleepCommand = regexp.MustCompile(`(?:^|[\s;&|])sleep\s+(\d+)`)

// terminate models how a kubelet ends a pod that is being deleted: each container's preStop hook runs (hooks of
// the containers run in parallel), then the containers get SIGTERM and exit; what still runs when the grace period
// ends is killed. Only then is the deletion confirmed with grace period 0. The pause containers the tests run exit
// on SIGTERM at once, so a pod takes min(longest preStop, grace period).
func (a *Agent) terminate(ctx context.Context, pod *corev1.Pod) error {
	if a.now().Before(TerminationDone(pod)) {
		return nil
	}
	err := a.kube.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	if client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("finishing the deletion of pod %s/%s, %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// TerminationDone is when the kubelet would have finished terminating a pod that carries a deletionTimestamp. The
// API server sets deletionTimestamp to the time of the delete request plus the grace period.
func TerminationDone(pod *corev1.Pod) time.Time {
	grace := defaultGracePeriod
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	requested := pod.DeletionTimestamp.Add(-grace)
	return requested.Add(min(PreStopDuration(pod), grace))
}

// PreStopDuration is how long the pod's longest preStop hook runs: a sleep action, or an exec hook running
// `sleep N`. HTTP and TCP hooks return at once.
func PreStopDuration(pod *corev1.Pod) time.Duration {
	var longest time.Duration
	for _, c := range pod.Spec.Containers {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			continue
		}
		var d time.Duration
		switch h := c.Lifecycle.PreStop; {
		case h.Sleep != nil:
			d = time.Duration(h.Sleep.Seconds) * time.Second
		case h.Exec != nil:
			if m := sleepCommand.FindStringSubmatch(strings.Join(h.Exec.Command, " ")); m != nil {
				n, _ := strconv.Atoi(m[1])
				d = time.Duration(n) * time.Second
			}
		}
		longest = max(longest, d)
	}
	return longest
}
