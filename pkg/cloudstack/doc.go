// Package cloudstack is the only package that holds a CloudStack SDK client. It wraps the SDK's non-blocking client
// behind the API interface and adds what the SDK lacks: context-aware calls, a client-side rate limit, retries with
// backoff for read calls, paging, a context-aware async job poller, Prometheus metrics per command and result code,
// and one error classification (every returned error has been through cserrors.Parse).
//
// The SDK has no context.Context. Each SDK call runs in its own goroutine so that a cancelled context returns at
// once; the HTTP timeout bounds how long the abandoned request may linger.
package cloudstack
