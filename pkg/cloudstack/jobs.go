package cloudstack

import (
	"context"
	"encoding/json"
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// asyncCommands are the async commands the client sends; their result is their job's.
var asyncCommands = map[string]bool{"deployVirtualMachine": true, "destroyVirtualMachine": true, "rebootVirtualMachine": true,
	"createTags": true, "deleteTags": true}

// startedJob remembers which command started a job, so that the job's result is counted under that command.
func (c *Client) startedJob(command, jobID string) {
	if jobID != "" {
		c.jobs.Store(jobID, command)
	}
}

// jobEnded counts a job's result under the command that started it (jobs started elsewhere are not counted).
func (c *Client) jobEnded(jobID string, err error, canceled bool) {
	if command, ok := c.jobs.LoadAndDelete(jobID); ok {
		c.metrics.results.WithLabelValues(command.(string), resultCode(err, canceled)).Inc()
	}
}

// Job states of queryAsyncJobResult.
const (
	jobPending   = 0
	jobSucceeded = 1
	jobFailed    = 2
)

// WaitForJob implements API. The first poll comes after JobPollInterval, because a capacity failure is decided
// within the first second on a real server and Karpenter should learn it that fast; later polls back off by 2x up to
// JobPollMaxInterval so that a slow template copy does not flood the management server.
func (c *Client) WaitForJob(ctx context.Context, jobID string) (json.RawMessage, error) {
	if jobID == "" {
		return nil, fmt.Errorf("waiting for an async job: the API returned no job ID")
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.JobTimeout, fmt.Errorf("async job %s did not finish within %s", jobID, c.opts.JobTimeout))
	defer cancel()
	interval := c.opts.JobPollInterval
	for {
		if err := sleep(ctx, interval); err != nil {
			c.jobEnded(jobID, nil, true)
			return nil, fmt.Errorf("waiting for async job %s, %w", jobID, context.Cause(ctx))
		}
		r, err := read(ctx, c, "queryAsyncJobResult", func() (*csgo.QueryAsyncJobResultResponse, error) {
			p := &csgo.QueryAsyncJobResultParams{}
			p.SetJobID(jobID)
			return c.sdk.Load().Asyncjob.QueryAsyncJobResult(p)
		})
		if err != nil {
			c.jobEnded(jobID, err, false)
			return nil, fmt.Errorf("polling async job %s, %w", jobID, err)
		}
		switch r.Jobstatus {
		case jobSucceeded:
			c.jobEnded(jobID, nil, false)
			return r.Jobresult, nil
		case jobFailed:
			jobErr := cserrors.FromJobResult(r.Jobresulttype, r.Jobresult)
			c.jobEnded(jobID, jobErr, false)
			return nil, fmt.Errorf("async job %s failed, %w", jobID, jobErr)
		case jobPending:
		default:
			return nil, fmt.Errorf("async job %s has unknown status %d", jobID, r.Jobstatus)
		}
		interval = min(2*interval, c.opts.JobPollMaxInterval)
	}
}
