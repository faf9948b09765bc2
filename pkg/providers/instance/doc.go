// Package instance launches, finds, tags and destroys the CloudStack VMs behind NodeClaims.
//
// A VM is named after its NodeClaim, which makes Create idempotent without a lookup on the happy path: CloudStack
// rejects a second VM with the same hostname, and only then does Create look the existing VM up and adopt it.
// Ownership is recorded with resource tags right after deploy (deployVirtualMachine takes none) and, as a fallback
// that survives a failed tagging call, with the VM's instance group.
package instance
