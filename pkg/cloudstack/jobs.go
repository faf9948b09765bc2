package cloudstack

import (
	"context"
	"encoding/json"
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

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
			return nil, fmt.Errorf("waiting for async job %s: %w", jobID, context.Cause(ctx))
		}
		r, err := read(ctx, c, "queryAsyncJobResult", func() (*csgo.QueryAsyncJobResultResponse, error) {
			p := &csgo.QueryAsyncJobResultParams{}
			p.SetJobID(jobID)
			return c.sdk.Load().Asyncjob.QueryAsyncJobResult(p)
		})
		if err != nil {
			return nil, fmt.Errorf("polling async job %s: %w", jobID, err)
		}
		switch r.Jobstatus {
		case jobSucceeded:
			return r.Jobresult, nil
		case jobFailed:
			return nil, fmt.Errorf("async job %s failed: %w", jobID, cserrors.FromJobResult(r.Jobresulttype, r.Jobresult))
		case jobPending:
		default:
			return nil, fmt.Errorf("async job %s has unknown status %d", jobID, r.Jobstatus)
		}
		interval = min(2*interval, c.opts.JobPollMaxInterval)
	}
}
