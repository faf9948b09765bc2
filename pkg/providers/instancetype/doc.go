// Package instancetype turns CloudStack service offerings into Karpenter instance types.
//
// A fixed offering becomes one instance type named after the offering. A customized offering (cpu and memory chosen
// at deploy time, optionally constrained by min/max bounds) becomes a ladder of synthesized sizes, see ladder.go.
// Every instance type carries capacity, overhead, well-known and provider requirements, and one on-demand offering
// per zone the NodeClass resolved, priced from configuration or a formula and marked unavailable while the
// unavailable-offerings cache holds a recent capacity failure for it.
//
// The offering catalog is read with one listServiceOfferings and one listTags call and cached; computed instance
// types are cached per NodeClass, so a warm List makes no API request.
package instancetype
