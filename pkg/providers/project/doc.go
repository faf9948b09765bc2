// Package project checks, from one cached listProjects call, that the CloudStack project the controller is configured
// with (--cloudstack-project) exists, is Active, and has the API key's account as a member.
package project
