package simulator

import (
	"encoding/json"
	"time"
)

// Job states as queryAsyncJobResult reports them.
const (
	jobPending   = 0
	jobSucceeded = 1
	jobFailed    = 2
)

type job struct {
	id           string
	owner        *account
	cmd          string
	instanceType string
	instanceID   string
	created      time.Time
	completed    time.Time
	status       int
	resultCode   int
	result       json.RawMessage
}

// newJob registers a pending job; callers hold s.mu.
func (s *Server) newJob(r *request, cmd, instanceType, instanceID string) *job {
	j := &job{id: s.st.newID("job"), owner: r.acct, cmd: cmd, instanceType: instanceType, instanceID: instanceID, created: r.now}
	s.st.jobs[j.id] = j
	return j
}

func (s *Server) succeedJob(j *job, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		s.failJob(j, 530, "serializing job result: "+err.Error())
		return
	}
	j.status, j.resultCode, j.result, j.completed = jobSucceeded, 0, b, time.Now()
}

// failJob records a failure the way ApiAsyncJobDispatcher does: jobresult holds only errorcode and errortext.
func (s *Server) failJob(j *job, code int, text string) {
	b, _ := json.Marshal(struct {
		ErrorCode int    `json:"errorcode"`
		ErrorText string `json:"errortext"`
	}{code, text})
	j.status, j.resultCode, j.result, j.completed = jobFailed, code, b, time.Now()
}

// after runs fn under s.mu once d has passed. A non-positive d runs fn at once, in the caller's critical
// section, so that zero job latency completes jobs within the request that started them. Callers hold s.mu; a Reset
// in between cancels fn.
func (s *Server) after(d time.Duration, fn func()) {
	if d <= 0 {
		fn()
		return
	}
	gen := s.gen
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed && s.gen == gen {
			fn()
		}
	})
}

func (s *Server) jobLatency() time.Duration { return time.Duration(s.faults.jobLatency.Load()) }

func cmdQueryAsyncJobResult(s *Server, r *request) (any, *apiError) {
	id := r.get("jobid")
	if id == "" {
		return nil, errMissing(r, "jobid")
	}
	j := s.st.jobs[id]
	if j == nil || !ownJob(r, j.owner) {
		return nil, errInvalidID(r, "jobid", id)
	}
	out := jobJSON{AccountID: j.owner.ID, UserID: j.owner.userID, Cmd: j.cmd, Created: csTime(j.created), JobID: j.id,
		JobInstanceID: j.instanceID, JobInstanceType: j.instanceType, JobStatus: j.status}
	if j.status != jobPending {
		out.Completed = csTime(j.completed)
		out.JobResult = j.result
		out.JobResultCode = j.resultCode
		out.JobResultType = "object"
	}
	return out, nil
}
