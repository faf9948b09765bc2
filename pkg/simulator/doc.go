// Package simulator is an in-process simulation of an Apache CloudStack management server's HTTP API.
//
// Tests, the demo and the benchmarks talk to it with the real SDK (github.com/apache/cloudstack-go/v2) over
// loopback HTTP, so it is strict wherever the real server is strict: requests must carry a valid HMAC-SHA1
// signature and an unexpired `expires`, responses use the `<command>response` envelope with the JSON types the
// SDK's structs expect, asynchronous commands return `{id, jobid}` and complete through queryAsyncJobResult, and
// errors carry the real HTTP codes and texts. The simulated cloud (zones, networks, templates, offerings,
// accounts, capacity) comes from a declarative YAML catalog; see test/catalog/catalog.yaml for the format.
//
// Knobs (latency, fault injection, throttling, capacity) and accounting (requests per command) are exposed as
// methods for in-process tests and through AdminHandler for the standalone binary in cmd/simulator.
package simulator
